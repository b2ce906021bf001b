// Every palette and view command, as small factories that take the context and return the
// handler; main.ts registers them from the one table at the bottom. Ids and titles live in
// package.json `contributes.commands` only.
import { execFile } from "node:child_process";
import * as vscode from "vscode";
import { queueJobs } from "./config";
import { type ExperimentNode, allExperiments } from "./experimentsModel";
import type { ExperimentsTree } from "./experimentsTree";
import { type Helper, errorText, isBadInput } from "./helper";
import { type ParamEdit, buildRunParams, paramChoices, parseValue } from "./paramEdits";
import { findInterpreter } from "./python";
import * as proto from "./protocol";
import { ComparePanel } from "./panels/comparePanel";
import { PlotsPanel } from "./panels/plotsPanel";
import type { QueueLogs } from "./queueLogs";
import type { QueueTree } from "./queueTree";
import type { RemoteStorageItem } from "./remoteStorage";
import { plainLabel, plainMessage } from "./text";
import { withHelperProgress } from "./progress";

/** What commands work with. */
export interface Ctx {
  helper: Helper;
  experiments: ExperimentsTree;
  queue: QueueTree;
  /** The status-bar item saying where outputs go (refreshed after a push or pull). */
  remoteStorage: RemoteStorageItem;
  output: vscode.OutputChannel;
  /** Where the extension is installed (webview panels load their scripts from it). */
  extensionUri: vscode.Uri;
  /** Queue entries' logs, each in its own output channel while the helper pushes it. */
  queueLogs: QueueLogs;
}

type Handler = (...args: unknown[]) => Promise<void>;

/** Shows a helper error once, as text (it already names the fix), and keeps it in the log. */
export function showError(ctx: Ctx, what: string, error: unknown): void {
  const message = `${what}: ${errorText(error)}`;
  ctx.output.appendLine(message);
  void vscode.window.showErrorMessage(plainMessage(message));
}

/** Runs the workspace as it is. */
function runExperiment(ctx: Ctx): Handler {
  return async () => {
    await startRun(ctx, [], false);
  };
}

/** Asks which params to change and their new values, then runs (or, for a sweep, queues) it. */
function runExperimentWithParams(ctx: Ctx): Handler {
  return async () => {
    const edits = await askParamEdits(ctx, false);
    if (edits?.length) {
      await startRun(ctx, edits, false);
    }
  };
}

/** Like the above, but always queued; picking no param queues the workspace as it is. */
function queueExperiment(ctx: Ctx): Handler {
  return async () => {
    const edits = await askParamEdits(ctx, true);
    if (edits) {
      await startRun(ctx, edits, true);
    }
  };
}

/** Asks which params to change, and their values; the current values shown are `from`'s (default: the workspace's). */
export async function askParamEdits(ctx: Ctx, queue: boolean, from?: proto.ExperimentRow, title?: string):
  Promise<ParamEdit[] | undefined> {
  const workspace = from ?? ctx.experiments.rows.find((row) => row.kind === "workspace");
  const choices = paramChoices(workspace);
  if (!choices.length && !queue) {
    void vscode.window.showWarningMessage("XP found no params in this project (params.yaml) to modify.");
    return undefined;
  }
  const picked = await vscode.window.showQuickPick(
    choices.map((choice) => ({ label: plainLabel(choice.target), description: plainLabel(choice.current), choice })),
    {
      title: title ?? (queue ? "Queue Experiment: params to change (none = as they are)" : "Run Experiment with Modified Params"),
      placeHolder: "Pick the params to change",
      canPickMany: true,
      matchOnDescription: true,
      ignoreFocusOut: true,
    },
  );
  if (!picked) {
    return undefined;
  }
  const edits: ParamEdit[] = [];
  for (const { choice } of picked) {
    const text = await vscode.window.showInputBox({
      title: `New value for ${choice.target}`,
      prompt: "One value, a comma list (0.1,0.2) or range(start, stop, step); several values queue a sweep",
      value: choice.current,
      ignoreFocusOut: true,
      validateInput: (value) => {
        const parsed = parseValue(value);
        return parsed.ok ? undefined : parsed.error;
      },
    });
    if (text === undefined) {
      return undefined;
    }
    edits.push({ target: choice.target, text });
  }
  return edits;
}

