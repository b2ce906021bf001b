// The Experiments view: draws the nodes of experimentsModel.ts. It asks the helper for rows only
// when the helper says experiments changed (`xp/experimentsChanged`) or has just become ready;
// getChildren hands out what the last load built and never waits for I/O. Rows come without
// checkpoints (a thousand experiments with twenty each would be twenty thousand rows); an
// experiment's checkpoints are asked for when it is first expanded, and kept while its ref stays.
import { Coalesced } from "./coalesce";
import * as vscode from "vscode";
import { headlineMetric } from "./config";
import { type ExperimentNode, type Status, type ViewOptions, buildTree, checkpointNodes, checkpointsKey, pickHeadline,
  withLiveMetrics } from "./experimentsModel";
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
/** The last rows drawn, kept in the workspace's storage folder so the next window opens with them. */
const SNAPSHOT_FILE = "experiments-snapshot.json";
const SNAPSHOT_VERSION = 1;
/** A load is saved this long after it (loads come in bursts while experiments run). */
const SNAPSHOT_DELAY_MS = 1000;

export class ExperimentsTree implements vscode.TreeDataProvider<ExperimentNode>, vscode.Disposable {
  private roots: ExperimentNode[] = [];
  private rowsCache: proto.ExperimentRow[] = [];
  private readonly loads = new Coalesced(() => this.load());
  private loggedFirstLoad = false;
  /** Loaded checkpoint nodes by checkpointsKey; pruned to the experiments of each load. */
  private checkpoints = new Map<string, ExperimentNode[]>();
  private readonly fetching = new Set<string>();
  /** Bumped by every load and clear: a snapshot read that started before either is dropped. */
  private epoch = 0;
  private saveTimer: NodeJS.Timeout | undefined;
  private staleRows = false;
  private readonly staleEmitter = new vscode.EventEmitter<boolean>();
  /** Fires when the view starts or stops showing the last session's rows (the helper is not up yet). */
  readonly onDidChangeStale = this.staleEmitter.event;
  private starredOnlyState = false;
  private readonly changeEmitter = new vscode.EventEmitter<ExperimentNode | undefined>();
  private readonly loadedEmitter = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changeEmitter.event;
  /** Fires after each load has been drawn. */
  readonly onDidLoad = this.loadedEmitter.event;
  /** How rows are described (the Params & Metrics view's choices); absent: from the settings alone. */
  viewOptions: (() => ViewOptions) | undefined;

  constructor(private readonly helper: Helper, private readonly output: vscode.OutputChannel,
    private readonly storage: vscode.Uri | undefined) {}

  /** True while the rows shown are the last session's, not yet the helper's. */
  get stale(): boolean {
    return this.staleRows;
  }

  /**
   * Draws the rows the last session saved, while the helper starts (a second or more with a
   * thousand experiments): the view opens with what it showed before, marked as such, and the
   * helper's rows replace them as soon as they come. Never called before activate() returned.
   */
  async restoreSnapshot(): Promise<void> {
    if (!this.storage) {
      return;
    }
    const epoch = this.epoch;
    const started = performance.now();
    let rows: proto.ExperimentRow[];
    try {
      const raw = await vscode.workspace.fs.readFile(vscode.Uri.joinPath(this.storage, SNAPSHOT_FILE));
      const data = JSON.parse(new TextDecoder().decode(raw)) as { version?: number; folder?: unknown; rows?: unknown };
      if (data.version !== SNAPSHOT_VERSION || !Array.isArray(data.rows) || data.folder !== this.expectedFolder()) {
        return;
      }
      rows = data.rows as proto.ExperimentRow[];
    } catch {
      return; // No snapshot yet, or a torn one: the helper's rows come soon anyway.
    }
    if (epoch !== this.epoch || this.rowsCache.length || !rows.length) {
      return;
    }
    this.rowsCache = rows;
    this.setStale(true);
    this.redraw();
    this.output.appendLine(`Drew ${rows.length} rows from the last session in ${(performance.now() - started).toFixed(0)} ms.`);
  }

  /** The folder a snapshot must be of: the served one, or the only folder open (multi-root waits for the helper). */
  private expectedFolder(): string | undefined {
    const folders = vscode.workspace.workspaceFolders ?? [];
    return (this.helper.projectDir ?? this.helper.folder?.uri)?.toString() ??
      (folders.length === 1 ? folders[0].uri.toString() : undefined);
  }

  private setStale(stale: boolean): void {
    if (stale !== this.staleRows) {
      this.staleRows = stale;
      this.staleEmitter.fire(stale);
    }
  }

