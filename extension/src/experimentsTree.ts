// The Experiments view: draws the nodes of experimentsModel.ts. It asks the helper for rows only
// when the helper says experiments changed (`xp/experimentsChanged`) or has just become ready;
// getChildren hands out what the last load built and never does I/O.
import * as vscode from "vscode";
import { headlineMetric } from "./config";
import { type ExperimentNode, type Status, buildTree, withLiveMetrics } from "./experimentsModel";
import { type Helper, errorText } from "./helper";
import * as proto from "./protocol";

const ICONS: Record<Status, vscode.ThemeIcon> = {
  workspace: new vscode.ThemeIcon("edit"),
  baseline: new vscode.ThemeIcon("git-commit"),
  queued: new vscode.ThemeIcon("clock"),
  running: new vscode.ThemeIcon("sync~spin"),
  success: new vscode.ThemeIcon("pass", new vscode.ThemeColor("testing.iconPassed")),
  failed: new vscode.ThemeIcon("error", new vscode.ThemeColor("testing.iconFailed")),
  cancelled: new vscode.ThemeIcon("circle-slash"),
  unknown: new vscode.ThemeIcon("circle-outline"),
};

/** Rows fetched per `xp/showExperiments` page. */
const PAGE = 500;

export class ExperimentsTree implements vscode.TreeDataProvider<ExperimentNode>, vscode.Disposable {
  private roots: ExperimentNode[] = [];
  private rowsCache: proto.ExperimentRow[] = [];
  private loading: Promise<void> | undefined;
  private again = false;
  private loggedFirstLoad = false;
  private starredOnlyState = false;
  private readonly changeEmitter = new vscode.EventEmitter<ExperimentNode | undefined>();
  private readonly loadedEmitter = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changeEmitter.event;
  /** Fires after each load has been drawn. */
  readonly onDidLoad = this.loadedEmitter.event;

  constructor(private readonly helper: Helper, private readonly output: vscode.OutputChannel) {}

  /** The rows of the last load (the workspace row first). */
  get rows(): readonly proto.ExperimentRow[] {
    return this.rowsCache;
  }

  /** The root nodes of the last load. */
  get nodes(): readonly ExperimentNode[] {
    return this.roots;
  }

  /** Loads the rows again; calls made while a load runs are folded into one more load after it. */
  reload(): Promise<void> {
    if (this.loading) {
      this.again = true;
      return this.loading;
    }
    this.loading = this.load().finally(() => {
      this.loading = undefined;
      if (this.again) {
        this.again = false;
        void this.reload();
      }
    });
    return this.loading;
  }

  /** Forgets what was shown (the helper stopped): the view shows its welcome text instead. */
  clear(): void {
    this.rowsCache = [];
    this.roots = [];
    this.changeEmitter.fire(undefined);
  }

  /** A running experiment's newest step: its row shows these metrics at once (no request). */
  showLiveMetrics(params: proto.LiveMetricsUpdatedParams): void {
    const rows = withLiveMetrics(this.rowsCache, params);
    if (rows !== this.rowsCache) {
      this.rowsCache = rows;
      this.redraw();
    }
  }

  /** True while the view shows only starred experiments. */
  get starredOnly(): boolean {
    return this.starredOnlyState;
  }

  /** Shows only starred experiments (or all again); the context key `xp.starredOnly` picks the title button. */
  setStarredOnly(value: boolean): void {
    this.starredOnlyState = value;
    void vscode.commands.executeCommand("setContext", "xp.starredOnly", value);
    this.redraw();
  }

  /** Draws the same rows again (a display setting changed). */
  redraw(): void {
    this.roots = buildTree(this.rowsCache, { headlineMetric: headlineMetric(), starredOnly: this.starredOnlyState });
    this.changeEmitter.fire(undefined);
  }

  getChildren(node?: ExperimentNode): ExperimentNode[] {
    return node ? node.children : this.roots;
  }

  getTreeItem(node: ExperimentNode): vscode.TreeItem {
    const collapsible = node.kind === "experiment"
      ? (node.children.length ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None)
      : node.kind !== "baseline" ? vscode.TreeItemCollapsibleState.None
        : node === this.roots.find((n) => n.kind === "baseline") ? vscode.TreeItemCollapsibleState.Expanded
          : vscode.TreeItemCollapsibleState.Collapsed;
    // A plain-string label, description and tooltip: helper text is shown as text, never markup.
    const item = new vscode.TreeItem(node.label, collapsible);
    item.id = node.id;
    item.description = node.description;
    item.tooltip = node.tooltip;
    item.iconPath = ICONS[node.status];
    item.contextValue = node.kind;
    item.accessibilityInformation = { label: `${node.label} ${node.description}`.trim() };
    return item;
  }

  dispose(): void {
    this.changeEmitter.dispose();
    this.loadedEmitter.dispose();
  }

  private async load(): Promise<void> {
    const started = performance.now();
    const rows: proto.ExperimentRow[] = [];
    try {
      let cursor: string | undefined;
      do {
        const page = await this.helper.request(proto.showExperiments, cursor ? { limit: PAGE, cursor } : { limit: PAGE });
        rows.push(...page.rows);
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
    } catch (error) {
      this.output.appendLine(`Loading experiments failed: ${errorText(error)}`);
      return;
    }
    this.rowsCache = rows;
    this.redraw();
    this.loadedEmitter.fire();
    if (!this.loggedFirstLoad) {
      this.loggedFirstLoad = true;
      this.output.appendLine(`Loaded ${rows.length} experiment rows in ${(performance.now() - started).toFixed(0)} ms.`);
    }
  }
}
