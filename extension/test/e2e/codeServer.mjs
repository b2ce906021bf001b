// code-server (a real VS Code served to a browser) for the smoke test: a private user-data and
// extensions folder per run, the extension installed from its .vsix, settings seeded, served on
// a free loopback port, and stopped by process group (which also ends the extension host and the
// Python helper). The facts behind each option: shared/e2e-recipe.md.
import { execFile, spawn } from "node:child_process";
import { createWriteStream, mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** A free TCP port on 127.0.0.1. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Installs the .vsix into a fresh profile under `dir`, seeds its settings and serves `folder`.
 * Returns `{url, stop, setSettings}`; `stop()` ends code-server and everything it started.
 */
export async function startCodeServer({ codeServer, vsix, dir, folder, settings, env, logFile }) {
  const userData = join(dir, "user-data");
  const extensions = join(dir, "extensions");
  const config = join(dir, "config.yaml");
  mkdirSync(join(userData, "User"), { recursive: true });
  mkdirSync(extensions, { recursive: true });
  // Every call gets these three, or code-server writes into the home folder (recipe, gotcha 5).
  writeFileSync(config, "auth: none\ncert: false\n");
  const profile = ["--config", config, "--user-data-dir", userData, "--extensions-dir", extensions];
  const settingsFile = join(userData, "User", "settings.json");
  const seeded = {
    "security.workspace.trust.enabled": false,
    "workbench.startupEditor": "none",
    "telemetry.telemetryLevel": "off",
    "update.mode": "none",
    "extensions.autoUpdate": false,
    "extensions.autoCheckUpdates": false,
    "workbench.reduceMotion": "on",
    "workbench.tips.enabled": false,
    "editor.hover.delay": 100,
    "git.enabled": false,
    ...settings,
  };
  writeFileSync(settingsFile, JSON.stringify(seeded, null, 2));
  // Changes the user's settings as a person editing settings.json would (VS Code watches the file).
  const setSettings = (changes) => writeFileSync(settingsFile, JSON.stringify({ ...seeded, ...changes }, null, 2));
  await run(codeServer, [...profile, "--install-extension", vsix], { timeout: 60_000 });
  const port = await freePort();
  const log = createWriteStream(logFile);
  const child = spawn(codeServer, [
    ...profile, "--bind-addr", `127.0.0.1:${port}`, "--auth", "none", "--disable-telemetry",
    "--disable-update-check", "--disable-workspace-trust", "--disable-getting-started-override", folder,
  ], { detached: true, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  const exited = new Promise((resolve) => child.once("exit", (code) => resolve(code)));
  const stop = async () => {
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {
      return; // Already gone.
    }
    const timer = setTimeout(() => { try { process.kill(-child.pid, "SIGKILL"); } catch { /* gone */ } }, 5000);
    await exited;
    clearTimeout(timer);
  };
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    const early = await Promise.race([exited, new Promise((r) => setTimeout(() => r(undefined), 200))]);
    if (early !== undefined) {
      throw new Error(`code-server exited with ${early} before it served; see ${logFile}`);
    }
    try {
      if ((await fetch(`${url}/healthz`)).ok) {
        break;
      }
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`code-server did not answer /healthz within 60 s; see ${logFile}`);
    }
  }
  return { url, stop, setSettings };
}
