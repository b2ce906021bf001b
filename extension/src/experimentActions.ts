// Commands on experiment rows (context menu and palette): rename, tag, note, star, push, pull, the
// run-cache, an experiment's log, and "Queue a Variation of This". Like commands.ts, each is a
// small factory taking the context; main.ts registers this table beside that one. Ids and titles
// live in package.json `contributes.commands` only.
import * as vscode from "vscode";
import { parseTags, remoteName, runItem, tagChanges, variationAssignments } from "./actionsModel";
import { type Ctx, askParamEdits, showError, targetExperiments } from "./commands";
import { isBadInput, errorText } from "./helper";
import { installHelper } from "./helperInstall";
import { buildRunParams } from "./paramEdits";
import { folderDescription } from "./projectFolder";
import { withHelperProgress } from "./progress";
import * as proto from "./protocol";
import { plainLabel, plainMessage } from "./text";

type Handler = (...args: unknown[]) => Promise<void>;

/** The row of the experiment named `name` (not a checkpoint, baseline or the workspace). */
function experimentRow(ctx: Ctx, name: string): proto.ExperimentRow | undefined {
  return ctx.experiments.rows.find((row) => row.name === name
    && row.kind !== "checkpoint" && row.kind !== "baseline" && row.kind !== "workspace");
}

/** The one experiment a command acts on: the right-clicked row (not the rest of the selection), else one picked. */
async function oneExperiment(ctx: Ctx, args: unknown[], title: string): Promise<string | undefined> {
  const clicked = args[0] as { kind?: string; name?: string } | undefined;
  if (clicked?.kind === "experiment" && clicked.name) {
    return clicked.name;
  }
  const [name] = await targetExperiments(ctx, args, false, title);
  return name;
}

function renameExperiment(ctx: Ctx): Handler {
  return async (...args) => {
    const name = await oneExperiment(ctx, args, "Rename Experiment");
    if (!name) {
      return;
    }
    const newName = await vscode.window.showInputBox({
      title: `Rename experiment ${name}`,
      prompt: "Its new name",
      value: name,
      validateInput: (value) => (value.trim() ? undefined : "Type a name."),
    });
    if (!newName || newName.trim() === name) {
      return;
    }
    try {
      const result = await ctx.helper.request(proto.renameExperiment, { name, newName: newName.trim() });
      void vscode.window.showInformationMessage(plainMessage(`Renamed experiment ${name} to ${result.name}.`));
    } catch (error) {
      showError(ctx, "Renaming failed", error);
    }
  };
}

/** Edits the tags as one line (spaces or commas between tags); an empty line clears them. */
function tagExperiment(ctx: Ctx): Handler {
  return async (...args) => {
    const name = await oneExperiment(ctx, args, "Tag Experiment");
    if (!name) {
      return;
    }
    const current = experimentRow(ctx, name)?.tags ?? [];
    const text = await vscode.window.showInputBox({
      title: `Tags of ${name}`,
      prompt: "Tags separated by spaces or commas (empty: no tags)",
      value: current.join(" "),
    });
    if (text === undefined) {
      return;
    }
    const { add, remove } = tagChanges(current, parseTags(text));
    try {
      let tags = current;
      if (remove.length) {
        tags = (await ctx.helper.request(proto.tagExperiment, { name, tags: remove, remove: true })).tags;
      }
      if (add.length) {
        tags = (await ctx.helper.request(proto.tagExperiment, { name, tags: add })).tags;
      }
      void vscode.window.showInformationMessage(plainMessage(`Tags of ${name}: ${tags.join(", ") || "(none)"}.`));
    } catch (error) {
      showError(ctx, "Tagging failed", error);
    }
  };
}

/** Edits the note; an empty note removes it. */
function noteExperiment(ctx: Ctx): Handler {
  return async (...args) => {
    const name = await oneExperiment(ctx, args, "Note on Experiment");
    if (!name) {
      return;
    }
    const text = await vscode.window.showInputBox({
      title: `Note on ${name}`,
      prompt: "A note kept with the experiment in git notes (empty: remove the note)",
      value: experimentRow(ctx, name)?.note ?? "",
    });
    if (text === undefined) {
      return;
    }
    try {
      const result = await ctx.helper.request(proto.noteExperiment, { name, text });
      void vscode.window.showInformationMessage(plainMessage(result.note ? `Noted on ${name}.` : `Removed the note of ${name}.`));
    } catch (error) {
      showError(ctx, "Saving the note failed", error);
    }
  };
}

