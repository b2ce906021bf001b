// Wires the Params & Metrics view and the Experiments table panel into the extension: the view
// and its commands, the table command and its restore-after-reload serializer, and the column
// choices applied to the Experiments tree and the Compare panel ("Queue a Variation", which the
// table's rows offer too, lives in experimentActions.ts). Kept apart from commands.ts and
// main.ts, which call `registerTableFeatures` once.
import * as vscode from "vscode";
import { shownTest } from "./columnsModel";
import { ColumnsView, columnCommands } from "./columnsTree";
import type { ExperimentsTree } from "./experimentsTree";
import type { Helper } from "./helper";
import { ComparePanel } from "./panels/comparePanel";
import { TablePanel, VIEW_TYPE as TABLE_VIEW } from "./panels/tablePanel";

/** What the table features need from the extension. */
export interface TableCtx {
  helper: Helper;
  experiments: ExperimentsTree;
  output: vscode.OutputChannel;
  extensionUri: vscode.Uri;
  workspaceState: vscode.Memento;
}

/** Registers the view, the commands and the serializer; returns what to dispose. */
export function registerTableFeatures(ctx: TableCtx): vscode.Disposable[] {
  const columns = new ColumnsView(ctx.workspaceState, ctx.experiments);
  ctx.experiments.viewOptions = () => columns.treeOptions();
  ComparePanel.showRow = (section, file, key) => shownTest(columns.choices)(section, file, key);
  const columnsTree = vscode.window.createTreeView("xp.columns", { treeDataProvider: columns, manageCheckboxStateManually: true });
  const commands: Record<string, (...args: unknown[]) => Promise<void>> = {
    ...columnCommands(columns),
    "xp.showExperimentsTable": async () => TablePanel.show(ctx.helper, ctx.extensionUri, ctx.output, columns, ctx.experiments),
  };
  return [
    columns,
    columnsTree,
    columnsTree.onDidChangeCheckboxState((event) => void columns.onChecked(event.items)),
    columns.onDidChangeChoices(() => ComparePanel.reloadCurrent()),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration("xp.experiments")) {
        columns.update();
      }
    }),
    ...Object.entries(commands).map(([id, handler]) => vscode.commands.registerCommand(id, handler)),
    vscode.window.registerWebviewPanelSerializer(TABLE_VIEW, {
      deserializeWebviewPanel: async (panel) => TablePanel.revive(panel, ctx.helper, ctx.extensionUri, ctx.output, columns, ctx.experiments),
    }),
  ];
}
