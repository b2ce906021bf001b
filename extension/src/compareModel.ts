// The Compare panel's table, from the helper's xp/compareExperiments answer: one line per param
// and metric, the first column the baseline, each other cell with its delta and percentage
// against it; the "only changed" filter, sorting by name or by the largest change, and the
// Markdown a person pastes into a pull request. Pure: no `vscode`, no DOM (the webview and
// node --test both use it).
import type { CompareExperimentsResult } from "./protocol";
import { formatValue } from "./text";

export type SortBy = "name" | "delta";

/** One cell: the value as text, and (beside the baseline) its change against the baseline. */
export interface CompareCell {
  text: string;
  /** `+0.15`, `-2`, or empty when either side is not a number (or for the baseline column). */
  delta: string;
  /** `+75.0%`, or empty when the baseline is 0 or not a number. */
  percent: string;
  /** -1, 0, 1: the sign of the change (0 when none or not numeric). */
  sign: number;
}

export interface CompareLine {
  section: string;
  /** `key`, or `file:key` when several files have that key. */
  name: string;
  cells: CompareCell[];
  changed: boolean;
  /** The largest relative change of the line (absolute change when the baseline is 0). */
  magnitude: number;
}

export interface CompareTable {
  columns: string[];
  lines: CompareLine[];
  errors: string[];
}

function isNumber(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value);
}

/** A change written with its sign, rounded as values are. */
function signed(value: number): string {
  const text = formatValue(value);
  return value > 0 ? `+${text}` : text;
}

function cell(value: unknown, base: unknown, isBaseline: boolean): CompareCell {
  const text = value === null || value === undefined ? "—" : formatValue(value);
  if (isBaseline || !isNumber(value) || !isNumber(base)) {
    return { text, delta: "", percent: "", sign: 0 };
  }
  const change = value - base;
  const percent = base === 0 ? "" : `${change > 0 ? "+" : ""}${((change / Math.abs(base)) * 100).toFixed(1)}%`;
  return { text, delta: change === 0 ? "" : signed(change), percent: change === 0 ? "" : percent, sign: Math.sign(change) };
}

/** The table as the panel draws it, filtered and sorted. */
export function buildTable(result: CompareExperimentsResult, options: { onlyChanged: boolean; sortBy: SortBy }): CompareTable {
  const files = new Map<string, Set<string>>();
  for (const row of result.rows) {
    const key = `${row.section}\u0000${row.key}`;
    files.set(key, (files.get(key) ?? new Set()).add(row.path));
  }
  let lines: CompareLine[] = result.rows.map((row) => {
    const base = row.values[0];
    const several = (files.get(`${row.section}\u0000${row.key}`)?.size ?? 0) > 1;
    const magnitude = Math.max(0, ...row.values.slice(1).map((v) =>
      isNumber(v) && isNumber(base) ? Math.abs(base === 0 ? v : (v - base) / base) : 0));
    return {
      section: row.section,
      name: several ? `${row.path}:${row.key}` : row.key,
      cells: row.values.map((v, i) => cell(v, base, i === 0)),
      changed: row.changed,
      magnitude,
    };
  });
  if (options.onlyChanged) {
    lines = lines.filter((line) => line.changed);
  }
  const bySection = (a: CompareLine, b: CompareLine) => (a.section === b.section ? 0 : a.section === "params" ? -1 : 1);
  lines.sort((a, b) => bySection(a, b) || (options.sortBy === "delta"
    ? b.magnitude - a.magnitude || Number(b.changed) - Number(a.changed) || a.name.localeCompare(b.name)
    : a.name.localeCompare(b.name)));
  return { columns: result.columns.map((c) => c.label), lines, errors: result.errors };
}

/** Text safe inside a Markdown table cell. */
function mdCell(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\|/g, "\\|").replace(/\n/g, " ");
}

/** The table as GitHub Markdown (deltas in parentheses), as the panel copies it. */
export function toMarkdown(table: CompareTable): string {
  const header = ["", ...table.columns].map(mdCell);
  const lines = [`| ${header.join(" | ")} |`, `|${header.map(() => "---").join("|")}|`];
  for (const line of table.lines) {
    const cells = line.cells.map((c) => mdCell(c.delta ? `${c.text} (${c.delta}${c.percent ? `, ${c.percent}` : ""})` : c.text));
    lines.push(`| ${mdCell(line.name)} | ${cells.join(" | ")} |`);
  }
  return lines.join("\n") + "\n";
}
