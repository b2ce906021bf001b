// Entry point: activation only wires things up (views, commands, status bar) and starts the
// helper without waiting for it, so activation stays far below its 300 ms budget; everything
// that takes time happens after, and the views say what state the helper is in.
import * as vscode from "vscode";
import { COMMANDS, type Ctx } from "./commands";
import { changesExperimentsView, needsRestart } from "./config";
import { EXPERIMENT_COMMANDS } from "./experimentActions";
import { ExperimentsTree } from "./experimentsTree";
import { Helper } from "./helper";
import { ComparePanel, VIEW_TYPE as COMPARE_VIEW } from "./panels/comparePanel";
import { PlotsPanel, VIEW_TYPE as PLOTS_VIEW } from "./panels/plotsPanel";
import { QueueLogs } from "./queueLogs";
import { QueueTree } from "./queueTree";
import { RemoteStorageItem } from "./remoteStorage";
import { StatusBar } from "./statusBar";
import { registerTableFeatures } from "./tableFeatures";

let helper: Helper | undefined;

export function activate(context: vscode.ExtensionContext): void {
  const started = performance.now();
  const output = vscode.window.createOutputChannel("XP Helper");
  helper = new Helper(output, context.workspaceState);
  const experiments = new ExperimentsTree(helper, output, context.storageUri);
  const queue = new QueueTree(helper, output);
  const statusBar = new StatusBar(helper, queue.onDidCount);
  const remoteStorage = new RemoteStorageItem(helper);
  const queueLogs = new QueueLogs(helper);
  const ctx: Ctx = { helper, experiments, queue, remoteStorage, output, extensionUri: context.extensionUri, queueLogs };
  const current = helper;
  const experimentsView = vscode.window.createTreeView("xp.experiments", { treeDataProvider: experiments, canSelectMany: true, showCollapseAll: true });
  // With several folders open, the view's title says which one XP serves.
  const describeFolder = (): void => {
    experimentsView.description = (vscode.workspace.workspaceFolders?.length ?? 0) > 1 ? current.folder?.name : undefined;
  };

  context.subscriptions.push(
    output, helper, experiments, queue, statusBar, remoteStorage, queueLogs,
    experimentsView,
    experiments.onDidChangeStale((stale) => {
      experimentsView.message = stale ? "Last known experiments: the helper is starting…" : undefined;
    }),
    vscode.window.createTreeView("xp.queue", { treeDataProvider: queue }),
    ...Object.entries(COMMANDS).map(([id, factory]) => vscode.commands.registerCommand(id, factory(ctx))),
    ...Object.entries(EXPERIMENT_COMMANDS).map(([id, factory]) => vscode.commands.registerCommand(id, factory(ctx))),
    // Views reload only when the helper says something changed, or when it (re)starts.
    helper.onDidChangeState((state) => {
      if (state === "running") {
        void experiments.reload();
        void queue.reload();
      } else if (state !== "starting") {
        experiments.clear();
        queue.clear();
      }
    }),
    helper.onExperimentsChanged(() => void experiments.reload()),
    helper.onDidChangeState(describeFolder),
    helper.onLiveMetrics((params) => experiments.showLiveMetrics(params)),
    helper.onQueueChanged(() => void queue.reload()),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (needsRestart(event)) {
        void current.restart();
      } else if (changesExperimentsView(event)) {
        experiments.redraw();
      }
    }),
    vscode.workspace.onDidChangeWorkspaceFolders(() => void current.restart()),
    vscode.window.registerWebviewPanelSerializer(COMPARE_VIEW, {
      deserializeWebviewPanel: async (panel, state) => ComparePanel.revive(panel, state, current, context.extensionUri, output),
    }),
    vscode.window.registerWebviewPanelSerializer(PLOTS_VIEW, {
      deserializeWebviewPanel: async (panel, state) => PlotsPanel.revive(panel, state, current, context.extensionUri, output),
    }),
  );
  context.subscriptions.push(...registerTableFeatures({ ...ctx, workspaceState: context.workspaceState }));
  void helper.start();
  // The last session's rows while the helper starts (read after activate() returns: it awaits nothing).
  void experiments.restoreSnapshot();
  output.appendLine(`XP activated in ${(performance.now() - started).toFixed(1)} ms`);
}

export async function deactivate(): Promise<void> {
  helper?.dispose();
  helper = undefined;
}
