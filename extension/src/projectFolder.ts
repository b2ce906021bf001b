// Which workspace folder the helper serves when several are open. One helper serves one project:
// the folder the person chose (XP: Select Project Folder, remembered per workspace) while it is
// open, else the first folder that is a git repository with a pipeline. Pure: no `vscode` import.

/** What XP knows about one workspace folder. */
export interface FolderFacts {
  name: string;
  /** The folder's URI as a string (what the choice is remembered by). */
  uri: string;
  git: boolean;
  pipeline: boolean;
}

/** The folder to serve, or the state to show when there is none. */
export type FolderChoice =
  | { ok: true; folder: FolderFacts; why: "chosen" | "only" | "first project" }
  | { ok: false; folder: FolderFacts | undefined; why: "noFolder" | "noRepo" | "noPipeline" };

/** Picks the project folder among `folders` (in workspace order); `chosen` is the remembered URI. */
export function chooseFolder(folders: readonly FolderFacts[], chosen: string | undefined): FolderChoice {
  if (!folders.length) {
    return { ok: false, folder: undefined, why: "noFolder" };
  }
  const picked = chosen ? folders.find((f) => f.uri === chosen) : undefined;
  if (picked) {
    // A chosen folder is served even when it is not a project yet (the view then offers the demo).
    return picked.git && picked.pipeline ? { ok: true, folder: picked, why: "chosen" }
      : { ok: false, folder: picked, why: picked.git ? "noPipeline" : "noRepo" };
  }
  const project = folders.find((f) => f.git && f.pipeline);
  if (project) {
    return { ok: true, folder: project, why: folders.length === 1 ? "only" : "first project" };
  }
  return { ok: false, folder: folders[0], why: folders.some((f) => f.git) ? "noPipeline" : "noRepo" };
}

/** The quick-pick description of a folder: what it is, and whether XP serves it now. */
export function folderDescription(facts: FolderFacts, served: boolean): string {
  const kind = facts.git && facts.pipeline ? "git repository with a pipeline"
    : facts.git ? "git repository, no pipeline (dvc.yaml)" : "not a git repository";
  return served ? `${kind} — served now` : kind;
}

/** The line XP writes (and shows) when several folders are open. */
export function servedMessage(folder: FolderFacts, count: number): string {
  return `XP serves the project in folder '${folder.name}' (one of ${count} open folders); ` +
    "XP: Select Project Folder changes it.";
}
