// The Plots panel: the pipeline's plots for the chosen experiments overlaid (xp/plotsData: the
// same Vega-Lite specs as `xp plots diff --json`), drawn by dist/webview/plots.js with the
// vendored vega scripts copied next to it. One panel, reused; it reloads when the helper says the
// experiments changed (so a finished run's curves appear), redraws while a shown experiment runs
// (each new step the helper pushes, at most twice a second), and is restored after a reload.
import * as vscode from "vscode";
import { Coalesced } from "../coalesce";
import type { Helper } from "../helper";
import { errorText } from "../helper";
import { exportFileName, isExportFormat } from "../plotsExport";
import * as proto from "../protocol";
import { plainMessage } from "../text";
import { page, panelOptions, readyLine } from "./page";

export const VIEW_TYPE = "xp.plots";

/** The custom plots the page's controls ask for: a metric against a param, and parallel coordinates. */
export interface CustomPlots {
  metric?: string;
  param?: string;
  parallelParams?: string[];
}

/** Only the fields a page may set, as strings (the page is not trusted to send well-formed data). */
function customFrom(value: unknown): CustomPlots {
  const raw = (value ?? {}) as Record<string, unknown>;
  const text = (v: unknown) => (typeof v === "string" && v ? v : undefined);
  const list = Array.isArray(raw.parallelParams) ? raw.parallelParams.filter((v): v is string => typeof v === "string" && !!v) : [];
  return { metric: text(raw.metric), param: text(raw.param), parallelParams: list };
}

/** What the page sends: ready, or a chart exported (content is base64 for PNG), or why an export failed. */
interface ExportMessage {
  type?: string;
  id?: unknown;
  format?: unknown;
  content?: unknown;
  encoding?: unknown;
  error?: unknown;
}

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

export class PlotsPanel {
  private static current: PlotsPanel | undefined;
  private names: string[] = [];
  private custom: CustomPlots = {};
  private readonly disposables: vscode.Disposable[] = [];
  /** One load at a time (steps arrive faster than charts redraw). */
  private readonly loads = new Coalesced(() => this.fetch());
  /** Live redraws at most this often: vega redraws every chart, so each step must not cost one. */
  private static readonly LIVE_INTERVAL_MS = 500;
  private liveTimer: NodeJS.Timeout | undefined;
  /** When the newest load asked the helper (epoch ms; the page's timings are logged against it). */
  private asked = 0;
  /** When this panel object (and its page) was made, epoch ms. */
  private readonly opened = Date.now();
  /** Whether the page has said it listens (messages posted before that are lost). */
  private pageReady = false;
  /** The key of the load in progress, and the newest answer with its key (names and custom plots). */
  private fetching: string | undefined;
  private last: { key: string; message: unknown; more?: unknown } | undefined;
  /** Whether the page has drawn the charts on screen of the newest answer (the rest is sent after that). */
  private screenDrawn = false;

