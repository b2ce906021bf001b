// The Experiments table panel: every experiment of the shown baselines as rows and the columns
// chosen in the Params & Metrics view, drawn by dist/webview/table.js. The filter text goes to the
// helper (xp/showExperiments `filter`, the language of `xp exp show --filter`); a bad expression
// comes back as the helper's error, shown as text under the box. Rows reload when the helper says
// experiments changed, and a running experiment's row takes each live step at once. One panel,
// reused; VS Code restores it after a reload (its filter is in the webview state).
import { Coalesced } from "../coalesce";
import * as vscode from "vscode";
import { findColumns } from "../columnsModel";
import type { ColumnsView } from "../columnsTree";
import { withLiveMetrics } from "../experimentsModel";
import type { ExperimentsTree } from "../experimentsTree";
import { type Helper, errorText, isBadInput } from "../helper";
import * as proto from "../protocol";
import { buildTableData } from "../tableModel";
import { plainMessage } from "../text";
import { ComparePanel } from "./comparePanel";
import { type TableHostMessage, type TablePageMessage, parseTableMessage } from "./messages";
import { OnePanel, Panel } from "./panel";
import { PlotsPanel } from "./plotsPanel";

export const VIEW_TYPE = "xp.table";

/** Rows fetched per xp/showExperiments page. */
const PAGE = 500;
/** Live steps arriving within this long are drawn together. */
const LIVE_DELAY_MS = 200;

const STYLE = `
  html, body { height: 100%; margin: 0; padding: 0; overflow: hidden; }
  body { display: flex; flex-direction: column; font-family: var(--vscode-font-family); font-size: var(--vscode-font-size);
    color: var(--vscode-foreground); background: var(--vscode-editor-background); }
  .bar { display: flex; gap: 0.8em; align-items: center; padding: 6px 8px; flex: none; }
  #filter { flex: 1; min-width: 12em; max-width: 40em; font-family: var(--vscode-editor-font-family); color: var(--vscode-input-foreground);
    background: var(--vscode-input-background); border: 1px solid var(--vscode-input-border, transparent); padding: 3px 6px; }
  button { color: var(--vscode-button-foreground); background: var(--vscode-button-background); border: none; padding: 3px 10px; cursor: pointer; }
  #error { color: var(--vscode-errorForeground); padding: 0 8px; font-family: var(--vscode-editor-font-family); flex: none; white-space: pre-wrap; }
  #error:empty { display: none; }
  #scroller { flex: 1; overflow: auto; position: relative; contain: strict; }
  #canvas { position: relative; min-width: 100%; }
  #head { position: sticky; top: 0; z-index: 3; display: flex; height: 28px; background: var(--vscode-editor-background);
    border-bottom: 1px solid var(--vscode-panel-border); font-weight: 600; }
  .row { position: absolute; left: 0; right: 0; display: flex; height: 24px; line-height: 24px; cursor: default; }
  .row:hover .cell { background: var(--vscode-list-hoverBackground); }
  .row.selected .cell { background: var(--vscode-list-activeSelectionBackground, #04395e); color: var(--vscode-list-activeSelectionForeground, #fff); }
  .row.baseline .name, .row.workspace .name { font-weight: 600; }
  .row.checkpoint .name { padding-left: 24px; opacity: 0.85; }
  .row.best .value, .row.best .name { font-weight: 600; }
  .cell { flex: none; width: 110px; padding: 0 6px; box-sizing: border-box; overflow: hidden; text-overflow: ellipsis; white-space: nowrap;
    background: var(--vscode-editor-background); }
  .value { font-family: var(--vscode-editor-font-family); text-align: right; }
  .gap { flex: none; }
  .name { width: 260px; position: sticky; left: 0; z-index: 2; border-right: 1px solid var(--vscode-panel-border); }
  .star { width: 28px; text-align: center; color: var(--vscode-charts-yellow); }
  #head .cell { line-height: 28px; cursor: pointer; }
  #head .metrics { color: var(--vscode-charts-blue); } #head .params { color: var(--vscode-charts-purple); }
  #head .headline .label { text-decoration: underline; }
  .status { opacity: 0.75; font-weight: normal; }
  #menu { position: fixed; z-index: 10; display: flex; flex-direction: column; min-width: 180px; padding: 4px 0;
    background: var(--vscode-menu-background); color: var(--vscode-menu-foreground); border: 1px solid var(--vscode-menu-border, var(--vscode-panel-border)); }
  #menu[hidden] { display: none; }
  #menu .item { background: transparent; color: inherit; text-align: left; padding: 4px 14px; }
  #menu .item:hover { background: var(--vscode-menu-selectionBackground); color: var(--vscode-menu-selectionForeground); }
  .loading { padding: 40px 8px 0; }`;