async function startRun(ctx: Ctx, edits: ParamEdit[], queue: boolean): Promise<void> {
  const { params, points } = buildRunParams(edits, { queue });
  // Runs go to a private copy of the project, so the workspace stays free for editing (and for
  // the queue's workers) while the experiment runs.
  if (!params.queue) {
    params.temp = true;
  }
  try {
    if (!params.queue) {
      // A run answers at once and reports its stages through $/progress until it is recorded;
      // Cancel stops it as Ctrl-C would.
      await withHelperProgress(ctx.helper, { title: "XP: running an experiment", cancellable: true, untilEnd: true },
        (token) => ctx.helper.request(proto.runExperiment, { ...params, workDoneToken: token }));
      return;
    }
    const result = await ctx.helper.request(proto.runExperiment, params);
    const names = result.names.join(", ");
    const message = params.queue
      ? `Queued ${points === 1 ? "an experiment" : `${points} experiments`}${names ? ` (${names})` : ""}. Start the queue to run ${points === 1 ? "it" : "them"}.`
      : `Running experiment ${names || ""} in a private copy of the project.`;
    const choice = await vscode.window.showInformationMessage(plainMessage(message), ...(params.queue ? ["Start Queue"] : []));
    if (choice === "Start Queue") {
      await vscode.commands.executeCommand("xp.startQueue");
    }
  } catch (error) {
    showError(ctx, params.queue ? "Queueing failed" : "The experiment did not start", error);
  }
}

function startQueue(ctx: Ctx): Handler {
  return async () => {
    const text = await vscode.window.showInputBox({
      title: "Start Queue",
      prompt: "Number of workers running experiments at once (-j)",
      value: String(queueJobs()),
      validateInput: (value) => (/^\s*[1-9]\d*\s*$/.test(value) ? undefined : "Type a whole number, 1 or more."),
    });
    if (text === undefined) {
      return;
    }
    try {
      // The notification follows the queue until nothing is queued or running; Cancel stops it (kills the runs).
      await withHelperProgress(ctx.helper, { title: "XP: queue", cancellable: true, untilEnd: true },
        (token) => ctx.helper.request(proto.startQueue, { jobs: Number(text), workDoneToken: token }));
    } catch (error) {
      showError(ctx, "Starting the queue failed", error);
    }
  };
}

function stopQueue(ctx: Ctx): Handler {
  return async () => {
    const picked = await vscode.window.showQuickPick([
      { label: "Stop after the running experiments finish", kill: false },
      { label: "Stop now, killing the running experiments", kill: true },
    ], { title: "Stop Queue" });
    if (!picked) {
      return;
    }
    try {
      await ctx.helper.request(proto.stopQueue, { kill: picked.kill });
    } catch (error) {
      showError(ctx, "Stopping the queue failed", error);
    }
  };
}

/** The experiments a command acts on: the clicked/selected tree rows, else a quick pick. */
export async function targetExperiments(ctx: Ctx, args: unknown[], many: boolean, title: string): Promise<string[]> {
  const [clicked, selected] = args as [ExperimentNode | undefined, ExperimentNode[] | undefined];
  const fromTree = (selected?.length ? selected : clicked ? [clicked] : []).filter((n) => n?.kind === "experiment");
  if (fromTree.length) {
    return fromTree.map((n) => n.name);
  }
  // The rows drawn can be behind the repository (experiments just pulled, imported or finished,
  // and the helper's notice still on its way): the picker asks for them again as it opens and
  // takes in what comes while it is open, so an experiment that has landed can be picked.
  const reloading = ctx.experiments.reload().catch(() => undefined);
  let items = experimentItems(ctx);
  if (!items.length) {
    await reloading;
    items = experimentItems(ctx);
  }
  if (!items.length) {
    void vscode.window.showInformationMessage("There are no experiments yet: run one first.");
    return [];
  }
  return pickLive(ctx, items, reloading, many, title);
}

