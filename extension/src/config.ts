// The extension's settings, read only through these typed getters. Ids and defaults are declared
// once, in package.json `contributes.configuration`; the fallbacks here only guard against a
// settings file with the wrong type in it.
import * as vscode from "vscode";

function section(scope?: vscode.ConfigurationScope): vscode.WorkspaceConfiguration {
  return vscode.workspace.getConfiguration("xp", scope);
}

/** `xp.python.interpreterPath`: an explicit interpreter for the helper, or "" to find one. */
export function interpreterPath(scope?: vscode.ConfigurationScope): string {
  const value = section(scope).get<unknown>("python.interpreterPath");
  return typeof value === "string" ? value.trim() : "";
}

/** `xp.helper.maxRestarts`: crashes tolerated within three minutes before giving up. */
export function maxRestarts(): number {
  const value = section().get<unknown>("helper.maxRestarts");
  return typeof value === "number" && value >= 0 ? Math.floor(value) : 3;
}

/** `xp.experiments.headlineMetric`: the metric shown beside each row ("" = the first one). */
export function headlineMetric(): string {
  const value = section().get<unknown>("experiments.headlineMetric");
  return typeof value === "string" ? value.trim() : "";
}

/** `xp.queue.jobs`: the number of workers Start Queue proposes. */
export function queueJobs(): number {
  const value = section().get<unknown>("queue.jobs");
  return typeof value === "number" && value >= 1 ? Math.floor(value) : 2;
}

/** True when a change touches a setting that needs the helper restarted. */
export function needsRestart(event: vscode.ConfigurationChangeEvent): boolean {
  return event.affectsConfiguration("xp.python.interpreterPath");
}

/** True when a change touches how the Experiments tree is drawn. */
export function changesExperimentsView(event: vscode.ConfigurationChangeEvent): boolean {
  return event.affectsConfiguration("xp.experiments");
}
