// The Plots panel's data as the helper sends it (xp/plotsData with `columns`): a chart's points as
// columns, `rev` and `series` as runs. Vega wants one record per point; the page builds them here.
// Pure (no DOM, no vscode), so Node's test runner covers it.
import type { PlotColumns } from "./protocol";

/** One {rev, series, x, y} record per point, in the helper's order; throws on columns that do not add up. */
export function recordsOf(columns: PlotColumns): { rev: string; series: string; x: unknown; y: unknown }[] {
  const count = columns.x.length;
  const total = (runs: number[]) => runs.reduce((a, b) => a + b, 0);
  if (columns.y.length !== count || total(columns.revRuns) !== count || total(columns.seriesRuns) !== count
    || columns.rev.length !== columns.revRuns.length || columns.series.length !== columns.seriesRuns.length) {
    throw new Error(`the plot's columns do not add up (${count} x, ${columns.y.length} y, runs of ${total(columns.revRuns)} and ${total(columns.seriesRuns)})`);
  }
  const records = new Array<{ rev: string; series: string; x: unknown; y: unknown }>(count);
  let r = 0;
  let s = 0;
  let revLeft = columns.revRuns[0] ?? 0;
  let seriesLeft = columns.seriesRuns[0] ?? 0;
  for (let i = 0; i < count; i++) {
    while (revLeft === 0) {
      revLeft = columns.revRuns[++r];
    }
    while (seriesLeft === 0) {
      seriesLeft = columns.seriesRuns[++s];
    }
    records[i] = { rev: columns.rev[r], series: columns.series[s], x: columns.x[i], y: columns.y[i] };
    revLeft--;
    seriesLeft--;
  }
  return records;
}

/** The spec with its data inline: the columns' records put into data.values (the spec itself is not changed). */
export function inlineSpec(spec: Record<string, unknown>, columns: PlotColumns | null | undefined): Record<string, unknown> {
  if (!columns) {
    return spec;
  }
  const data = (spec.data ?? {}) as Record<string, unknown>;
  return { ...spec, data: { ...data, values: recordsOf(columns) } };
}