interface ExperimentItem extends vscode.QuickPickItem {
  name: string;
}

function experimentItems(ctx: Ctx): ExperimentItem[] {
  return allExperiments(ctx.experiments.nodes).map((node) => ({
    label: plainLabel(node.label), description: plainLabel(node.description), name: node.name,
  }));
}

/** A quick pick of `first` whose rows follow each load of the Experiments view; what was ticked stays ticked. */
function pickLive(ctx: Ctx, first: ExperimentItem[], reloading: Promise<unknown>, many: boolean,
  title: string): Promise<string[]> {
  const pick = vscode.window.createQuickPick<ExperimentItem>();
  pick.title = title;
  pick.canSelectMany = many;
  // Opened from the palette while a panel (Plots, Compare) had the focus, the picker would close when
  // VS Code hands the focus back to that panel's page; it stays until Enter or Escape.
  pick.ignoreFocusOut = true;
  pick.items = first;
  pick.busy = true;
  const shown = (items: readonly ExperimentItem[]) => items.map((i) => `${i.name}\0${i.label}\0${i.description}`).join("\n");
  return new Promise((resolve) => {
    let settled = false;
    const subscriptions: vscode.Disposable[] = [];
    const finish = (names: string[]) => {
      if (settled) {
        return;
      }
      settled = true;
      subscriptions.forEach((d) => d.dispose());
      pick.dispose();
      resolve(names);
    };
    subscriptions.push(ctx.experiments.onDidLoad(() => {
      const items = experimentItems(ctx);
      if (settled || shown(items) === shown(pick.items)) {
        return;
      }
      const ticked = new Set(pick.selectedItems.map((i) => i.name));
      const active = new Set(pick.activeItems.map((i) => i.name));
      pick.items = items;
      if (many) {
        pick.selectedItems = items.filter((i) => ticked.has(i.name));
      }
      pick.activeItems = items.filter((i) => active.has(i.name));
    }));
    subscriptions.push(pick.onDidAccept(() => {
      const chosen = many ? pick.selectedItems : pick.selectedItems.length ? pick.selectedItems : pick.activeItems;
      finish(chosen.slice(0, many ? undefined : 1).map((i) => i.name));
    }));
    subscriptions.push(pick.onDidHide(() => finish([])));
    void reloading.then(() => {
      pick.busy = false;
    });
    pick.show();
  });
}

function applyExperiment(ctx: Ctx): Handler {
  return async (...args) => {
    const [name] = await targetExperiments(ctx, args, false, "Apply Experiment: put its params and outputs into the workspace");
    if (!name) {
      return;
    }
    try {
      // Outputs the cache lacks come from the default remote storage: counted in a notification.
      await withHelperProgress(ctx.helper, { title: `Applying ${name}…`, cancellable: false, untilEnd: false },
        (token) => ctx.helper.request(proto.applyExperiment, { name, workDoneToken: token }));
      void vscode.window.showInformationMessage(plainMessage(`Applied experiment ${name} to the workspace.`));
    } catch (error) {
      if (!isBadInput(error)) {
        showError(ctx, "Apply failed", error);
        return;
      }
      // The helper refuses to overwrite uncommitted work; offer its --force, which saves that
      // work as an experiment first, so nothing is lost either way.
      const choice = await vscode.window.showWarningMessage(plainMessage(errorText(error)),
        "Save My Changes as an Experiment and Apply");
      if (choice) {
        try {
          await ctx.helper.request(proto.applyExperiment, { name, force: true });
        } catch (again) {
          showError(ctx, "Apply failed", again);
        }
      }
    }
  };
}

