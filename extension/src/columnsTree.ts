// The Params & Metrics view: every column of the last Experiments load, grouped by file, with
// checkboxes choosing what the table panel, the Compare panel and the Experiments tree show, and
// the headline metric (with higher/lower is better). The choices live in the workspace's state
// (workspaceState), so each project keeps its own; columns come from the Experiments tree's rows,
// so the view asks the helper nothing itself.
import * as vscode from "vscode";
import { type ColumnChoices, type ColumnInfo, type ColumnNode, DEFAULT_CHOICES, columnTree, findColumns, headlineColumnId,
  headlineOption, parseChoices, setShown, shownTest, visibleColumns } from "./columnsModel";
import { headlineMetric } from "./config";
import type { ViewOptions } from "./experimentsModel";
import type { ExperimentsTree } from "./experimentsTree";

const STATE_KEY = "xp.columns";

export class ColumnsView implements vscode.TreeDataProvider<ColumnNode>, vscode.Disposable {
  private columns: ColumnInfo[] = [];
  private roots: ColumnNode[] = [];
  private current: ColumnChoices;
  private readonly treeEmitter = new vscode.EventEmitter<ColumnNode | undefined>();
  private readonly choicesEmitter = new vscode.EventEmitter<void>();
  private readonly disposables: vscode.Disposable[] = [];
  readonly onDidChangeTreeData = this.treeEmitter.event;
  /** Fires when the person changes a choice (shown columns, headline, direction). */
  readonly onDidChangeChoices = this.choicesEmitter.event;

  constructor(private readonly state: vscode.Memento, private readonly experiments: ExperimentsTree) {
    this.current = parseChoices(state.get(STATE_KEY, DEFAULT_CHOICES));
    this.disposables.push(experiments.onDidLoad(() => this.update()));
    this.update();
  }

  /** The choices now. */
  get choices(): ColumnChoices {
    return this.current;
  }

  /** Every column of the last load. */
  get allColumns(): readonly ColumnInfo[] {
    return this.columns;
  }

  /** The columns chosen for `rows` (a filtered load may have fewer columns than the tree's). */
  chosen(columns: readonly ColumnInfo[]): ColumnInfo[] {
    return visibleColumns(columns, this.current);
  }

  /** What the Experiments tree draws with: the chosen headline (else the setting) and the shown params. */
  treeOptions(): ViewOptions {
    return { headlineMetric: headlineOption(this.columns, this.current, headlineMetric()), showColumn: shownTest(this.current) };
  }

  /** The id of the headline column as the tree shows it (empty when none). */
  headlineId(): string {
    return headlineColumnId(this.columns, headlineOption(this.columns, this.current, headlineMetric()));
  }

  /** Rebuilds the nodes from the tree's rows (after a load, or a choice or setting changed). */
  update(): void {
    this.columns = findColumns(this.experiments.rows);
    this.roots = columnTree(this.columns, this.current, this.headlineId());
    this.treeEmitter.fire(undefined);
  }

  /** Stores new choices and redraws everything that depends on them. */
  async setChoices(choices: ColumnChoices): Promise<void> {
    this.current = choices;
    await this.state.update(STATE_KEY, choices);
    this.update();
    this.experiments.redraw();
    this.choicesEmitter.fire();
  }

  /** The checkboxes ticked or unticked (a file stands for its columns). */
  async onChecked(items: readonly (readonly [ColumnNode, vscode.TreeItemCheckboxState])[]): Promise<void> {
    let choices = this.current;
    for (const [node, checked] of items) {
      choices = setShown(choices, [node.id], checked === vscode.TreeItemCheckboxState.Checked, this.columns);
    }
    await this.setChoices(choices);
  }

  getChildren(node?: ColumnNode): ColumnNode[] {
    return node ? node.children : this.roots;
  }

  getTreeItem(node: ColumnNode): vscode.TreeItem {
    const item = new vscode.TreeItem(node.label,
      node.kind === "file" ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.None);
    item.id = node.id;
    item.description = node.description;
    item.tooltip = node.tooltip;
    item.checkboxState = node.checked ? vscode.TreeItemCheckboxState.Checked : vscode.TreeItemCheckboxState.Unchecked;
    item.contextValue = node.kind === "file" ? "columnFile"
      : node.column?.section === "metrics" ? (node.description.startsWith("headline") ? "headlineMetric" : "metric") : "param";
    if (node.description.startsWith("headline")) {
      item.iconPath = new vscode.ThemeIcon(this.current.higherIsBetter ? "arrow-up" : "arrow-down");
    }
    item.accessibilityInformation = { label: `${node.label} ${node.description}`.trim() };
    return item;
  }

  dispose(): void {
    this.treeEmitter.dispose();
    this.choicesEmitter.dispose();
    for (const d of this.disposables.splice(0)) {
      d.dispose();
    }
  }
}

/** The Params & Metrics commands: id (as in package.json) → handler. */
export function columnCommands(view: ColumnsView): Record<string, (...args: unknown[]) => Promise<void>> {
  return {
    "xp.setHeadlineMetric": async (node?: unknown) => {
      let id = (node as ColumnNode | undefined)?.column?.section === "metrics" ? (node as ColumnNode).id : "";
      if (!id) {
        const metrics = view.allColumns.filter((c) => c.section === "metrics");
        const picked = await vscode.window.showQuickPick(metrics.map((c) => ({ label: c.label, description: c.file, id: c.id })),
          { title: "Set as Headline Metric" });
        id = picked?.id ?? "";
      }
      if (id) {
        await view.setChoices({ ...view.choices, headline: id });
      }
    },
    "xp.toggleHigherIsBetter": async () => {
      await view.setChoices({ ...view.choices, higherIsBetter: !view.choices.higherIsBetter });
      void vscode.window.showInformationMessage(`Headline metric: ${view.choices.higherIsBetter ? "higher" : "lower"} is better.`);
    },
    "xp.showAllColumns": async () => {
      await view.setChoices({ ...view.choices, hidden: [] });
    },
  };
}
