// Wires the Params & Metrics view and the Experiments table panel into the extension: the view
// and its commands, the table command and its restore-after-reload serializer, "Queue a
// Variation" (the experiment's params as the starting point of a new queued run), and the column
// choices applied to the Experiments tree and the Compare panel. Kept apart from commands.ts and
// main.ts, which call `registerTableFeatures` once.
import * as vscode from "vscode";
import { shownTest } from "./columnsModel";
import { ColumnsView, columnCommands } from "./columnsTree";
import type { ExperimentsTree } from "./experimentsTree";
import { type Helper, errorText } from "./helper";
import { assignmentValue, buildRunParams, paramChoices, parseValue, variationBase } from "./paramEdits";
import * as proto from "./protocol";
import { ComparePanel } from "./panels/comparePanel";
import { TablePanel, VIEW_TYPE as TABLE_VIEW } from "./panels/tablePanel";
import { plainLabel, plainMessage } from "./text";

/** What the table features need from the extension. */
export interface TableCtx {
  helper: Helper;
  experiments: ExperimentsTree;
  output: vscode.OutputChannel;
  extensionUri: vscode.Uri;
  workspaceState: vscode.Memento;
}

/** Queues a new experiment starting from an experiment's params, with the params a person changes. */
function queueVariation(ctx: TableCtx): (...args: unknown[]) => Promise<void> {
  return async (clicked?: unknown) => {
    const experiments = ctx.experiments.rows.filter((r) => !["workspace", "baseline", "checkpoint"].includes(r.kind));
    let name = (clicked as { name?: unknown } | undefined)?.name;
    if (typeof name !== "string") {
      const picked = await vscode.window.showQuickPick(experiments.map((r) => ({ label: plainLabel(r.name), name: r.name })),
        { title: "Queue a Variation of which experiment?" });
      name = picked?.name;
    }
    const row = experiments.find((r) => r.name === name);
    if (!row) {
      return;
    }
    const workspace = ctx.experiments.rows.find((r) => r.kind === "workspace");
    const choices = paramChoices(row);
    const picked = await vscode.window.showQuickPick(
      choices.map((choice) => ({ label: plainLabel(choice.target), description: plainLabel(choice.current), choice })),
      { title: `Queue a Variation of ${plainLabel(row.name)}: params to change`, canPickMany: true, ignoreFocusOut: true });
    if (!picked) {
      return;
    }
    const edits = [];
    for (const { choice } of picked) {
      const exact = row.params[choice.file]?.[choice.key];
      const text = await vscode.window.showInputBox({
        title: `New value for ${choice.target}`, value: exact === undefined ? choice.current : assignmentValue(exact),
        prompt: "One value, a comma list (0.1,0.2) or range(start, stop, step); several values queue a sweep", ignoreFocusOut: true,
        validateInput: (value) => {
          const parsed = parseValue(value);
          return parsed.ok ? undefined : parsed.error;
        },
      });
      if (text === undefined) {
        return;
      }
      edits.push({ target: choice.target, text });
    }
    const { params, points } = buildRunParams(edits, { queue: true });
    const changed = new Set(edits.map((e) => e.target));
    params.params = [...variationBase(row, workspace).filter((a) => !changed.has(a.slice(0, a.indexOf("=")))), ...(params.params ?? [])];
    try {
      const result = await ctx.helper.request(proto.runExperiment, params);
      void vscode.window.showInformationMessage(plainMessage(
        `Queued ${points === 1 ? "a variation" : `${points} variations`} of ${row.name}: ${result.names.join(", ")}.`), "Start Queue")
        .then((choice) => choice && vscode.commands.executeCommand("xp.startQueue"));
    } catch (error) {
      const message = `Queueing the variation failed: ${errorText(error)}`;
      ctx.output.appendLine(message);
      void vscode.window.showErrorMessage(plainMessage(message));
    }
  };
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
    "xp.queueVariation": queueVariation(ctx),
  };
  return [
    columns,
    columnsTree,
    columnsTree.onDidChangeCheckboxState((event) => void columns.onChecked(event.items)),
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