  private scheduleSave(): void {
    if (!this.storage || this.saveTimer) {
      return;
    }
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      void this.save();
    }, SNAPSHOT_DELAY_MS);
  }

  private async save(): Promise<void> {
    if (!this.storage || this.staleRows) {
      return;
    }
    try {
      await vscode.workspace.fs.createDirectory(this.storage);
      const folder = (this.helper.projectDir ?? this.helper.folder?.uri)?.toString();
      const text = JSON.stringify({ version: SNAPSHOT_VERSION, folder, rows: this.rowsCache });
      await vscode.workspace.fs.writeFile(vscode.Uri.joinPath(this.storage, SNAPSHOT_FILE), new TextEncoder().encode(text));
    } catch (error) {
      this.output.appendLine(`Could not save the experiments snapshot: ${errorText(error)}`);
    }
  }

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
    return this.loads.run();
  }

  /** Forgets what was shown (the helper stopped): the view shows its welcome text instead. */
  clear(): void {
    this.epoch++;
    this.setStale(false);
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
    this.roots = buildTree(this.rowsCache,
      { ...(this.viewOptions?.() ?? { headlineMetric: headlineMetric() }), starredOnly: this.starredOnlyState });
    this.changeEmitter.fire(undefined);
  }

  getChildren(node?: ExperimentNode): ExperimentNode[] {
    if (!node) {
      return this.roots;
    }
    if (node.kind === "experiment" && node.hasCheckpoints && !node.children.length) {
      const loaded = this.checkpoints.get(checkpointsKey(node));
      if (loaded) {
        node.children = loaded;
        return loaded;
      }
      void this.fetchCheckpoints(node);
      return [{ ...node, kind: "error", id: `${node.id}:loading`, label: "Loading checkpoints…", description: "",
        tooltip: "", status: "unknown", children: [], hasCheckpoints: false }];
    }
    return node.children;
  }

  /** Asks the helper for one experiment's checkpoints, then redraws that experiment. */
  private async fetchCheckpoints(node: ExperimentNode): Promise<void> {
    const key = checkpointsKey(node);
    if (this.fetching.has(key)) {
      return;
    }
    this.fetching.add(key);
    try {
      const result = await this.helper.request(proto.showExperiments, { checkpointsOf: node.name, revs: [node.baseline] });
      this.checkpoints.set(key, checkpointNodes(result.rows, pickHeadline(this.rowsCache, headlineMetric())));
      this.changeEmitter.fire(node);
    } catch (error) {
      this.output.appendLine(`Loading the checkpoints of ${node.name} failed: ${errorText(error)}`);
    } finally {
      this.fetching.delete(key);
    }
  }

  getTreeItem(node: ExperimentNode): vscode.TreeItem {
    const collapsible = node.kind === "experiment"
      ? (node.children.length || node.hasCheckpoints ? vscode.TreeItemCollapsibleState.Collapsed
        : vscode.TreeItemCollapsibleState.None)
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
    clearTimeout(this.saveTimer);
    this.staleEmitter.dispose();
    this.changeEmitter.dispose();
    this.loadedEmitter.dispose();
  }

  private async load(): Promise<void> {
    const started = performance.now();
    const rows: proto.ExperimentRow[] = [];
    try {
      let cursor: string | undefined;
      do {
        const page = await this.helper.request(proto.showExperiments,
          cursor ? { limit: PAGE, cursor, checkpoints: false } : { limit: PAGE, checkpoints: false });
        rows.push(...page.rows);
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      // Pages are offsets into the helper's table: a change between two pages can repeat a row,
      // which the tree would reject as a duplicate id (the change's notification reloads anyway).
      const seen = new Set<string>();
      rows.splice(0, rows.length, ...rows.filter((row) => {
        const key = `${row.kind}:${row.rev}:${row.name}`;
        return !seen.has(key) && (seen.add(key), true);
      }));
    } catch (error) {
      this.output.appendLine(`Loading experiments failed: ${errorText(error)}`);
      return;
    }
    this.epoch++;
    this.rowsCache = rows;
    this.setStale(false);
    this.redraw();
    this.scheduleSave();
    const current = new Set(this.roots.flatMap((root) => root.children).map(checkpointsKey));
    for (const key of this.checkpoints.keys()) {
      if (!current.has(key)) {
        this.checkpoints.delete(key);
      }
    }
    this.loadedEmitter.fire();
    if (!this.loggedFirstLoad) {
      this.loggedFirstLoad = true;
      this.output.appendLine(`Loaded ${rows.length} experiment rows in ${(performance.now() - started).toFixed(0)} ms.`);
    }
  }
}
