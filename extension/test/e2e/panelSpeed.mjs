// Smoke steps timing the Compare and Plots panels as a person sees them, run by smoke.mjs (alone
// too: XP_E2E_ONLY=panelSpeedPath). Twenty experiments are written with git fast-import, each with
// its own dvc.yaml (the demo's, its stages' plots left out) plotting one folder of ten metric files of 1,000 steps (DVCLive's
// layout), so Plots draws 10 charts × 20 experiments × 1,000 steps. The figures go to `timings`;
// the helper log (vscode-logs/) says where the time went (the helper, the page, the drawing).
/* global Buffer */
import { execFile } from "node:child_process";
import { fastImport } from "./fastImport.mjs";
import { promisify } from "node:util";
import { pickMany, runCommand, waitForQuickInput } from "./workbench.mjs";

const execFileP = promisify(execFile);
export const CURVES = 20;
const PLOTS = 10;
const STEPS = 1000;
/** The names of the experiments this path writes. */
export const curveNames = Array.from({ length: CURVES }, (_, i) => `curves-${String(i).padStart(2, "0")}`);

/** Writes refs curves-00…19 on the baseline: 10 metric files × 1,000 steps each, one dvc.yaml plots entry. */
export async function writeCurveExperiments(repo) {
  const git = async (...args) => (await execFileP("git", ["-C", repo, ...args])).stdout.trim();
  const baseline = await git("rev-parse", "HEAD");
  const prefix = `refs/exps/${baseline.slice(0, 2)}/${baseline.slice(2)}`;
  const tree = await git("rev-parse", "HEAD^{tree}");
  const dvcYaml = Buffer.from(onlyTopLevelPlots(await git("show", "HEAD:dvc.yaml")));
  const chunks = [];
  for (let e = 0; e < CURVES; e++) {
    const metrics = Buffer.from(JSON.stringify({ accuracy: 0.8 + e / 200, loss: 0.4 - e / 100 }));
    chunks.push(`commit ${prefix}/${curveNames[e]}\ncommitter xp e2e <e2e@xp.invalid> ${1_700_100_000 + e} +0000\n`,
      `data 6\ncurves\nfrom ${baseline}\nM 040000 ${tree} ""\nD dvclive/plots/metrics\n`,
      `M 100644 inline dvc.yaml\ndata ${dvcYaml.length}\n`, dvcYaml, "\n",
      `M 100644 inline metrics.json\ndata ${metrics.length}\n`, metrics, "\n");
    for (let p = 0; p < PLOTS; p++) {
      const lines = [`step\tm${p}`];
      for (let s = 1; s <= STEPS; s++) {
        lines.push(`${s}\t${(Math.sin(s / (40 + p * 7) + e) * 0.5 + 0.5 - s / 4000).toFixed(5)}`);
      }
      const tsv = Buffer.from(`${lines.join("\n")}\n`);
      chunks.push(`M 100644 inline dvclive/plots/metrics/m${p}.tsv\ndata ${tsv.length}\n`, tsv, "\n");
    }
    chunks.push("\n");
  }
  await fastImport(repo, chunks);
}

/** The demo's dvc.yaml without its stages' plots: only the top-level DVCLive folder is plotted. */
function onlyTopLevelPlots(text) {
  const kept = [];
  let skipping = false;
  for (const line of text.split("\n")) {
    const indent = line.length - line.trimStart().length;
    if (/^ {4}plots:\s*$/.test(line)) {
      skipping = true;
    } else if (skipping && line.trim() && indent <= 4) {
      skipping = false;
    }
    if (!skipping) {
      kept.push(line);
    }
  }
  if (!kept.some((line) => line.startsWith("plots:"))) {
    throw new Error("the demo's dvc.yaml has no top-level plots (dvclive/plots/metrics) left to draw");
  }
  return `${kept.join("\n")}\n`;
}

