// The Plots panel: the pipeline's plots for the chosen experiments overlaid (xp/plotsData: the
// same Vega-Lite specs as `xp plots diff --xp-json`), drawn by dist/webview/plots.js with the
// vendored vega scripts copied next to it. One panel, reused; it reloads when the helper says the
// experiments changed (so a finished run's curves appear), redraws while a shown experiment runs
// (each new step the helper pushes, at most twice a second), and is restored after a reload.
import * as vscode from "vscode";
import type { Helper } from "../helper";
import { errorText } from "../helper";
import { exportFileName } from "../plotsExport";
import * as proto from "../protocol";
import { plainMessage } from "../text";
import { type CustomPlots, type PlotsHostMessage, type PlotsPageMessage, parsePlotsMessage, savedCustomPlots, savedNames } from "./messages";
import { AnswerPanel, OnePanel } from "./panel";

export const VIEW_TYPE = "xp.plots";

const STYLE = `
  body { font-family: var(--vscode-font-family); color: var(--vscode-foreground); }
  .chart { width: 100%; max-width: 900px; background: white; padding: 4px; }
  h3 { font-family: var(--vscode-editor-font-family); font-weight: normal; margin: 1em 0 0.3em; }
  .revs { opacity: 0.8; } .error, .failed { color: var(--vscode-errorForeground); }
  #custom { margin: 0.5em 0 1em; } #custom fieldset { border: none; padding: 0.3em 0; display: inline; }
  #custom select, #custom button { margin: 0 0.4em; }
  .export { display: flex; gap: 4px; margin: 0 0 4px; }
  .export-button { font-size: 0.85em; color: var(--vscode-button-secondaryForeground); background: var(--vscode-button-secondaryBackground);
    border: none; padding: 1px 8px; cursor: pointer; }`;

/** vega, then vega-lite and the interpreter, then vega-embed (it needs the first two), then our page. */
const SCRIPTS = ["vega.min.js", "vega-lite.min.js", "vega-interpreter.min.js", "vega-embed.min.js", "plots.js"];

export class PlotsPanel extends AnswerPanel<PlotsPageMessage, PlotsHostMessage> {
  private static readonly one = new OnePanel<PlotsPanel>(VIEW_TYPE);
  private custom: CustomPlots = {};
  /** Live redraws at most this often: vega redraws every chart, so each step must not cost one. */
  private static readonly LIVE_INTERVAL_MS = 500;
  private liveTimer: NodeJS.Timeout | undefined;
  /** When the newest load asked the helper (epoch ms; the page's timings are logged against it). */
  private asked = 0;
  /** The plots the newest answer listed as pending, with its key (sent once the page has drawn the charts on screen). */
  private more: { key: string; message: PlotsHostMessage } | undefined;
  /** Whether the page has drawn the charts on screen of the newest answer (the rest is sent after that). */
  private screenDrawn = false;

  private constructor(panel: vscode.WebviewPanel, private readonly helper: Helper, extensionUri: vscode.Uri, output: vscode.OutputChannel) {
    super(panel, PlotsPanel.one, extensionUri, output, { scripts: SCRIPTS, style: STYLE, body: `<div id="plots"></div>` }, parsePlotsMessage);
    this.listen(
      helper.onExperimentsChanged(() => void this.load()),
      helper.onLiveMetrics((event) => {
        if (this.names.includes(event.experiment) && !this.liveTimer) {
          this.liveTimer = setTimeout(() => {
            this.liveTimer = undefined;
            void this.load();
          }, PlotsPanel.LIVE_INTERVAL_MS);
        }
      }),
    );
  }

  protected onMessage(message: PlotsPageMessage): void {
    switch (message.type) {
      case "ready":
        this.ready("Plots", message);
        break;
      case "screen":
        // The charts on screen are drawn: now the rest (sent earlier, copying it would hold them up).
        this.screenDrawn = true;
        if (this.more?.key === this.key()) {
          void this.post(this.more.message);
        }
        break;
      case "drawn": {
        const at = (t?: number) => `+${(t ?? 0) - (message.asked ?? 0)} ms`;
        this.output.appendLine(`Plots: the page had the data at ${at(message.received)}, its sections at ${at(message.rendered)}, ` +
          `the charts on screen at ${at(message.screen)}, all ${message.plots} at ${at(message.drawn)} (after the helper was asked).`);
        break;
      }
      case "custom":
        this.custom = message.custom;
        void this.load();
        break;
      case "export":
        void this.save(message);
        break;
      case "exportFailed":
        void vscode.window.showErrorMessage(plainMessage(`Could not export ${message.id} as ${message.format}: ${message.error}`));
        break;
    }
  }

  /** Opens (or reveals and refills) the panel for `names` (empty: HEAD and the workspace). */
  static show(helper: Helper, extensionUri: vscode.Uri, output: vscode.OutputChannel, names: string[]): void {
    PlotsPanel.one.open("Plots", extensionUri, (panel) => new PlotsPanel(panel, helper, extensionUri, output))
      .showNames(names, names.length ? `Plots: ${names.join(", ")}` : "Plots");
  }

