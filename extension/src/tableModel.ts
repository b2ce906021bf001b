// The Experiments table panel's logic, without DOM or `vscode`: helper rows turned into compact
// table data (one value array per row, in column order), sorting by several columns (numbers
// before text, missing values last in either direction, experiments kept under their baseline and
// checkpoints under their experiment), the window of rows and columns worth drawing at a scroll
// position, header clicks and row selection. The webview page (webview/table.ts) and node --test
// both use it, so what the unit tests check is what the panel does.
import type { ColumnInfo } from "./columnsModel";
import type { ExperimentRow } from "./protocol";

/** A column as the page draws it. */
export interface TableColumn {
  id: string;
  section: string;
  file: string;
  key: string;
  label: string;
}

/** One row of the table. */
export interface TableRow {
  /** Unique in the table: kind, commit and name. */
  id: string;
  /** What commands take: the experiment's name, a baseline's commit, or `workspace`. */
  name: string;
  /** What the name cell shows. */
  label: string;
  kind: string;
  status: string;
  /** The baseline commit the row belongs to. */
  baseline: string;
  /** For a checkpoint: the id of its experiment's row. */
  parent: string;
  /** The values, one per column (undefined where the row has none). */
  values: unknown[];
  /** Starred (only when the helper's rows carry a star). */
  starred: boolean;
  step: number | null;
}

export interface TableData {
  columns: TableColumn[];
  rows: TableRow[];
  /** Whether any row carries a `starred` field: only then is a star column drawn. */
  hasStars: boolean;
}

/** One sort key: a column id (or `name`, or `starred`), and its direction. */
export interface SortKey {
  id: string;
  descending: boolean;
}

const GROUP_KINDS = new Set(["workspace", "baseline"]);

/** Table data for these rows and (visible) columns; a row's `starred` field is used when present. */
export function buildTableData(rows: readonly ExperimentRow[], columns: readonly ColumnInfo[]): TableData {
  let lastExperiment: TableRow | undefined;
  let hasStars = false;
  const out: TableRow[] = [];
  const seen = new Set<string>();
  for (const row of rows) {
    const starredField = (row as { starred?: unknown }).starred;
    hasStars ||= typeof starredField === "boolean";
    const id = `${row.kind}:${row.rev}:${row.name}`;
    // Pages fetched while experiments change can repeat a row (the cursor is an offset); the
    // reload that change triggers brings the final rows, and until then each row is listed once.
    if (seen.has(id)) {
      continue;
    }
    seen.add(id);
    const parent = row.kind === "checkpoint" && lastExperiment && row.name.startsWith(`${lastExperiment.name}@`) ? lastExperiment.id : "";
    const tableRow: TableRow = {
      id,
      name: row.kind === "baseline" ? row.rev : row.name,
      label: row.kind === "baseline" ? `${row.name} (${row.rev.slice(0, 7)})` : row.name,
      kind: row.kind,
      status: row.status,
      baseline: row.baseline,
      parent,
      values: columns.map((c) => (row[c.section as "params" | "metrics"]?.[c.file] ?? {})[c.key]),
      starred: starredField === true,
      step: row.step ?? null,
    };
    if (row.kind !== "checkpoint") {
      lastExperiment = GROUP_KINDS.has(row.kind) ? undefined : tableRow;
    }
    out.push(tableRow);
  }
  return { columns: columns.map(({ id, section, file, key, label }) => ({ id, section, file, key, label })), rows: out, hasStars };
}

/** Compares two cell values ascending: numbers by value, then everything else as text. Missing is handled by the caller. */
export function compareValues(a: unknown, b: unknown): number {
  const numA = typeof a === "number" && !Number.isNaN(a);
  const numB = typeof b === "number" && !Number.isNaN(b);
  if (numA && numB) {
    return (a as number) - (b as number);
  }
  if (numA !== numB) {
    return numA ? -1 : 1;
  }
  const textA = typeof a === "string" ? a : JSON.stringify(a);
  const textB = typeof b === "string" ? b : JSON.stringify(b);
  return textA < textB ? -1 : textA > textB ? 1 : 0;
}

function isMissing(value: unknown): boolean {
  return value === undefined || value === null;
}

/**
 * The rows in display order: the workspace and each baseline stay where the helper put them, the
 * experiments under a baseline are sorted by `keys` (first key first; ties keep the helper's
 * order), and checkpoints follow their experiment (only when `checkpoints` is true).
 */
