// Smoke step for a monorepo: one git repository holding two DVC projects made with `dvc init --subdir`.
// Opened as a folder, XP serves the first project inside it (not the empty root) and Select Project
// Folder lists both projects; picking the other one shows its experiments. Called from smoke.mjs.
import { execFile } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { runCommand, treeRow, waitForQuickInput } from "./workbench.mjs";

const execFileP = promisify(execFile);

/** Writes the monorepo, reproduces each project and commits it (real git, the real xp). */
async function makeMonorepo(python, root, env) {
  mkdirSync(root, { recursive: true });
  await execFileP("git", ["init", "-q", "-b", "main"], { cwd: root, env });
  for (const [name, metric] of [["project-1", "acc"], ["project-2", "rmse"]]) {
    const dir = join(root, name);
    mkdirSync(join(dir, ".dvc"), { recursive: true });
    writeFileSync(join(dir, ".dvc", "config"), "");
    writeFileSync(join(dir, "params.yaml"), "lr: 0.1\n");
    writeFileSync(join(dir, "train.py"),
      `import json\nlr = float(open("params.yaml").read().split(":")[1])\njson.dump({"${metric}": lr * 2}, open("metrics.json", "w"))\n`);
    writeFileSync(join(dir, "dvc.yaml"),
      "stages:\n  train:\n    cmd: python train.py\n    deps: [train.py]\n    params: [lr]\n" +
      "    metrics:\n      - metrics.json:\n          cache: false\n");
    await execFileP(python, ["-m", "pyhelper", "repro", "-q"], { cwd: dir, env });
  }
  await execFileP("git", ["add", "-A"], { cwd: root, env });
  await execFileP("git", ["commit", "-q", "-m", "two projects"], { cwd: root, env });
  await execFileP(python, ["-m", "pyhelper", "exp", "run", "--temp", "-n", "second-try", "-S", "lr=0.3"],
    { cwd: join(root, "project-2"), env });
}

export async function monorepoPath({ step, page: first, url, work, python, env, shotName }) {
  await step("monorepo: XP serves the first DVC project inside the folder; Select Project Folder switches projects", async () => {
    const root = join(work, "monorepo");
    await makeMonorepo(python, root, { ...process.env, ...env });
    const page = await first.context().newPage();
    try {
      await page.goto(`${url}/?folder=${encodeURIComponent(root)}`);
      await page.locator(".monaco-workbench .activitybar").waitFor({ state: "visible", timeout: 60_000 });
      await page.locator('.activitybar [aria-label^="XP"]').first().click();
      // project-1's baseline, with its own metric: the helper runs in project-1, not the repository root.
      await treeRow(page, "main", "acc=").first().waitFor({ state: "visible", timeout: 60_000 });
      await runCommand(page, "XP: Select Project Folder");
      await waitForQuickInput(page, "XP: Select Project Folder");
      const other = page.locator(".quick-input-widget .quick-input-list .monaco-list-row", { hasText: "monorepo/project-2" }).first();
      await other.waitFor({ state: "visible" });
      await other.click();
      await treeRow(page, "second-try", "rmse=").first().waitFor({ state: "visible", timeout: 60_000 });
    } catch (error) {
      await page.screenshot({ path: shotName("monorepo-FAILED"), animations: "disabled" }).catch(() => {});
      throw error;
    }
    await page.screenshot({ path: shotName("monorepo"), animations: "disabled" }).catch(() => {});
    await page.close();
  });
}