  private constructor(private readonly panel: vscode.WebviewPanel, private readonly helper: Helper,
    extensionUri: vscode.Uri, private readonly output: vscode.OutputChannel) {
    panel.webview.options = panelOptions(extensionUri);
    panel.webview.html = page(panel.webview, extensionUri, { scripts: SCRIPTS, style: STYLE, body: `<div id="plots"></div>` });
    this.disposables.push(
      panel.onDidDispose(() => this.dispose()),
      panel.webview.onDidReceiveMessage((message: ExportMessage & { custom?: unknown; began?: unknown; scriptRan?: unknown; nav?: unknown }) => {
        if (message?.type === "ready") {
          // A new page (first open, or VS Code re-created it): the answer already fetched for these
          // names is sent at once; one being fetched is sent when it comes; else ask.
          this.pageReady = true;
          this.output.appendLine(readyLine("Plots", this.opened, message));
          if (this.last?.key === this.key()) {
            this.post(this.last.message);
          } else if (this.fetching !== this.key()) {
            void this.load();
          }
        } else if (message?.type === "screen") {
          // The charts on screen are drawn: now the rest (sent earlier, copying it would hold them up).
          this.screenDrawn = true;
          if (this.last?.more && this.last.key === this.key()) {
            void this.panel.webview.postMessage(this.last.more);
          }
        } else if (message?.type === "drawn") {
          const m = message as { asked?: number; received?: number; rendered?: number; screen?: number; drawn?: number; plots?: number };
          const at = (t?: number) => `+${(t ?? 0) - (m.asked ?? 0)} ms`;
          this.output.appendLine(`Plots: the page had the data at ${at(m.received)}, its sections at ${at(m.rendered)}, ` +
            `the charts on screen at ${at(m.screen)}, all ${m.plots} at ${at(m.drawn)} (after the helper was asked).`);
        } else if (message?.type === "custom") {
          this.custom = customFrom(message.custom);
          void this.load();
        } else if (message?.type === "export") {
          void this.save(message);
        } else if (message?.type === "exportFailed") {
          void vscode.window.showErrorMessage(plainMessage(`Could not export ${String(message.id)} as ${String(message.format)}: ${String(message.error)}`));
        }
      }),
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

  /** Opens (or reveals and refills) the panel for `names` (empty: HEAD and the workspace). */
  static show(helper: Helper, extensionUri: vscode.Uri, output: vscode.OutputChannel, names: string[]): void {
    if (!PlotsPanel.current) {
      const panel = vscode.window.createWebviewPanel(VIEW_TYPE, "Plots", vscode.ViewColumn.Active, panelOptions(extensionUri));
      PlotsPanel.current = new PlotsPanel(panel, helper, extensionUri, output);
    }
    const current = PlotsPanel.current;
    current.names = names;
    current.panel.title = names.length ? `Plots: ${names.join(", ")}` : "Plots";
    current.panel.reveal();
    void current.load();
  }

  /** Brings back a panel VS Code kept across a reload; its names are in the webview state. */
  static revive(panel: vscode.WebviewPanel, state: unknown, helper: Helper, extensionUri: vscode.Uri,
    output: vscode.OutputChannel): void {
    PlotsPanel.current?.panel.dispose();
    const revived = new PlotsPanel(panel, helper, extensionUri, output);
    const names = (state as { names?: unknown } | undefined)?.names;
    revived.names = Array.isArray(names) ? names.filter((n): n is string => typeof n === "string") : [];
    revived.custom = customFrom((state as { custom?: unknown } | undefined)?.custom);
    PlotsPanel.current = revived;
  }

  /** Asks the helper for the plots and sends them to the page; overlapping calls coalesce into one more. */
  private load(): Promise<void> {
    return this.loads.run();
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
    const message = { type: "more", plots: more.plots, errors: more.errors };
    if (this.last?.key === key) {
      this.last.more = message;
    }
    if (this.pageReady && this.screenDrawn && key === this.key()) {
      await this.panel.webview.postMessage(message);
    }
  }

  /** Sends the first answer of a load; the rest follows when the page has drawn what is on screen. */
  private post(message: unknown): void {
    this.screenDrawn = false;
    void this.panel.webview.postMessage(message);
  }

  /** What an answer answers: the names shown and the custom plots asked for. */
  private key(): string {
    return JSON.stringify([this.names, this.custom]);
  }

  private async fetch(): Promise<void> {
    const key = this.key();
    this.fetching = key;
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
      const message = { type: "data", result, names: this.names, custom: this.custom, customError, asked: this.asked };
      this.last = { key, message };
      if (this.pageReady) {
        this.post(message);
      }
      await this.fetchPending(key, result);
    } catch (error) {
      const message = `Plots failed: ${errorText(error)}`;
      this.output.appendLine(message);
      void vscode.window.showErrorMessage(plainMessage(message));
    } finally {
      this.fetching = undefined;
    }
  }

  /** Writes an exported chart or its data to .xp/plots/export/ and names the file in a notification. */
  private async save(message: ExportMessage): Promise<void> {
    const folder = this.helper.folder ?? vscode.workspace.workspaceFolders?.[0];
    if (!folder || !isExportFormat(message.format) || typeof message.id !== "string" || typeof message.content !== "string") {
      return;
    }
    const dir = vscode.Uri.joinPath(folder.uri, ".xp", "plots", "export");
    const file = vscode.Uri.joinPath(dir, exportFileName(message.id, message.format));
    try {
      await vscode.workspace.fs.createDirectory(dir);
      await vscode.workspace.fs.writeFile(file, Buffer.from(message.content, message.encoding === "base64" ? "base64" : "utf8"));
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

  dispose(): void {
    clearTimeout(this.liveTimer);
    if (PlotsPanel.current === this) {
      PlotsPanel.current = undefined;
    }
    this.panel.dispose();
    for (const d of this.disposables.splice(0)) {
      d.dispose();
    }
  }
}
