// Finding the Python interpreter that runs the helper: the `xp.python.interpreterPath` setting,
// else the interpreter selected in the Python extension (through its API, when it is installed;
// XP works without it), else `python3` on PATH. Then checking that it has the helper, of a
// protocol this extension speaks. The decisions are pure (pythonModel.ts); this module does the I/O.
import { execFile } from "node:child_process";
import * as vscode from "vscode";
import { interpreterPath } from "./config";
import * as proto from "./protocol";
import { CHECK_SCRIPT, type HelperCheck, type Interpreter, type PythonApi, chooseInterpreter, fromPythonApi, readCheck } from "./pythonModel";

export type { HelperCheck, Interpreter } from "./pythonModel";

/** The interpreter to use for `folder`, following the order above. */
export async function findInterpreter(folder: vscode.WorkspaceFolder): Promise<Interpreter> {
  const setting = interpreterPath(folder.uri);
  const fromExtension = setting ? undefined : await fromPythonExtension(folder.uri);
  return chooseInterpreter(setting, fromExtension, folder.uri.fsPath, process.env.HOME);
}

async function fromPythonExtension(resource: vscode.Uri): Promise<string | undefined> {
  const extension = vscode.extensions.getExtension<PythonApi>("ms-python.python");
  if (!extension) {
    return undefined;
  }
  try {
    return await fromPythonApi(extension.isActive ? extension.exports : await extension.activate(), resource);
  } catch {
    // An extension that fails to activate must not keep XP from starting: PATH is next.
    return undefined;
  }
}

/** Asks the interpreter to import the helper and print its version and protocol (one short subprocess). */
export function checkHelper(python: string, cwd: string): Promise<HelperCheck> {
  return new Promise((resolve) => {
    execFile(python, ["-c", CHECK_SCRIPT], { cwd, timeout: 20_000 }, (error, stdout, stderr) => {
      if (!error) {
        resolve(readCheck(stdout, proto.PROTOCOL_VERSION, python));
      } else if ((error as NodeJS.ErrnoException).code === "ENOENT" || (error as NodeJS.ErrnoException).code === "EACCES") {
        resolve({ ok: false, reason: "noPython", detail: `cannot run '${python}': ${error.message}` });
      } else {
        resolve({ ok: false, reason: "helperMissing", detail: stderr.trim() || error.message });
      }
    });
  });
}
