// Smoke step for issue 18's story in VS Code: A pushes an experiment (its commits to the team's git
// server, its model to the remote storage); B, on a fresh clone in a window of its own, pulls it from
// the palette and applies it, and has A's model without rebuilding. Called from smoke.mjs.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { answerInputBox, pickOne, runCommand, treeRow, waitForQuickInput } from "./workbench.mjs";

const execFileP = promisify(execFile);

export async function teammatePath({ step, page: first, url, repo, work, python, env, shotName }) {
  await step("a teammate's window: Pull Experiments, then Apply has A's model without a rebuild", async () => {
    const options = { cwd: repo, env: { ...process.env, ...env } };
    // A: the baseline to the team's git server (the demo's origin.git), the experiment with its outputs.
    await execFileP("git", ["push", "-q", "origin", "HEAD:main"], options);
    await execFileP(python, ["-m", "pyhelper", "exp", "push", "origin", "wider"], options);
    const b = join(work, "teammate");
    await execFileP("git", ["clone", "-q", join(repo, "origin.git"), b], options);
    const page = await first.context().newPage();
    try {
      await page.goto(`${url}/?folder=${encodeURIComponent(b)}`);
      await page.locator(".monaco-workbench .activitybar").waitFor({ state: "visible", timeout: 60_000 });
      await page.locator('.activitybar [aria-label^="XP"]').first().click();
      await treeRow(page, "main", "accuracy=").first().waitFor({ state: "visible", timeout: 60_000 });
      await runCommand(page, "XP: Pull Experiments");
      await answerInputBox(page, "Pull Experiments", "origin");
      await page.locator(".notification-toast", { hasText: /Pulled 1 experiment from origin/ }).first()
        .waitFor({ state: "visible", timeout: 60_000 });
      await treeRow(page, "wider", "accuracy=").first().waitFor({ state: "visible", timeout: 30_000 });
      await runCommand(page, "XP: Apply Experiment");
      await waitForQuickInput(page, "Apply Experiment");
      await pickOne(page, "wider");
      await page.locator(".notification-toast", { hasText: "Applied experiment wider" }).first()
        .waitFor({ state: "visible", timeout: 60_000 });
    } catch (error) {
      await page.screenshot({ path: shotName("teammate-FAILED"), animations: "disabled" }).catch(() => {});
      throw error;
    }
    await page.screenshot({ path: shotName("teammate-applied"), animations: "disabled" }).catch(() => {});
    await page.close();
    // B's model is the one A's experiment recorded (its md5 in the applied dvc.lock), and nothing
    // would rebuild it.
    const model = readFileSync(join(b, "model", "model.json"));
    const md5 = createHash("md5").update(model).digest("hex");
    if (!readFileSync(join(b, "dvc.lock"), "utf8").includes(md5)) {
      throw new Error(`B's model/model.json (md5 ${md5}) is not the one wider's dvc.lock records`);
    }
    const { stdout } = await execFileP(python, ["-m", "pyhelper", "repro", "--dry", "--json"], { ...options, cwd: b });
    const wouldRun = JSON.parse(stdout).wouldRun;
    if (wouldRun.length) {
      throw new Error(`B would rebuild ${wouldRun.join(", ")} after applying wider`);
    }
  });
}