function branchExperiment(ctx: Ctx): Handler {
  return async (...args) => {
    const [name] = await targetExperiments(ctx, args, false, "Create Branch from Experiment");
    if (!name) {
      return;
    }
    const branch = await vscode.window.showInputBox({
      title: `Create a branch from ${name}`,
      prompt: "Name of the new git branch",
      value: name.replace(/[^A-Za-z0-9._/-]+/g, "-"),
      validateInput: (value) => (value.trim() ? undefined : "Type a branch name."),
    });
    if (!branch) {
      return;
    }
    try {
      const result = await ctx.helper.request(proto.branchExperiment, { name, branch: branch.trim() });
      void vscode.window.showInformationMessage(plainMessage(`Created branch ${result.branch} from experiment ${name}.`));
    } catch (error) {
      showError(ctx, "Creating the branch failed", error);
    }
  };
}

function removeExperiments(ctx: Ctx): Handler {
  return async (...args) => {
    const names = await targetExperiments(ctx, args, true, "Remove Experiments");
    if (!names.length) {
      return;
    }
    const what = names.length === 1 ? `experiment ${names[0]}` : `${names.length} experiments`;
    const ok = await vscode.window.showWarningMessage(plainMessage(`Remove ${what}? Their git refs are deleted.`),
      { modal: true }, "Remove");
    if (ok !== "Remove") {
      return;
    }
    try {
      const result = await ctx.helper.request(proto.removeExperiments, { names });
      void vscode.window.showInformationMessage(plainMessage(`Removed ${result.removed.join(", ")}.`));
    } catch (error) {
      showError(ctx, "Removing failed", error);
    }
  };
}

/** Opens the Compare panel for the selected experiments (or those picked), the first as baseline. */
function compareExperiments(ctx: Ctx): Handler {
  return async (...args) => {
    const names = await targetExperiments(ctx, args, true, "Compare Experiments: pick 2 to 20 (the first is the baseline)");
    if (!names.length) {
      return;
    }
    if (names.length < 2 || names.length > 20) {
      void vscode.window.showWarningMessage(`Compare takes 2 to 20 experiments (${names.length} chosen).`);
      return;
    }
    ComparePanel.show(ctx.helper, ctx.extensionUri, ctx.output, names);
  };
}

/** Opens the Plots panel for the selected experiments (or those picked), overlaid in distinct colours. */
function showPlots(ctx: Ctx): Handler {
  return async (...args) => {
    const names = await targetExperiments(ctx, args, true, "Show Plots: pick the experiments to overlay (up to 20)");
    if (names.length) {
      PlotsPanel.show(ctx.helper, ctx.extensionUri, ctx.output, names);
    }
  };
}

function showQueue(): Handler {
  return async () => {
    await vscode.commands.executeCommand("xp.queue.focus");
  };
}

/** Runs `xp demo .` in the open folder with the helper's interpreter, then starts the helper. */
function createDemoProject(ctx: Ctx): Handler {
  return async () => {
    const folder = ctx.helper.folder ?? vscode.workspace.workspaceFolders?.[0];
    if (!folder) {
      void vscode.window.showErrorMessage("Open an empty folder first; the demo project is created in it.");
      return;
    }
    // The helper did not look for Python in a folder without a project, so look now.
    const python = ctx.helper.python ?? (await findInterpreter(folder)).command;
    ctx.output.appendLine(`$ ${python} -m pyhelper demo ${folder.uri.fsPath}`);
    const ok = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: "Creating the demo project and running its experiments…" },
      () => new Promise<boolean>((resolve) => {
        execFile(python, ["-m", "pyhelper", "demo", folder.uri.fsPath], { cwd: folder.uri.fsPath, timeout: 300_000 },
          (error, stdout, stderr) => {
            ctx.output.append(stdout);
            ctx.output.append(stderr);
            if (error) {
              void vscode.window.showErrorMessage(plainMessage(`Creating the demo failed: ${stderr.trim().split("\n").pop() ?? error.message}`),
                "Show Helper Log").then((c) => c && ctx.output.show());
            }
            resolve(!error);
          });
      }),
    );
    if (ok) {
      await ctx.helper.restart();
    }
  };
}

