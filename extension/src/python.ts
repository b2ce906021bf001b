// Finding the Python interpreter that runs the helper: the `xp.python.interpreterPath` setting,
// else the interpreter selected in the Python extension (through its API, when it is installed;
// XP works without it), else `python3` on PATH. Then checking that it has the helper.
import { execFile } from "node:child_process";
import * as vscode from "vscode";
import { interpreterPath } from "./config";

/** Where the interpreter came from, for the log and for messages. */
export interface Interpreter {
  command: string;
  source: "setting" | "python extension" | "PATH";
}

/** The slice of the Python extension's API we use (its `environments` API, stable since 2023). */
interface PythonApi {
  environments?: {
    getActiveEnvironmentPath(resource?: vscode.Uri): { path: string } | undefined;
    resolveEnvironment(path: { path: string } | string): Promise<{ executable: { uri?: vscode.Uri } } | undefined>;
  };
}

/** The interpreter to use for `folder`, following the order above. */
export async function findInterpreter(folder: vscode.WorkspaceFolder): Promise<Interpreter> {
  const fromSetting = interpreterPath(folder.uri);
  if (fromSetting) {
    return { command: expandVariables(fromSetting, folder), source: "setting" };
  }
  const fromExtension = await fromPythonExtension(folder.uri);
  if (fromExtension) {
    return { command: fromExtension, source: "python extension" };
  }
  return { command: "python3", source: "PATH" };
}

async function fromPythonExtension(resource: vscode.Uri): Promise<string | undefined> {
  const extension = vscode.extensions.getExtension<PythonApi>("ms-python.python");
  if (!extension) {
    return undefined;
  }
  try {
    const api = extension.isActive ? extension.exports : await extension.activate();
    const active = api.environments?.getActiveEnvironmentPath(resource);
    if (!active) {
      return undefined;
    }
    const resolved = await api.environments?.resolveEnvironment(active);
    return resolved?.executable.uri?.fsPath ?? active.path;
  } catch {
    // A broken or outdated Python extension must not keep XP from starting: PATH is next.
    return undefined;
  }
}

function expandVariables(path: string, folder: vscode.WorkspaceFolder): string {
  return path.replace(/\$\{workspaceFolder\}/g, folder.uri.fsPath).replace(/^~(?=\/|$)/, process.env.HOME ?? "~");
}

/** What checking an interpreter found: the helper's version, or why it cannot run the helper. */
export type HelperCheck =
  | { ok: true; version: string }
  | { ok: false; reason: "noPython" | "helperMissing"; detail: string };

/** Asks the interpreter to import the helper and print its version (one short subprocess). */
export function checkHelper(python: string, cwd: string): Promise<HelperCheck> {
  const script = "import pyhelper, sys; sys.stdout.write(pyhelper.__version__)";
  return new Promise((resolve) => {
    execFile(python, ["-c", script], { cwd, timeout: 20_000 }, (error, stdout, stderr) => {
      if (!error) {
        resolve({ ok: true, version: stdout.trim() });
      } else if ((error as NodeJS.ErrnoException).code === "ENOENT" || (error as NodeJS.ErrnoException).code === "EACCES") {
        resolve({ ok: false, reason: "noPython", detail: `cannot run '${python}': ${error.message}` });
      } else {
        resolve({ ok: false, reason: "helperMissing", detail: stderr.trim() || error.message });
      }
    });
  });
}
