// The Params & Metrics view as plain data: every params and metrics column found in the helper's
// rows, grouped by file, with the person's choices (hidden columns, the headline metric and
// whether higher is better) applied. Pure (no `vscode` import): the view (columnsTree.ts), the
// table panel and the unit tests all use it. Choices name columns by id, so a column that
// disappears and comes back keeps its choice, and a column never seen before is shown.
import type { ExperimentRow } from "./protocol";

export type Section = "metrics" | "params";

/** One params or metrics column. */
export interface ColumnInfo {
  /** `section:file:key`, stable across reloads (what the choices store). */
  id: string;
  section: Section;
  file: string;
  key: string;
  /** The key alone when no other file of its section has it, else `file:key`. */
  label: string;
}

/** What the person chose in the view; persisted per workspace. */
export interface ColumnChoices {
  /** Ids of columns not shown (new columns are shown). */
  hidden: string[];
  /** Id of the headline metric column; empty: the `xp.experiments.headlineMetric` setting decides. */
  headline: string;
  /** Whether a larger headline value is better (the table marks the best row per baseline). */
  higherIsBetter: boolean;
}

export const DEFAULT_CHOICES: ColumnChoices = { hidden: [], headline: "", higherIsBetter: true };

/** A node of the view: a file holding columns, or one column. */
export interface ColumnNode {
  kind: "file" | "column";
  id: string;
  label: string;
  description: string;
  tooltip: string;
  /** Shown (a file: every column of it shown). */
  checked: boolean;
  /** For columns: the column; for files: undefined. */
  column?: ColumnInfo;
  /** For files: their columns, in first-seen order. */
  children: ColumnNode[];
}

/** The id a column is stored under. */
export function columnId(section: Section, file: string, key: string): string {
  return `${section}:${file}:${key}`;
}

/** Every column any row has: metrics first, then params, each in first-seen order (as `xp exp show`). */
export function findColumns(rows: readonly ExperimentRow[]): ColumnInfo[] {
  const found: Omit<ColumnInfo, "label">[] = [];
  const seen = new Set<string>();
  for (const section of ["metrics", "params"] as const) {
    for (const row of rows) {
      for (const [file, values] of Object.entries(row[section] ?? {})) {
        for (const key of Object.keys(values ?? {})) {
          const id = columnId(section, file, key);
          if (!seen.has(id)) {
            seen.add(id);
            found.push({ id, section, file, key });
          }
        }
      }
    }
  }
  const files = new Map<string, Set<string>>();
  for (const c of found) {
    const name = `${c.section}\u0000${c.key}`;
    files.set(name, (files.get(name) ?? new Set()).add(c.file));
  }
  return found.map((c) => ({ ...c, label: (files.get(`${c.section}\u0000${c.key}`)?.size ?? 0) > 1 ? `${c.file}:${c.key}` : c.key }));
}

/** The columns the table and the other views show, in order. */
export function visibleColumns(columns: readonly ColumnInfo[], choices: ColumnChoices): ColumnInfo[] {
  const hidden = new Set(choices.hidden);
  return columns.filter((c) => !hidden.has(c.id));
}

/** The headline as the Experiments tree's `headlineMetric` option (`file:key`), or the setting's text. */
export function headlineOption(columns: readonly ColumnInfo[], choices: ColumnChoices, setting: string): string {
  const chosen = columns.find((c) => c.id === choices.headline && c.section === "metrics");
  if (chosen) {
    return `${chosen.file}:${chosen.key}`;
  }
  // A headline chosen in an earlier session whose column is not loaded yet still counts.
  const [section, ...rest] = choices.headline.split(":");
  if (section === "metrics" && rest.length >= 2) {
    return rest.join(":");
  }
  return setting;
}

/** The view's root nodes: one per (section, file), metrics files first, each holding its columns. */
export function columnTree(columns: readonly ColumnInfo[], choices: ColumnChoices, headlineId: string): ColumnNode[] {
  const hidden = new Set(choices.hidden);
  const files = new Map<string, ColumnNode>();
  for (const column of columns) {
    const fileId = `file:${column.section}:${column.file}`;
    let file = files.get(fileId);
    if (!file) {
      file = { kind: "file", id: fileId, label: column.file, description: column.section, tooltip: `${column.section} file ${column.file}`,
        checked: true, children: [] };
      files.set(fileId, file);
    }
    const isHeadline = column.id === headlineId;
    const direction = choices.higherIsBetter ? "higher is better" : "lower is better";
    file.children.push({
      kind: "column",
      id: column.id,
      label: column.key,
      description: isHeadline ? `headline · ${direction}` : "",
      tooltip: `${column.section} ${column.file}:${column.key}${isHeadline ? ` — the headline metric (${direction})` : ""}`,
      checked: !hidden.has(column.id),
      column,
      children: [],
    });
  }
  for (const file of files.values()) {
    file.checked = file.children.every((c) => c.checked);
    const shown = file.children.filter((c) => c.checked).length;
    file.description = `${file.description} · ${shown}/${file.children.length}`;
  }
  return [...files.values()];
}

/** The choices after ticking (`shown` true) or unticking these columns; a file stands for all its columns. */
export function setShown(choices: ColumnChoices, ids: readonly string[], shown: boolean, columns: readonly ColumnInfo[]): ColumnChoices {
  const targets = new Set<string>();
  for (const id of ids) {
    if (id.startsWith("file:")) {
      for (const c of columns) {
        if (`file:${c.section}:${c.file}` === id) {
          targets.add(c.id);
        }
      }
    } else {
      targets.add(id);
    }
  }
  const hidden = new Set(choices.hidden);
  for (const id of targets) {
    if (shown) {
      hidden.delete(id);
    } else {
      hidden.add(id);
    }
  }
  return { ...choices, hidden: [...hidden].sort() };
}

/** The id of the metric column the tree's headline option names, for marking it in the view. */
export function headlineColumnId(columns: readonly ColumnInfo[], option: string): string {
  for (const c of columns) {
    if (c.section === "metrics" && (option === `${c.file}:${c.key}` || (option && option === c.key))) {
      return c.id;
    }
  }
  // No option: the tree shows the first metric (experimentsModel.pickHeadline), so that one is marked.
  return option ? "" : (columns.find((c) => c.section === "metrics")?.id ?? "");
}

/** A test on (section, file, key) telling whether a column is shown (for the tree and the Compare panel). */
export function shownTest(choices: ColumnChoices): (section: string, file: string, key: string) => boolean {
  const hidden = new Set(choices.hidden);
  return (section, file, key) => !hidden.has(`${section}:${file}:${key}`);
}

/** Choices read back from storage, with anything malformed replaced by the defaults. */
export function parseChoices(stored: unknown): ColumnChoices {
  const value = (stored ?? {}) as Partial<ColumnChoices>;
  return {
    hidden: Array.isArray(value.hidden) ? value.hidden.filter((h): h is string => typeof h === "string") : [],
    headline: typeof value.headline === "string" ? value.headline : "",
    higherIsBetter: typeof value.higherIsBetter === "boolean" ? value.higherIsBetter : true,
  };
}
