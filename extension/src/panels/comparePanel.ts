// The Compare panel: 2 to 20 experiments side by side (xp/compareExperiments), drawn by
// dist/webview/compare.js. One panel, reused and revealed; it reloads when the helper says the
// experiments changed, and VS Code restores it after a reload (the serializer asks again for the
// names kept in the webview state). Strict CSP: nothing but our own script file, nonce-checked.
import * as vscode from "vscode";
import type { Helper } from "../helper";
import { errorText } from "../helper";
import * as proto from "../protocol";
import { page, panelOptions, readyLine } from "./page";
import { plainMessage } from "../text";

export const VIEW_TYPE = "xp.compare";

const STYLE = `
  body { font-family: var(--vscode-font-family); color: var(--vscode-foreground); }
  .bar { display: flex; gap: 1em; align-items: center; margin: 0.5em 0 1em; }
  table { border-collapse: collapse; } th, td { padding: 2px 10px; text-align: left; white-space: nowrap; }
  td.value { font-family: var(--vscode-editor-font-family); }
  tr.changed td.key { font-weight: bold; } tr.changed { background: var(--vscode-diffEditor-insertedLineBackground, rgba(155,185,85,0.15)); }
  tr.section th { padding-top: 0.8em; border-bottom: 1px solid var(--vscode-panel-border); }
  .delta { opacity: 0.85; font-size: 0.9em; } .delta.up { color: var(--vscode-charts-green); } .delta.down { color: var(--vscode-charts-red); }
  .error { color: var(--vscode-errorForeground); }
  button { color: var(--vscode-button-foreground); background: var(--vscode-button-background); border: none; padding: 3px 10px; }`;

const BODY = `<div class="bar">
  <label><input type="checkbox" id="only-changed"> Only changed</label>
  <label>Sort <select id="sort-by"><option value="name">by name</option><option value="delta">by change</option></select></label>
  <button id="copy">Copy as Markdown</button>
</div>
<div id="table"></div>`;

function html(webview: vscode.Webview, extensionUri: vscode.Uri): string {
  return page(webview, extensionUri, { scripts: ["compare.js"], style: STYLE, body: BODY });
}

export class ComparePanel {
  private static current: ComparePanel | undefined;
  /** Which params/metrics rows to show (the Params & Metrics view's checkboxes); absent: all. */
  static showRow: ((section: string, file: string, key: string) => boolean) | undefined;
  private names: string[] = [];
  private readonly disposables: vscode.Disposable[] = [];
  /** The newest answer, for the names it answers: posted as soon as a new page says it is ready. */
  private last: { key: string; message: unknown } | undefined;
  private readonly opened = Date.now();

  private constructor(private readonly panel: vscode.WebviewPanel, private readonly helper: Helper,
    extensionUri: vscode.Uri, private readonly output: vscode.OutputChannel) {
    panel.webview.options = panelOptions(extensionUri);
    panel.webview.html = html(panel.webview, extensionUri);
    this.disposables.push(
      panel.onDidDispose(() => this.dispose()),
      panel.webview.onDidReceiveMessage((message: { type?: string; markdown?: string; received?: number; drawn?: number; began?: unknown; scriptRan?: unknown; nav?: unknown }) => {
        if (message?.type === "ready") {
          this.output.appendLine(readyLine("Compare", this.opened, message));
          // The page was not listening when the first answer came: send that one, or ask now.
          if (this.last?.key === this.names.join("\n")) {
            void this.panel.webview.postMessage(this.last.message);
          } else {
            void this.load();
          }
        } else if (message?.type === "drawn") {
          this.output.appendLine(`Compare drawn at +${(message.drawn ?? 0) - this.opened} ms (answer received at +${(message.received ?? 0) - this.opened} ms).`);
        } else if (message?.type === "copy" && typeof message.markdown === "string") {
          void vscode.env.clipboard.writeText(message.markdown)
            .then(() => vscode.window.showInformationMessage("Copied the comparison as Markdown."));
        }
      }),
      helper.onExperimentsChanged(() => void this.load()),
    );
  }

  /** Opens (or reveals and refills) the panel for `names`, the first being the baseline. */
  static show(helper: Helper, extensionUri: vscode.Uri, output: vscode.OutputChannel, names: string[]): void {
    if (!ComparePanel.current) {
      const panel = vscode.window.createWebviewPanel(VIEW_TYPE, "Compare Experiments", vscode.ViewColumn.Active,
        panelOptions(extensionUri));
      ComparePanel.current = new ComparePanel(panel, helper, extensionUri, output);
    }
    const current = ComparePanel.current;
    current.names = names;
    current.panel.title = `Compare: ${names.join(", ")}`;
    current.panel.reveal();
    void current.load();
  }

  /** Loads the open panel again (the columns to show changed). */
  static reloadCurrent(): void {
    void ComparePanel.current?.load();
  }

  /** Brings back a panel VS Code kept across a reload; its names are in the webview state. */
  static revive(panel: vscode.WebviewPanel, state: unknown, helper: Helper, extensionUri: vscode.Uri,
    output: vscode.OutputChannel): void {
    ComparePanel.current?.panel.dispose();
    const revived = new ComparePanel(panel, helper, extensionUri, output);
    const names = (state as { names?: unknown } | undefined)?.names;
    revived.names = Array.isArray(names) ? names.filter((n): n is string => typeof n === "string") : [];
    ComparePanel.current = revived;
  }

  private async load(): Promise<void> {
    if (this.names.length < 2) {
      return;
    }
    try {
      const names = this.names;
      const asked = performance.now();
      const result = await this.helper.request(proto.compareExperiments, { names });
      const showRow = ComparePanel.showRow;
      if (showRow) {
        result.rows = result.rows.filter((row) => showRow(row.section, row.path, row.key));
      }
      this.output.appendLine(`Compare of ${names.length}: the helper answered in ${(performance.now() - asked).toFixed(0)} ms ` +
        `(${result.rows.length} rows).`);
      const message = { type: "data", result, names };
      this.last = { key: names.join("\n"), message };
      await this.panel.webview.postMessage(message);
    } catch (error) {
      const message = `Compare failed: ${errorText(error)}`;
      this.output.appendLine(message);
      void vscode.window.showErrorMessage(plainMessage(message));
    }
  }

  dispose(): void {
    if (ComparePanel.current === this) {
      ComparePanel.current = undefined;
    }
    this.panel.dispose();
    for (const d of this.disposables.splice(0)) {
      d.dispose();
    }
  }
}