/** Waits until the page notes a drawing other than `before` (its data-drawn attribute); returns its times. */
async function waitForNewDrawing(view, before) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const now = await view.locator("body").getAttribute("data-drawn").catch(() => null);
    if (now && now !== before) {
      return JSON.parse(now);
    }
    if (Date.now() > deadline) {
      throw new Error("the Plots page noted no new drawing within 60 s");
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The shown webview's page, two iframes deep (VS Code's webview host, then our document). */
function panelView(page) {
  return page.frameLocator("iframe.webview.ready:visible").frameLocator("#active-frame");
}

async function closeEditors(page) {
  await page.evaluate(() => globalThis.document.activeElement?.blur());
  await runCommand(page, "View: Close All Editors");
}

/** The steps; `t` holds smoke.mjs's step runner, page getter, timings list and repo. */
export async function panelSpeedPath(t) {
  const { step, timings, repo } = t;
  const page = t.page();

  await step(`${CURVES} experiments with ${PLOTS} plots × ${STEPS} steps each (git fast-import)`, async () => {
    const started = Date.now();
    await writeCurveExperiments(repo);
    // As a person would, with the XP view open and the helper up (run alone, this is the first step;
    // after the other paths the view is open already, and a click on its icon would close it).
    const experimentsView = page.locator(".sidebar .pane-header", { hasText: "Experiments" }).first();
    if (!await experimentsView.isVisible().catch(() => false)) {
      await page.locator('.activitybar [aria-label^="XP"]').first().click();
    }
    await page.locator(".sidebar [role=treeitem]").first().waitFor({ state: "visible", timeout: 60_000 });
    timings.push({ name: `write ${CURVES} experiments × ${PLOTS} plots × ${STEPS} steps (fast-import)`, value: `${Date.now() - started} ms` });
  });

  for (const round of ["first open", "again, the panel closed in between"]) {
    await step(`Plots of ${CURVES} experiments × ${PLOTS} plots × ${STEPS} steps from the palette (${round}): Enter → the charts on screen, then all, drawn`, async () => {
      await closeEditors(page);
      await runCommand(page, "XP: Show Plots");
      await waitForQuickInput(page, "Show Plots");
      const accepted = await pickMany(page, curveNames);
      const view = panelView(page);
      const sections = view.locator("section.plot");
      // The page notes when the charts on screen and all of them were drawn (Date.now(), the same
      // clock as here): the test's own polling of the page waits while Vega draws.
      await view.locator("body[data-drawn]").waitFor({ state: "attached", timeout: 60_000 });
      const drawn = JSON.parse(await view.locator("body").getAttribute("data-drawn"));
      const count = await sections.count();
      if (count !== PLOTS || drawn.plots !== PLOTS) {
        throw new Error(`the Plots panel shows ${count} plots (${drawn.plots} drawn), expected ${PLOTS}`);
      }
      // Every chart painted: one canvas per plot (over 5,000 points each, so canvas, not SVG).
      const canvases = await view.locator("section.plot .chart canvas").count();
      if (canvases !== PLOTS) {
        throw new Error(`${canvases} of the ${PLOTS} charts are painted`);
      }
      // The legends are painted on the canvases; the page names the revisions above them.
      const revisions = await view.locator("p.revs").first().innerText();
      if (!revisions.includes(curveNames.join(", "))) {
        throw new Error(`the Plots panel does not name the ${CURVES} experiments: ${revisions}`);
      }
      const first = drawn.screen;
      const all = drawn.drawn;
      timings.push({ name: `Plots ${PLOTS} × ${CURVES} × ${STEPS} (${round}): Enter → charts on screen / every chart drawn`,
        value: `${first - accepted} / ${all - accepted} ms (budget 1000 ms)` });
    });
  }

  await step(`Plots of ${CURVES - 1} others with the panel open: Enter → the charts on screen, then all, drawn`, async () => {
    const view = panelView(page);
    const before = await view.locator("body").getAttribute("data-drawn");
    await runCommand(page, "XP: Show Plots");
    await waitForQuickInput(page, "Show Plots");
    const accepted = await pickMany(page, curveNames.slice(1));
    const drawn = await waitForNewDrawing(view, before);
    const revisions = await view.locator("p.revs").first().innerText();
    if (revisions.includes(curveNames[0]) || !revisions.includes(curveNames.slice(1).join(", "))) {
      throw new Error(`the Plots panel should show ${curveNames[1]}…${curveNames[CURVES - 1]} only: ${revisions}`);
    }
    timings.push({ name: `Plots ${PLOTS} × ${CURVES - 1} × ${STEPS}, the panel open: Enter → charts on screen / every chart drawn`,
      value: `${drawn.screen - accepted} / ${drawn.drawn - accepted} ms (budget 1000 ms)` });
  });

  await step("another editor in front, then Plots again: its charts are there, not drawn again", async () => {
    const view = panelView(page);
    const before = await view.locator("body").getAttribute("data-drawn");
    await page.evaluate(() => globalThis.document.activeElement?.blur());
    await page.keyboard.press("F1");
    const input = page.locator(".quick-input-widget .quick-input-box input");
    await input.fill("params.yaml");
    await page.locator(".quick-input-widget .quick-input-list .monaco-list-row", { hasText: "params.yaml" }).first().click();
    await page.locator(".tabs-container .tab.active", { hasText: "params.yaml" }).waitFor({ state: "visible" });
    const back = Date.now();
    await page.locator(".tabs-container .tab", { hasText: "Plots:" }).first().click();
    await view.locator("section.plot .chart canvas").nth(PLOTS - 1).waitFor({ state: "attached" });
    const shown = Date.now();
    const after = await view.locator("body").getAttribute("data-drawn");
    if (after !== before) {
      throw new Error("the Plots page was made and drawn again after its tab came back to the front");
    }
    timings.push({ name: "Plots tab brought back to the front: click → its charts shown", value: `${shown - back} ms` });
  });

  for (const round of ["first open", "again, the panel closed in between"]) {
    await step(`Compare ${CURVES} experiments from the palette (${round}): Enter → table drawn`, async () => {
      await closeEditors(page);
      await runCommand(page, "XP: Compare Experiments");
      await waitForQuickInput(page, "Compare Experiments");
      const accepted = await pickMany(page, curveNames);
      const view = panelView(page);
      await view.locator("tr[data-key]").first().waitFor({ state: "visible" });
      const drawn = Date.now();
      const columns = await view.locator("tr").first().locator("th").count();
      if (columns !== CURVES + 1) {
        throw new Error(`the Compare panel has ${columns - 1} experiment columns, expected ${CURVES}`);
      }
      const accuracy = await view.locator("tr[data-key]", { hasText: "accuracy" }).first().innerText();
      if (!accuracy.includes("+0.095")) {
        throw new Error(`the accuracy row does not show the last experiment's delta +0.095: ${accuracy}`);
      }
      timings.push({ name: `Compare of ${CURVES} from the palette (${round}): Enter → table drawn`, value: `${drawn - accepted} ms (budget 500 ms)` });
    });
  }
  await step(`Compare ${CURVES - 1} others with the panel open: Enter → table redrawn`, async () => {
    // The panel from the last step is still open: a new comparison reuses its page. (The quick
    // pick gives the names in its own order, so the first of these is the new baseline.)
    const others = curveNames.slice(1);
    await runCommand(page, "XP: Compare Experiments");
    await waitForQuickInput(page, "Compare Experiments");
    const accepted = await pickMany(page, others);
    const view = panelView(page);
    await view.locator("tr").first().locator("th", { hasText: `${others[0]} (baseline)` }).waitFor({ state: "visible" });
    const drawn = Date.now();
    const columns = await view.locator("tr").first().locator("th").count();
    const accuracy = await view.locator("tr[data-key]", { hasText: "accuracy" }).first().innerText();
    if (columns !== others.length + 1 || !accuracy.includes("+0.09")) {
      throw new Error(`expected ${others.length} columns and the last one's accuracy +0.09 against ${others[0]}: ${columns - 1} columns, ${accuracy}`);
    }
    timings.push({ name: `Compare of ${others.length} from the palette, the panel open: Enter → table redrawn`, value: `${drawn - accepted} ms (budget 500 ms)` });
  });
  await closeEditors(page);
}