const BODY = `<div class="bar">
  <input id="filter" type="text" spellcheck="false" aria-label="Filter"
    placeholder="Filter, as xp exp show --filter: accuracy>0.8 and train.lr<=0.1 (Enter)">
  <span id="count"></span>
  <label><input type="checkbox" id="checkpoints"> Checkpoints</label>
  <button id="compare">Compare selected</button>
  <button id="plot">Plot selected</button>
  <span id="selected"></span>
</div>
<div id="error"></div>
<div id="scroller" role="grid" aria-label="Experiments" tabindex="0"><div id="canvas"><div id="head" role="row"></div><div id="rows"></div></div></div>
<div id="menu" hidden></div>`;

/** Row menu action → the command it runs (the tree's own; "Queue a Variation of This" lives with the row commands). */
const ROW_ACTIONS: Record<string, string> = {
  apply: "xp.applyExperiment", branch: "xp.branchExperiment", remove: "xp.removeExperiments", queueVariation: "xp.queueVariation",
};

export class TablePanel extends Panel<TablePageMessage, TableHostMessage> {
  private static readonly one = new OnePanel<TablePanel>(VIEW_TYPE);
  private filter = "";
  /** Checkpoint rows wanted (the page's toggle): the tree's rows have none, so the helper is asked. */
  private checkpoints = false;
  private rows: proto.ExperimentRow[] = [];
  private readonly loads = new Coalesced(() => this.load());
  private ready = false;
  private logged = false;
  private actions: string[] = [];
  private livePost: ReturnType<typeof setTimeout> | undefined;

  private constructor(panel: vscode.WebviewPanel, private readonly helper: Helper, private readonly extensionUri: vscode.Uri,
    output: vscode.OutputChannel, private readonly columns: ColumnsView, private readonly experiments: ExperimentsTree) {
    super(panel, TablePanel.one, extensionUri, output, { scripts: ["table.js"], style: STYLE, body: BODY }, parseTableMessage);
    this.listen(
      // Without a filter (or checkpoints) the table shows the Experiments tree's rows (loaded once
      // for both); otherwise the helper answers, and loads again when experiments change.
      experiments.onDidLoad(() => !this.ownRows && void this.reload()),
      helper.onExperimentsChanged(() => this.ownRows && void this.reload()),
      // A panel restored while the helper was still starting loads again once it runs.
      helper.onDidChangeState((state) => state === "running" && this.ownRows && void this.reload()),
      helper.onLiveMetrics((params) => {
        const rows = withLiveMetrics(this.rows, params);
        if (rows !== this.rows) {
          this.rows = rows;
          this.postSoon();
        }
      }),
      columns.onDidChangeChoices(() => void this.sendTable()),
    );
  }

  /** Opens (or reveals) the panel. */
  static show(helper: Helper, extensionUri: vscode.Uri, output: vscode.OutputChannel, columns: ColumnsView,
    experiments: ExperimentsTree): void {
    if (TablePanel.one.current) {
      TablePanel.one.current.panel.reveal();
      return;
    }
    TablePanel.one.open("Experiments Table", extensionUri, (panel) => new TablePanel(panel, helper, extensionUri, output, columns, experiments));
  }

  /** Brings back a panel VS Code kept across a reload; the page sends its filter when it is ready. */
  static revive(panel: vscode.WebviewPanel, helper: Helper, extensionUri: vscode.Uri, output: vscode.OutputChannel,
    columns: ColumnsView, experiments: ExperimentsTree): void {
    TablePanel.one.revive(panel, (made) => new TablePanel(made, helper, extensionUri, output, columns, experiments));
  }

