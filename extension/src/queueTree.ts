// The Queue view: entries and live workers from `xp/queueStatus`, loaded again on every
// `xp/queueChanged` notification; getChildren never does I/O.
import { Coalesced } from "./coalesce";
import * as vscode from "vscode";
import { type Helper, errorText } from "./helper";
import * as proto from "./protocol";
import { type QueueNode, buildQueueTree, queueCounts } from "./queueModel";

const ICONS: Record<string, vscode.ThemeIcon> = {
  queued: new vscode.ThemeIcon("clock"),
  running: new vscode.ThemeIcon("sync~spin"),
  success: new vscode.ThemeIcon("pass", new vscode.ThemeColor("testing.iconPassed")),
  failed: new vscode.ThemeIcon("error", new vscode.ThemeColor("testing.iconFailed")),
  cancelled: new vscode.ThemeIcon("circle-slash"),
};

export class QueueTree implements vscode.TreeDataProvider<QueueNode>, vscode.Disposable {
  private roots: QueueNode[] = [];
  private readonly loads = new Coalesced(() => this.load());
  private readonly changeEmitter = new vscode.EventEmitter<QueueNode | undefined>();
  private readonly countsEmitter = new vscode.EventEmitter<{ running: number; queued: number }>();
  readonly onDidChangeTreeData = this.changeEmitter.event;
  /** Fires after each load with the entries' running/queued counts (the status bar's numbers). */
  readonly onDidCount = this.countsEmitter.event;

  constructor(private readonly helper: Helper, private readonly output: vscode.OutputChannel) {}

  /** Loads the queue again; calls made while a load runs are folded into one more load after it. */
  reload(): Promise<void> {
    return this.loads.run();
  }

  /** Forgets what was shown (the helper stopped). */
  clear(): void {
    this.roots = [];
    this.changeEmitter.fire(undefined);
  }

  getChildren(node?: QueueNode): QueueNode[] {
    return node ? node.children : this.roots;
  }

  getTreeItem(node: QueueNode): vscode.TreeItem {
    const item = new vscode.TreeItem(node.label, node.children.length
      ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.None);
    item.id = node.id;
    item.description = node.description;
    item.tooltip = node.tooltip;
    item.contextValue = node.kind;
    item.iconPath = node.kind === "worker" ? new vscode.ThemeIcon("server-process")
      : node.kind === "group" ? new vscode.ThemeIcon("organization") : ICONS[node.status] ?? new vscode.ThemeIcon("circle-outline");
    item.accessibilityInformation = { label: `${node.label} ${node.description}`.trim() };
    return item;
  }

  dispose(): void {
    this.changeEmitter.dispose();
    this.countsEmitter.dispose();
  }

  private async load(): Promise<void> {
    try {
      const status = await this.helper.request(proto.queueStatus, {});
      this.roots = buildQueueTree(status, Date.now() / 1000);
      this.countsEmitter.fire(queueCounts(status));
    } catch (error) {
      this.output.appendLine(`Loading the queue failed: ${errorText(error)}`);
      return;
    }
    this.changeEmitter.fire(undefined);
  }
}
