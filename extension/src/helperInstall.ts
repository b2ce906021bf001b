// "XP: Install xp Helper": pip-installs the helper wheel that ships inside the .vsix
// (extension/dist/wheels/, built by scripts/build-helper-wheel.sh) into the interpreter XP uses,
// shows pip's output in an output channel as it runs, then starts the helper again.
import { spawn } from "node:child_process";
import * as vscode from "vscode";
import type { Ctx } from "./commands";
import { findInterpreter } from "./python";
import { installSteps, pipFailure } from "./pythonModel";
import { plainMessage } from "./text";

let channel: vscode.OutputChannel | undefined;

/** The helper wheel inside the installed extension, or undefined when this build has none. */
async function bundledWheel(extensionUri: vscode.Uri): Promise<vscode.Uri | undefined> {
  const folder = vscode.Uri.joinPath(extensionUri, "extension", "dist", "wheels");
  try {
    const entries = await vscode.workspace.fs.readDirectory(folder);
    const wheel = entries.map(([name]) => name).filter((name) => name.endsWith(".whl")).sort().pop();
    return wheel ? vscode.Uri.joinPath(folder, wheel) : undefined;
  } catch {
    return undefined;
  }
}

/** Runs one command, its output appended to `out`; resolves with its exit code and output. */
function run(command: string[], cwd: string | undefined, out: vscode.OutputChannel): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    out.appendLine(`$ ${command.join(" ")}`);
    let output = "";
    const child = spawn(command[0], command.slice(1), { cwd, env: { ...process.env, PIP_NO_INPUT: "1" } });
    const take = (data: Buffer): void => {
      const text = data.toString("utf8");
      output += text;
      out.append(text);
    };
    child.stdout.on("data", take);
    child.stderr.on("data", take);
    child.on("error", (error) => resolve({ code: -1, output: `${output}\n${error.message}` }));
    child.on("close", (code) => resolve({ code: code ?? -1, output }));
  });
}

/** The command: install, then restart the helper (which checks the install again). */
export function installHelper(ctx: Ctx): () => Promise<void> {
  return async () => {
    const wheel = await bundledWheel(ctx.extensionUri);
    if (!wheel) {
      void vscode.window.showErrorMessage("This build of XP has no helper wheel inside; install the helper with " +
        "`pip install xp-experiments` into the interpreter XP uses (XP: Show Helper Log names it).");
      return;
    }
    const folder = ctx.helper.folder ?? vscode.workspace.workspaceFolders?.[0];
    const python = ctx.helper.python ?? (folder ? (await findInterpreter(folder)).command : "python3");
    channel ??= vscode.window.createOutputChannel("XP Helper Install");
    channel.show(true);
    const started = Date.now();
    const failure = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: plainMessage(`Installing the xp helper into ${python}…`) },
      async () => {
        for (const step of installSteps(python, wheel.fsPath)) {
          const { code, output } = await run(step, folder?.uri.fsPath, channel as vscode.OutputChannel);
          if (code !== 0) {
            return pipFailure(output, python);
          }
        }
        return undefined;
      },
    );
    if (failure) {
      channel.appendLine(failure);
      ctx.output.appendLine(`Installing the helper failed: ${failure}`);
      void vscode.window.showErrorMessage(plainMessage(failure), "Show Install Output")
        .then((choice) => choice && channel?.show());
      return;
    }
    channel.appendLine(`Installed the xp helper in ${((Date.now() - started) / 1000).toFixed(1)} s; starting it.`);
    await ctx.helper.restart();
  };
}