export function arrangeRows(data: TableData, keys: readonly SortKey[], checkpoints: boolean): TableRow[] {
  const index = new Map(data.columns.map((c, i) => [c.id, i]));
  const getters = keys.flatMap((key) => {
    if (key.id === "name") {
      return [{ get: (row: TableRow) => row.label, descending: key.descending }];
    }
    if (key.id === "starred") {
      return [{ get: (row: TableRow) => (row.starred ? 1 : 0), descending: key.descending }];
    }
    const i = index.get(key.id);
    return i === undefined ? [] : [{ get: (row: TableRow) => row.values[i], descending: key.descending }];
  });
  const compare = (a: TableRow, b: TableRow): number => {
    for (const { get, descending } of getters) {
      const va = get(a);
      const vb = get(b);
      const missingA = isMissing(va);
      const missingB = isMissing(vb);
      if (missingA || missingB) {
        if (missingA !== missingB) {
          return missingA ? 1 : -1;
        }
        continue;
      }
      const order = compareValues(va, vb);
      if (order) {
        return descending ? -order : order;
      }
    }
    return 0;
  };
  const children = new Map<string, TableRow[]>();
  for (const row of data.rows) {
    if (row.parent) {
      children.set(row.parent, [...(children.get(row.parent) ?? []), row]);
    }
  }
  const out: TableRow[] = [];
  let group: TableRow[] = [];
  const flush = () => {
    // Array.prototype.sort is stable, so equal rows keep the helper's (newest first) order.
    for (const row of getters.length ? [...group].sort(compare) : group) {
      out.push(row);
      if (checkpoints) {
        out.push(...(children.get(row.id) ?? []));
      }
    }
    group = [];
  };
  for (const row of data.rows) {
    // Checkpoints appear only under their experiment; those whose experiment is not listed (a
    // filter left it out) are not shown on their own.
    if (row.parent || row.kind === "checkpoint") {
      continue;
    }
    if (GROUP_KINDS.has(row.kind)) {
      flush();
      out.push(row);
    } else {
      group.push(row);
    }
  }
  flush();
  return out;
}

/**
 * The sort after a header click: a plain click sorts by that column alone (a second click on the
 * only key turns its direction); shift-click adds it as the next key, or turns an existing key's
 * direction, and shift-clicking a descending key removes it.
 */
export function clickHeader(keys: readonly SortKey[], id: string, shift: boolean): SortKey[] {
  const existing = keys.find((k) => k.id === id);
  if (!shift) {
    if (keys.length === 1 && existing) {
      return [{ id, descending: !existing.descending }];
    }
    return [{ id, descending: false }];
  }
  if (!existing) {
    return [...keys, { id, descending: false }];
  }
  if (existing.descending) {
    return keys.filter((k) => k.id !== id);
  }
  return keys.map((k) => (k.id === id ? { id, descending: true } : k));
}

/** The marker a header shows for its sort key: `▲1`, `▼2`, or empty. */
export function sortMarker(keys: readonly SortKey[], id: string): string {
  const at = keys.findIndex((k) => k.id === id);
  if (at < 0) {
    return "";
  }
  return `${keys[at].descending ? "▼" : "▲"}${keys.length > 1 ? at + 1 : ""}`;
}

/** A range of items to draw: `first` included, `last` excluded. */
export interface Window {
  first: number;
  last: number;
}

/**
 * The items of equal size worth drawing when `offset` pixels are scrolled past and `extent`
 * pixels are visible: those in view plus `margin` items either side, clamped to [0, count).
 */
export function visibleWindow(offset: number, extent: number, size: number, count: number, margin: number): Window {
  if (count <= 0 || size <= 0) {
    return { first: 0, last: 0 };
  }
  const first = Math.max(0, Math.floor(Math.max(0, offset) / size) - margin);
  const last = Math.min(count, Math.ceil((Math.max(0, offset) + Math.max(0, extent)) / size) + margin);
  return { first: Math.min(first, count), last: Math.max(last, Math.min(first, count)) };
}

/** The selection: row ids in the order they were picked, and the anchor shift-clicks extend from. */
export interface Selection {
  ids: string[];
  anchor: string;
}

/**
 * The selection after clicking row `id` (`order`: the ids as displayed). A click selects that row
 * alone; ctrl/cmd-click adds or removes it; shift-click selects the range from the anchor (added
 * to the selection when ctrl is held too).
 */
export function clickRow(selection: Selection, id: string, order: readonly string[], mods: { ctrl: boolean; shift: boolean }): Selection {
  if (mods.shift && selection.anchor && order.includes(selection.anchor)) {
    const from = order.indexOf(selection.anchor);
    const to = order.indexOf(id);
    const range = order.slice(Math.min(from, to), Math.max(from, to) + 1);
    const base = mods.ctrl ? selection.ids.filter((s) => !range.includes(s)) : [];
    return { ids: [...base, ...range], anchor: selection.anchor };
  }
  if (mods.ctrl) {
    return selection.ids.includes(id)
      ? { ids: selection.ids.filter((s) => s !== id), anchor: id }
      : { ids: [...selection.ids, id], anchor: id };
  }
  return { ids: [id], anchor: id };
}

/**
 * The id of the best row under each baseline for the headline column (`index`): the largest value
 * when higher is better, else the smallest. Only experiments with a number count.
 */
export function bestRows(rows: readonly TableRow[], index: number, higherIsBetter: boolean): Set<string> {
  const best = new Map<string, TableRow>();
  if (index < 0) {
    return new Set();
  }
  for (const row of rows) {
    const value = row.values[index];
    if (GROUP_KINDS.has(row.kind) || row.kind === "checkpoint" || typeof value !== "number" || Number.isNaN(value)) {
      continue;
    }
    const current = best.get(row.baseline);
    const currentValue = current?.values[index] as number | undefined;
    if (currentValue === undefined || (higherIsBetter ? value > currentValue : value < currentValue)) {
      best.set(row.baseline, row);
    }
  }
  return new Set([...best.values()].map((r) => r.id));
}