function restartHelper(ctx: Ctx): Handler {
  return async () => {
    ctx.output.appendLine("Restarting the helper (XP: Restart Helper).");
    await ctx.helper.restart();
  };
}

function showHelperLog(ctx: Ctx): Handler {
  return async () => {
    ctx.output.show(true);
  };
}

/** The remote-storage item's click: the config file defining the remotes, or how to add one. */
function openRemoteConfig(ctx: Ctx): Handler {
  return () => ctx.remoteStorage.open();
}

/** Every command: id (as in package.json) → factory. */
/** The queue entry a command acts on: the clicked row, else one picked from the queue's entries. */
async function queueEntry(ctx: Ctx, node: unknown, statuses: readonly string[], placeHolder: string):
  Promise<string | undefined> {
  const clicked = node as { kind?: string; label?: string } | undefined;
  if (clicked?.kind === "entry" && clicked.label) {
    return clicked.label;
  }
  const status = await ctx.helper.request(proto.queueStatus, {});
  const names = status.entries.filter((e) => statuses.includes(e.status)).map((e) => e.name || e.id);
  if (!names.length) {
    void vscode.window.showInformationMessage(`No queue entry is ${statuses.join(" or ")}.`);
    return undefined;
  }
  const picked = await vscode.window.showQuickPick(names.map((name) => ({ label: plainLabel(name), name })),
    { placeHolder });
  return picked?.name;
}

/** Shows an entry's log in an output channel of its own, followed (pushed by the helper) until the entry finishes. */
function showQueueLog(ctx: Ctx): Handler {
  return async (node?: unknown) => {
    try {
      const name = await queueEntry(ctx, node, ["queued", "running", "success", "failed", "cancelled"],
        "Whose log?");
      if (name) {
        await ctx.queueLogs.open(name);
      }
    } catch (error) {
      showError(ctx, "Could not read the log", error);
    }
  };
}

/** Cancels a queued entry or stops a running one. */
function killQueueEntry(ctx: Ctx): Handler {
  return async (node?: unknown) => {
    try {
      const name = await queueEntry(ctx, node, ["queued", "running"], "Which entry to stop?");
      if (name) {
        const result = await ctx.helper.request(proto.killQueueEntries, { names: [name] });
        void vscode.window.showInformationMessage(`Asked to stop: ${result.names.map(plainLabel).join(", ")}.`);
      }
    } catch (error) {
      showError(ctx, "Could not stop the entry", error);
    }
  };
}

/** Queues a finished entry again. */
function retryQueueEntry(ctx: Ctx): Handler {
  return async (node?: unknown) => {
    try {
      const name = await queueEntry(ctx, node, ["failed", "cancelled", "success"], "Which entry to run again?");
      if (name) {
        const result = await ctx.helper.request(proto.retryQueueEntries, { names: [name] });
        void vscode.window.showInformationMessage(`Queued again: ${result.names.map(plainLabel).join(", ")}.`);
      }
    } catch (error) {
      showError(ctx, "Could not queue the entry again", error);
    }
  };
}

export const COMMANDS: Record<string, (ctx: Ctx) => Handler> = {
  "xp.runExperiment": runExperiment,
  "xp.runExperimentWithParams": runExperimentWithParams,
  "xp.queueExperiment": queueExperiment,
  "xp.startQueue": startQueue,
  "xp.stopQueue": stopQueue,
  "xp.showQueue": showQueue,
  "xp.showQueueLog": showQueueLog,
  "xp.killQueueEntry": killQueueEntry,
  "xp.retryQueueEntry": retryQueueEntry,
  "xp.applyExperiment": applyExperiment,
  "xp.branchExperiment": branchExperiment,
  "xp.removeExperiments": removeExperiments,
  "xp.compareExperiments": compareExperiments,
  "xp.showPlots": showPlots,
  "xp.createDemoProject": createDemoProject,
  "xp.restartHelper": restartHelper,
  "xp.showHelperLog": showHelperLog,
  "xp.openRemoteConfig": openRemoteConfig,
};
