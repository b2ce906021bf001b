// The Compare panel: 2 to 20 experiments side by side (xp/compareExperiments), drawn by
// dist/webview/compare.js. One panel, reused and revealed; it reloads when the helper says the
// experiments changed, and VS Code restores it after a reload (the serializer asks again for the
// names kept in the webview state). Strict CSP: nothing but our own script file, nonce-checked.
import * as vscode from "vscode";
import type { Helper } from "../helper";
import { errorText } from "../helper";
import * as proto from "../protocol";
import { plainMessage } from "../text";
import { type CompareHostMessage, type ComparePageMessage, parseCompareMessage, savedNames } from "./messages";
import { AnswerPanel, OnePanel } from "./panel";

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

export class ComparePanel extends AnswerPanel<ComparePageMessage, CompareHostMessage> {
  private static readonly one = new OnePanel<ComparePanel>(VIEW_TYPE);
  /** Which params/metrics rows to show (the Params & Metrics view's checkboxes); absent: all. */
  static showRow: ((section: string, file: string, key: string) => boolean) | undefined;

  private constructor(panel: vscode.WebviewPanel, private readonly helper: Helper, extensionUri: vscode.Uri, output: vscode.OutputChannel) {
    super(panel, ComparePanel.one, extensionUri, output, { scripts: ["compare.js"], style: STYLE, body: BODY }, parseCompareMessage);
    this.listen(helper.onExperimentsChanged(() => void this.load()));
  }

  protected onMessage(message: ComparePageMessage): void {
    switch (message.type) {
      case "ready":
        this.ready("Compare", message);
        break;
      case "drawn":
        this.output.appendLine(`Compare drawn at +${(message.drawn ?? 0) - this.opened} ms (answer received at +${(message.received ?? 0) - this.opened} ms).`);
        break;
      case "copy":
        void vscode.env.clipboard.writeText(message.markdown)
          .then(() => vscode.window.showInformationMessage("Copied the comparison as Markdown."));
        break;
    }
  }

  /** Opens (or reveals and refills) the panel for `names`, the first being the baseline. */
  static show(helper: Helper, extensionUri: vscode.Uri, output: vscode.OutputChannel, names: string[]): void {
    ComparePanel.one.open("Compare Experiments", extensionUri, (panel) => new ComparePanel(panel, helper, extensionUri, output))
      .showNames(names, `Compare: ${names.join(", ")}`);
  }

  /** Loads the open panel again (the columns to show changed). */
  static reloadCurrent(): void {
    void ComparePanel.one.current?.load();
  }

  /** Brings back a panel VS Code kept across a reload; its names are in the webview state. */
  static revive(panel: vscode.WebviewPanel, state: unknown, helper: Helper, extensionUri: vscode.Uri,
    output: vscode.OutputChannel): void {
    ComparePanel.one.revive(panel, (made) => new ComparePanel(made, helper, extensionUri, output)).names = savedNames(state);
  }

  protected async fetch(key: string): Promise<void> {
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
      this.answer(key, { type: "data", result, names });
    } catch (error) {
      const message = `Compare failed: ${errorText(error)}`;
      this.output.appendLine(message);
      void vscode.window.showErrorMessage(plainMessage(message));
    }
  }
}