/** Push (from rows: the selected experiments; from the palette: all) or pull, with a progress notification. */
function syncExperiments(push: boolean): (ctx: Ctx) => Handler {
  return (ctx) => async (...args) => {
    const [clicked, selected] = args as [{ kind?: string; name?: string } | undefined, { kind?: string; name?: string }[] | undefined];
    const names = (selected?.length ? selected : clicked ? [clicked] : [])
      .filter((node) => node?.kind === "experiment" && node.name).map((node) => node.name as string);
    const typed = await vscode.window.showInputBox({
      title: push ? `Push ${names.length ? names.join(", ") : "all experiments"}` : "Pull Experiments",
      prompt: "A git remote name or URL",
      value: "origin",
      validateInput: (value) => (remoteName(value) ? undefined : "Type a remote name or URL (no spaces)."),
    });
    const remote = typed === undefined ? undefined : remoteName(typed);
    if (!remote) {
      return;
    }
    const title = push ? `Pushing experiments to ${remote}…` : `Pulling experiments from ${remote}…`;
    try {
      // Cancel stops git (the helper ends its process group); refs it had not updated stay as they were.
      const result = await withHelperProgress(ctx.helper, { title, cancellable: true, untilEnd: false },
        (token) => ctx.helper.request(push ? proto.pushExperiments : proto.pullExperiments, { remote, names, workDoneToken: token }));
      const count = `${result.names.length} experiment${result.names.length === 1 ? "" : "s"}`;
      void vscode.window.showInformationMessage(plainMessage(push
        ? `Pushed ${count} to ${remote} (with their tags, notes and stars).`
        : `Pulled ${count} from ${remote} (with their tags, notes and stars).`));
    } catch (error) {
      showError(ctx, push ? "Pushing failed" : "Pulling failed", error);
    } finally {
      // Outputs went to (or came from) the default remote: the status bar says again which one it is.
      ctx.remoteStorage.refresh();
    }
  };
}

/** The run-cache as a quick pick, newest first; picking a run offers to restore its outputs and params. */
function showRunCache(ctx: Ctx): Handler {
  return async () => {
    let runs: proto.RecordedRun[];
    try {
      runs = (await ctx.helper.request(proto.listRuns, { limit: 200 })).runs;
    } catch (error) {
      showError(ctx, "Reading the run-cache failed", error);
      return;
    }
    if (!runs.length) {
      void vscode.window.showInformationMessage("The run-cache is empty: no stage has run in this project yet.");
      return;
    }
    const now = Date.now() / 1000;
    const picked = await vscode.window.showQuickPick(runs.map((run) => {
      const item = runItem(run, now);
      return { label: plainLabel(item.label), description: plainLabel(item.description), detail: plainLabel(item.detail), run };
    }), { title: "Run-Cache: pick a run to restore its outputs and params", matchOnDescription: true, matchOnDetail: true });
    if (!picked) {
      return;
    }
    const action = await vscode.window.showInformationMessage(
      plainMessage(`Restore the outputs and params of ${picked.run.stage} run ${picked.run.id.slice(0, 8)} into the workspace?`),
      { modal: true }, "Restore");
    if (action === "Restore") {
      await restore(ctx, picked.run, false);
    }
  };
}

async function restore(ctx: Ctx, run: proto.RecordedRun, force: boolean): Promise<void> {
  try {
    const result = await ctx.helper.request(proto.restoreRun, { id: run.id, force });
    const what = [...result.outputs, ...result.params];
    void vscode.window.showInformationMessage(plainMessage(`Restored ${what.join(", ") || "nothing (all up to date)"}.`));
  } catch (error) {
    if (!isBadInput(error) || force) {
      showError(ctx, "Restoring failed", error);
      return;
    }
    // The helper refuses to overwrite uncommitted work; its message says what would be lost.
    const choice = await vscode.window.showWarningMessage(plainMessage(errorText(error)), { modal: true },
      "Overwrite My Changes");
    if (choice) {
      await restore(ctx, run, true);
    }
  }
}

