// The pure half of finding Python and the helper (python.ts does the I/O): the order in which an
// interpreter is chosen, reading the Python extension's API, reading what an interpreter said
// about its helper, and the pip steps that install the helper wheel shipped in the .vsix.
// Pure: no `vscode` import, so the unit tests cover it with a fake Python extension API.

/** Where the interpreter came from, for the log and for messages. */
export interface Interpreter {
  command: string;
  source: "setting" | "python extension" | "PATH";
}

/**
 * The slice of the Python extension's API (`ms-python.python` exports, `environments`, stable
 * since 2023) that XP uses; `Uri`s appear only as `{ fsPath }`.
 */
export interface PythonApi {
  environments?: {
    getActiveEnvironmentPath(resource?: unknown): { id?: string; path: string } | undefined;
    resolveEnvironment(environment: { id?: string; path: string } | string):
      Promise<{ executable: { uri?: { fsPath: string } } } | undefined>;
  };
}

/** `${workspaceFolder}` and a leading `~` in the interpreter setting. */
export function expandVariables(path: string, folder: string, home: string | undefined): string {
  return path.replace(/\$\{workspaceFolder\}/g, folder).replace(/^~(?=\/|$)/, home ?? "~");
}

/**
 * The interpreter the Python extension selected for `resource`, or undefined when it has none or
 * its API misbehaves (a broken or outdated Python extension must not keep XP from starting).
 */
export async function fromPythonApi(api: PythonApi | undefined, resource: unknown): Promise<string | undefined> {
  try {
    const active = api?.environments?.getActiveEnvironmentPath(resource);
    if (!active?.path) {
      return undefined;
    }
    const resolved = await api?.environments?.resolveEnvironment(active);
    return resolved?.executable?.uri?.fsPath || active.path;
  } catch {
    return undefined;
  }
}

/** The setting first, then the Python extension's choice, then `python3` on PATH. */
export function chooseInterpreter(setting: string, fromExtension: string | undefined, folder: string,
  home: string | undefined): Interpreter {
  if (setting) {
    return { command: expandVariables(setting, folder, home), source: "setting" };
  }
  if (fromExtension) {
    return { command: fromExtension, source: "python extension" };
  }
  return { command: "python3", source: "PATH" };
}

/** The script an interpreter runs to say which helper it has: `<version> <protocol>` (0 = none known). */
export const CHECK_SCRIPT = "import sys, pyhelper\n"
  + "try:\n    from pyhelper.server.protocol import PROTOCOL_VERSION as p\nexcept Exception:\n    p = 0\n"
  + "sys.stdout.write(f'{pyhelper.__version__} {p}')";

/** What checking an interpreter found: the helper's version, or why it cannot run the helper. */
export type HelperCheck =
  | { ok: true; version: string; protocol: number }
  | { ok: false; reason: "noPython" | "helperMissing" | "helperTooOld"; detail: string };

/** Reads the check script's output; a helper older than `needed` is too old. */
export function readCheck(stdout: string, needed: number, python: string): HelperCheck {
  const [version = "", protocolText = "0"] = stdout.trim().split(/\s+/);
  const protocol = Number(protocolText) || 0;
  if (protocol < needed) {
    return { ok: false, reason: "helperTooOld",
      detail: `The xp helper ${version} in ${python} speaks protocol ${protocol}; this extension needs ${needed}.` };
  }
  return { ok: true, version, protocol };
}

/**
 * The pip runs that install `wheel` into `python`: first with its dependencies (from the
 * package index), then this exact build again over any installed helper of the same version.
 */
export function installSteps(python: string, wheel: string): string[][] {
  return [
    [python, "-m", "pip", "install", "--disable-pip-version-check", wheel],
    [python, "-m", "pip", "install", "--disable-pip-version-check", "--force-reinstall", "--no-deps", wheel],
  ];
}

/** One line saying why pip failed and what to do, from its output. */
export function pipFailure(output: string, python: string): string {
  if (/externally-managed-environment/.test(output)) {
    return `${python} is managed by the system (PEP 668) and refuses pip installs; create a virtual environment ` +
      "(python3 -m venv .venv), select it in xp.python.interpreterPath, then install again.";
  }
  if (/No module named pip/.test(output)) {
    return `${python} has no pip; install it (python3 -m ensurepip, or apt install python3-pip) or choose another interpreter.`;
  }
  const lines = output.split("\n").map((l) => l.trim()).filter(Boolean);
  const error = [...lines].reverse().find((l) => /^ERROR:|error:/i.test(l)) ?? lines.at(-1) ?? "no output";
  return `pip failed in ${python}: ${error}`;
}