  /** Brings back a panel VS Code kept across a reload; its names and custom plots are in the webview state. */
  static revive(panel: vscode.WebviewPanel, state: unknown, helper: Helper, extensionUri: vscode.Uri,
    output: vscode.OutputChannel): void {
    const revived = PlotsPanel.one.revive(panel, (made) => new PlotsPanel(made, helper, extensionUri, output));
    revived.names = savedNames(state);
    revived.custom = savedCustomPlots(state);
  }

  /**
   * The plots read first: about a screenful. The rest are listed without their data and asked for
   * next, while the page draws these (Vega takes ~0.2 s for a chart of 20,000 points).
   */
  private static readonly FIRST = 4;

  /** Asks for the plots the first answer listed as pending; keeps them beside that answer and sends them once the page has drawn what is on screen. */
  private async fetchPending(key: string, result: proto.PlotsDataResult): Promise<void> {
    const pending = result.plots.filter((plot) => plot.pending).map((plot) => plot.id);
    if (!pending.length) {
      return;
    }
    let more: proto.PlotsDataResult;
    try {
      more = await this.helper.request(proto.plotsData, { revs: this.names, columns: true, targets: pending });
    } catch (error) {
      more = { revisions: result.revisions, plots: [], errors: [`Plots failed: ${errorText(error)}`], params: [], metrics: [] };
    }
    this.output.appendLine(`Plots: the other ${pending.length} came at +${Date.now() - this.asked} ms.`);
    const message: PlotsHostMessage = { type: "more", plots: more.plots, errors: more.errors };
    // Loads run one at a time, so the newest answer is still the one this completes.
    this.more = { key, message };
    if (this.pageReady && this.screenDrawn && key === this.key()) {
      await this.post(message);
    }
  }

  /** Sends the first answer of a load; the rest follows when the page has drawn what is on screen. */
  protected override send(message: PlotsHostMessage): void {
    this.screenDrawn = false;
    void this.post(message);
  }

  /** What an answer answers: the names shown and the custom plots asked for. */
  protected override key(): string {
    return JSON.stringify([this.names, this.custom]);
  }

  protected async fetch(key: string): Promise<void> {
    try {
      const custom = this.custom.metric && (this.custom.param || this.custom.parallelParams?.length)
        ? { metric: this.custom.metric, param: this.custom.param ?? null, parallelParams: this.custom.parallelParams ?? [] } : {};
      let customError = "";
      this.asked = Date.now();
      let result: proto.PlotsDataResult;
      try {
        result = await this.helper.request(proto.plotsData, { revs: this.names, columns: true, first: PlotsPanel.FIRST, ...custom });
      } catch (error) {
        if (!("metric" in custom)) {
          throw error;
        }
        // A custom plot the revisions cannot draw (a key none of them has): say why, draw the rest.
        customError = errorText(error);
        result = await this.helper.request(proto.plotsData, { revs: this.names, columns: true, first: PlotsPanel.FIRST });
      }
      this.output.appendLine(`Plots of ${this.names.length}: the helper answered in ${Date.now() - this.asked} ms (${result.plots.length} plots).`);
      this.more = undefined;
      this.answer(key, { type: "data", result, names: this.names, custom: this.custom, customError, asked: this.asked });
      await this.fetchPending(key, result);
    } catch (error) {
      const message = `Plots failed: ${errorText(error)}`;
      this.output.appendLine(message);
      void vscode.window.showErrorMessage(plainMessage(message));
    }
  }

  /** Writes an exported chart or its data to .xp/plots/export/ and names the file in a notification. */
  private async save(message: Extract<PlotsPageMessage, { type: "export" }>): Promise<void> {
    const folder = this.helper.folder ?? vscode.workspace.workspaceFolders?.[0];
    if (!folder) {
      return;
    }
    const dir = vscode.Uri.joinPath(folder.uri, ".xp", "plots", "export");
    const file = vscode.Uri.joinPath(dir, exportFileName(message.id, message.format));
    try {
      await vscode.workspace.fs.createDirectory(dir);
      await vscode.workspace.fs.writeFile(file, Buffer.from(message.content, message.encoding));
    } catch (error) {
      void vscode.window.showErrorMessage(plainMessage(`Could not save ${file.fsPath}: ${errorText(error)}`));
      return;
    }
    const where = vscode.workspace.asRelativePath(file, false);
    this.output.appendLine(`Exported plot ${message.id} to ${file.fsPath}`);
    const choice = await vscode.window.showInformationMessage(plainMessage(`Saved plot ${message.id} as ${where}`), "Open");
    if (choice === "Open") {
      await vscode.commands.executeCommand("vscode.open", file);
    }
  }

  override dispose(): void {
    clearTimeout(this.liveTimer);
    super.dispose();
  }
}