  protected async onMessage(message: TablePageMessage): Promise<void> {
    switch (message.type) {
      case "ready":
        // The row menu offers only actions whose command is registered.
        if (!this.actions.length) {
          const registered = new Set(await vscode.commands.getCommands(true));
          this.actions = Object.keys(ROW_ACTIONS).filter((action) => registered.has(ROW_ACTIONS[action]));
        }
        this.ready = true;
        this.filter = message.filter;
        this.checkpoints = message.checkpoints;
        await this.reload();
        break;
      case "checkpoints":
        this.checkpoints = message.on;
        await this.reload();
        break;
      case "filter":
        this.filter = message.text;
        await this.reload();
        break;
      case "compare":
        if (message.names.length < 2 || message.names.length > 20) {
          void vscode.window.showWarningMessage(`Select 2 to 20 rows to compare (${message.names.length} selected).`);
        } else {
          ComparePanel.show(this.helper, this.extensionUri, this.output, message.names);
        }
        break;
      case "plot":
        if (!message.names.length || message.names.length > 20) {
          void vscode.window.showWarningMessage(`Select 1 to 20 rows to plot (${message.names.length} selected).`);
        } else {
          PlotsPanel.show(this.helper, this.extensionUri, this.output, message.names);
        }
        break;
      case "action":
        await this.runAction(message.action, message.name, message.names);
        break;
    }
  }

  /** A row's context action, through the same commands as the Experiments tree (they take tree-node-like arguments). */
  private async runAction(action: string, name: string, names: string[]): Promise<void> {
    const node = (n: string) => ({ kind: "experiment", name: n, label: n });
    const command = ROW_ACTIONS[action];
    if (command && name) {
      const targets = action === "remove" && names.length ? names : [name];
      await vscode.commands.executeCommand(command, node(name), targets.map(node));
    }
  }

  /** Loads the rows again; calls made while a load runs are folded into one more load after it. */
  private reload(): Promise<void> {
    return this.ready ? this.loads.run() : Promise.resolve();
  }

  /** True when the rows come from the helper rather than from the Experiments tree. */
  private get ownRows(): boolean {
    return !!this.filter || this.checkpoints;
  }

  private async load(): Promise<void> {
    const filter = this.filter;
    if (!this.ownRows) {
      // The tree's rows (empty until its first load, which then calls reload again).
      if (this.experiments.rows.length) {
        this.rows = [...this.experiments.rows];
        await this.sendTable();
      }
      return;
    }
    const rows: proto.ExperimentRow[] = [];
    try {
      let cursor: string | undefined;
      do {
        const params: proto.ShowExperimentsParams = { limit: PAGE, checkpoints: this.checkpoints };
        if (cursor) {
          params.cursor = cursor;
        }
        if (filter) {
          params.filter = filter;
        }
        const result = await this.helper.request(proto.showExperiments, params);
        rows.push(...result.rows);
        cursor = result.nextCursor ?? undefined;
      } while (cursor);
    } catch (error) {
      if (filter && isBadInput(error)) {
        await this.post({ type: "filterError", error: errorText(error) });
        return;
      }
      const message = `Loading the experiments table failed: ${errorText(error)}`;
      this.output.appendLine(message);
      void vscode.window.showErrorMessage(plainMessage(message));
      return;
    }
    this.rows = rows;
    await this.sendTable();
  }

  /**
   * Sends the table within LIVE_DELAY_MS: several runs logging steps at once cost one post (the
   * whole table is sent, which for 1,000 × 200 is a few megabytes).
   */
  private postSoon(): void {
    if (!this.livePost) {
      this.livePost = setTimeout(() => {
        this.livePost = undefined;
        void this.sendTable();
      }, LIVE_DELAY_MS);
    }
  }

  /** Sends the table (the chosen columns of the rows loaded) to the page. */
  private async sendTable(): Promise<void> {
    const started = performance.now();
    const columns = this.columns.chosen(findColumns(this.rows));
    const table = buildTableData(this.rows, columns);
    const built = performance.now();
    await this.post({
      type: "data", table, headline: this.columns.headlineId(), higherIsBetter: this.columns.choices.higherIsBetter, filter: this.filter,
      actions: this.actions,
    });
    if (!this.logged) {
      this.logged = true;
      this.output.appendLine(`Experiments table: ${table.rows.length} rows × ${columns.length} columns built in ${(built - started).toFixed(0)} ms, `
        + `posted in ${(performance.now() - built).toFixed(0)} ms.`);
    }
  }

  override dispose(): void {
    clearTimeout(this.livePost);
    super.dispose();
  }
}