/** An experiment's log: the run's log file when VS Code started it, else its queue entry's log. */
function showExperimentLog(ctx: Ctx): Handler {
  return async (...args) => {
    const name = await oneExperiment(ctx, args, "Show Experiment Log");
    const folder = ctx.helper.folder;
    if (!name || !folder) {
      return;
    }
    const file = vscode.Uri.joinPath(folder.uri, ".xp", "logs", `run-${name}.log`);
    try {
      await vscode.workspace.fs.stat(file);
      await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(file), { preview: true });
      return;
    } catch {
      // Not run from VS Code: the queue may have run it.
      ctx.output.appendLine(`No run log at ${file.fsPath}; looking for a queue entry named ${name}.`);
    }
    try {
      await ctx.helper.request(proto.readQueueLog, { name, offset: 0 });
    } catch {
      void vscode.window.showInformationMessage(plainMessage(`No log was kept for ${name}: only runs started from ` +
        "VS Code and queued runs keep one."));
      return;
    }
    await vscode.commands.executeCommand("xp.showQueueLog", { kind: "entry", label: name });
  };
}

/** Queues an experiment like this one: its params prefilled, a few changed by the person. */
function queueVariation(ctx: Ctx): Handler {
  return async (...args) => {
    const name = await oneExperiment(ctx, args, "Queue a Variation of This");
    const row = name ? experimentRow(ctx, name) : undefined;
    if (!name || !row) {
      return;
    }
    const edits = await askParamEdits(ctx, true, row, `Queue a variation of ${name}: params to change`);
    if (!edits) {
      return;
    }
    const workspace = ctx.experiments.rows.find((r) => r.kind === "workspace");
    const { params, points } = buildRunParams(edits, { queue: true });
    params.params = [...variationAssignments(row, workspace, new Set(edits.map((e) => e.target))), ...(params.params ?? [])];
    try {
      const result = await ctx.helper.request(proto.runExperiment, params);
      const choice = await vscode.window.showInformationMessage(plainMessage(
        `Queued ${points === 1 ? "a variation" : `${points} variations`} of ${name} (${result.names.join(", ")}).`),
      "Start Queue");
      if (choice) {
        await vscode.commands.executeCommand("xp.startQueue");
      }
    } catch (error) {
      showError(ctx, "Queueing failed", error);
    }
  };
}

/** Stars the selected experiments, or unstars them when all of them are starred already. */
function toggleStar(ctx: Ctx): Handler {
  return async (...args) => {
    const names = await targetExperiments(ctx, args, true, "Star / Unstar Experiments");
    if (!names.length) {
      return;
    }
    const starred = !names.every((name) => experimentRow(ctx, name)?.starred);
    try {
      for (const name of names) {
        await ctx.helper.request(proto.starExperiment, { name, starred });
      }
    } catch (error) {
      showError(ctx, starred ? "Starring failed" : "Unstarring failed", error);
    }
  };
}

function showStarredOnly(ctx: Ctx, value: boolean): Handler {
  return async () => {
    ctx.experiments.setStarredOnly(value);
  };
}

/** Chooses which open folder the helper serves (multi-root workspaces); remembered per workspace. */
function selectProjectFolder(ctx: Ctx): Handler {
  return async () => {
    const all = await ctx.helper.folderFacts();
    if (!all.length) {
      void vscode.window.showInformationMessage("Open a folder first.");
      return;
    }
    const served = ctx.helper.projectDir?.toString();
    const picked = await vscode.window.showQuickPick(all.map(({ dir, facts }) => ({
      label: plainLabel(facts.name), description: folderDescription(facts, facts.uri === served), detail: dir.fsPath, facts,
    })), { title: "XP: Select Project Folder (the folder or DVC project whose experiments XP shows)" });
    if (picked) {
      await ctx.helper.selectFolder(picked.facts.uri);
    }
  };
}

/** Every command of this module: id (as in package.json) → factory. */
export const EXPERIMENT_COMMANDS: Record<string, (ctx: Ctx) => Handler> = {
  "xp.renameExperiment": renameExperiment,
  "xp.tagExperiment": tagExperiment,
  "xp.noteExperiment": noteExperiment,
  "xp.pushExperiments": syncExperiments(true),
  "xp.pullExperiments": syncExperiments(false),
  "xp.showRunCache": showRunCache,
  "xp.showExperimentLog": showExperimentLog,
  "xp.queueVariation": queueVariation,
  "xp.toggleStar": toggleStar,
  "xp.installHelper": installHelper,
  "xp.selectProjectFolder": selectProjectFolder,
  "xp.showStarredOnly": (ctx) => showStarredOnly(ctx, true),
  "xp.showAllExperiments": (ctx) => showStarredOnly(ctx, false),
};
