// Choosing the interpreter (setting → Python extension API → python3) with a fake of the Python
// extension's `environments` API shaped like the real one (ms-python.python cannot be installed
// here: no marketplace), reading the helper check, and the pip steps of "Install xp Helper".
import assert from "node:assert/strict";
import { test } from "node:test";
import { type PythonApi, chooseInterpreter, expandVariables, fromPythonApi, installSteps, pipFailure, readCheck } from "../../src/pythonModel";

/** A fake of `ms-python.python`'s exported API: the active environment per resource, resolved to an executable. */
function fakeApi(active: Record<string, { id: string; path: string }>, executables: Record<string, string | undefined>,
  calls: unknown[] = []): PythonApi {
  return {
    environments: {
      getActiveEnvironmentPath(resource?: unknown) {
        calls.push(resource);
        return active[(resource as { fsPath: string } | undefined)?.fsPath ?? ""];
      },
      async resolveEnvironment(environment) {
        const path = typeof environment === "string" ? environment : environment.path;
        const executable = executables[path];
        return executable === undefined ? undefined : { executable: { uri: { fsPath: executable } } };
      },
    },
  };
}

test("the Python extension's selection: resolved executable, else the environment path, per folder", async () => {
  const calls: unknown[] = [];
  const api = fakeApi({ "/proj": { id: "venv", path: "/proj/.venv" }, "/other": { id: "sys", path: "/usr/bin/python3.11" } },
    { "/proj/.venv": "/proj/.venv/bin/python" }, calls);
  assert.equal(await fromPythonApi(api, { fsPath: "/proj" }), "/proj/.venv/bin/python");
  assert.equal(await fromPythonApi(api, { fsPath: "/other" }), "/usr/bin/python3.11");
  assert.equal(await fromPythonApi(api, { fsPath: "/none" }), undefined);
  assert.deepEqual(calls, [{ fsPath: "/proj" }, { fsPath: "/other" }, { fsPath: "/none" }]);
});

test("an old or broken Python extension API is ignored (PATH is next)", async () => {
  assert.equal(await fromPythonApi(undefined, {}), undefined);
  assert.equal(await fromPythonApi({}, {}), undefined);
  const throwing: PythonApi = { environments: {
    getActiveEnvironmentPath: () => { throw new Error("not ready"); },
    resolveEnvironment: async () => undefined,
  } };
  assert.equal(await fromPythonApi(throwing, {}), undefined);
  const rejecting: PythonApi = { environments: {
    getActiveEnvironmentPath: () => ({ path: "/p" }),
    resolveEnvironment: () => Promise.reject(new Error("gone")),
  } };
  assert.equal(await fromPythonApi(rejecting, {}), undefined);
});

test("order: the setting (variables expanded), then the Python extension, then python3", () => {
  assert.deepEqual(chooseInterpreter("${workspaceFolder}/.venv/bin/python", "/ext/python", "/proj", "/root"),
    { command: "/proj/.venv/bin/python", source: "setting" });
  assert.deepEqual(chooseInterpreter("", "/ext/python", "/proj", "/root"), { command: "/ext/python", source: "python extension" });
  assert.deepEqual(chooseInterpreter("", undefined, "/proj", "/root"), { command: "python3", source: "PATH" });
  assert.equal(expandVariables("~/envs/x/bin/python", "/p", "/home/u"), "/home/u/envs/x/bin/python");
  assert.equal(expandVariables("/a~b", "/p", "/home/u"), "/a~b");
});

test("the helper check: a helper speaking an older protocol is too old", () => {
  assert.deepEqual(readCheck("0.1.0 2", 2, "py"), { ok: true, version: "0.1.0", protocol: 2 });
  assert.deepEqual(readCheck("0.2.0 3", 2, "py"), { ok: true, version: "0.2.0", protocol: 3 });
  const old = readCheck("0.0.9 1", 2, "/v/bin/python");
  assert.equal(old.ok, false);
  assert.equal(!old.ok && old.reason, "helperTooOld");
  assert.match(!old.ok ? old.detail : "", /0\.0\.9 in \/v\/bin\/python speaks protocol 1; this extension needs 2/);
  assert.equal(readCheck("0.0.1 0", 2, "py").ok, false);
});

test("install: pip with dependencies, then this exact build; pip's failures as one line with the fix", () => {
  assert.deepEqual(installSteps("/v/bin/python", "/ext/xp.whl"), [
    ["/v/bin/python", "-m", "pip", "install", "--disable-pip-version-check", "/ext/xp.whl"],
    ["/v/bin/python", "-m", "pip", "install", "--disable-pip-version-check", "--force-reinstall", "--no-deps", "/ext/xp.whl"],
  ]);
  assert.match(pipFailure("error: externally-managed-environment\n\n× This environment is externally managed", "/usr/bin/python3"),
    /PEP 668.*python3 -m venv/);
  assert.match(pipFailure("/usr/bin/python3: No module named pip\n", "/usr/bin/python3"), /has no pip/);
  assert.equal(pipFailure("Collecting x\nERROR: Could not find a version that satisfies pygls==9\nmore\n", "py"),
    "pip failed in py: ERROR: Could not find a version that satisfies pygls==9");
});
