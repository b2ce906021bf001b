// The remote-storage status-bar item as plain data: where Push and Pull carry an experiment's outputs,
// from `xp/listRemotes` (or its error). Pure: no `vscode` import.
import type { ListRemotesResult } from "./protocol";
import { plainLabel } from "./text";

/** The command that adds a default remote, as the CLI's own hint says it. */
export const ADD_REMOTE = "xp remote add -d NAME URL";

/** What the item shows, and what a click on it opens. */
export interface RemoteItem {
  /** The item's text (codicons: names from the helper are neutralised). */
  text: string;
  /** A plain-string tooltip (never Markdown: urls and errors are the helper's data). */
  tooltip: string;
  /** The config file a click opens (an absolute path), when one exists. */
  file: string | undefined;
  /** What a click says instead when there is no file to open. */
  message: string;
  /** Drawn as a warning: the config does not parse. */
  broken: boolean;
}

/** Longest remote name shown in the status bar; the tooltip has the whole. */
const MAX_NAME = 40;

/** What a click says when the project has no config file to open. */
export const NO_CONFIG = `No remote storage is configured: outputs stay on this machine. Add one in a terminal with \`${ADD_REMOTE}\`.`;

/** The item for an answer of `xp/listRemotes`. */
export function remoteItem(answer: ListRemotesResult): RemoteItem {
  const file = answer.files[0];
  const message = NO_CONFIG;
  const chosen = answer.remotes.find((remote) => remote.isDefault);
  if (chosen) {
    return {
      text: `$(cloud) ${shortName(chosen.name)}`,
      tooltip: `Remote storage for outputs: ${chosen.url}. Push and Pull on an experiment carry its outputs there.`,
      file,
      message,
      broken: false,
    };
  }
  if (answer.default !== null) {
    // The config names a default that no section defines: carrying outputs would fail with this same fix.
    return {
      text: `$(cloud) ${shortName(answer.default)} (not configured)`,
      tooltip: `The default remote '${answer.default}' has no url in the config, so outputs stay on this machine. ` +
        `Add it with \`xp remote add -d ${answer.default} URL\`.`,
      file,
      message,
      broken: false,
    };
  }
  if (answer.remotes.length) {
    const names = answer.remotes.map((remote) => remote.name).join(", ");
    return {
      text: "$(cloud) no default remote",
      tooltip: `No default remote (configured: ${names}), so outputs stay on this machine. ` +
        "Make one the default with `xp remote default NAME`.",
      file,
      message,
      broken: false,
    };
  }
  return {
    text: "$(cloud) no remote storage",
    tooltip: `No remote storage: outputs stay on this machine. Add one with \`${ADD_REMOTE}\`.`,
    file,
    message,
    broken: false,
  };
}

/** The item when the config does not parse: the helper's one line (file:line and the fix) as the tooltip.
 * `file`: the config file of the last good answer, which a click still opens. */
export function brokenRemoteItem(error: string, file: string | undefined): RemoteItem {
  const line = error.split(/\r?\n/, 1)[0];
  return { text: "$(cloud) remote config broken", tooltip: line, file, message: line, broken: true };
}

function shortName(name: string): string {
  return plainLabel(name.length > MAX_NAME ? `${name.slice(0, MAX_NAME - 1)}…` : name);
}
