// Exporting one chart of the Plots panel: the data rows inside its Vega-Lite spec, those rows as
// CSV, and the file name it is saved under (.xp/plots/export/<plot id>.<format>). Pure (no DOM,
// no `vscode`): the page (webview/plots.ts), the panel and node --test all use it.

/** What a chart can be exported as. */
export const EXPORT_FORMATS = ["svg", "png", "csv", "json"] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** Whether `value` names an export format. */
export function isExportFormat(value: unknown): value is ExportFormat {
  return typeof value === "string" && (EXPORT_FORMATS as readonly string[]).includes(value);
}

/** The data rows of a spec: its own inline `data.values`, else those of its first layer that has some. */
export function plotData(spec: unknown): Record<string, unknown>[] {
  const values = (node: unknown): unknown => (node as { data?: { values?: unknown } } | undefined)?.data?.values;
  const own = values(spec);
  if (Array.isArray(own)) {
    return own as Record<string, unknown>[];
  }
  for (const layer of ((spec as { layer?: unknown[] } | undefined)?.layer ?? [])) {
    const found = values(layer);
    if (Array.isArray(found)) {
      return found as Record<string, unknown>[];
    }
  }
  return [];
}

function csvField(value: unknown): string {
  const text = value === undefined || value === null ? "" : typeof value === "string" ? value : typeof value === "object"
    ? JSON.stringify(value) : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** Rows as CSV (RFC 4180): a header of every key in first-seen order, then one line per row. */
export function toCsv(rows: readonly Record<string, unknown>[]): string {
  const keys: string[] = [];
  const seen = new Set<string>();
  for (const row of rows) {
    for (const key of Object.keys(row ?? {})) {
      if (!seen.has(key)) {
        seen.add(key);
        keys.push(key);
      }
    }
  }
  const lines = [keys.map(csvField).join(",")];
  for (const row of rows) {
    lines.push(keys.map((key) => csvField(row?.[key])).join(","));
  }
  return lines.join("\r\n") + "\r\n";
}

/** A file name for a plot's export: the plot id with anything but letters, digits, `.`, `-` and `_` made `_`. */
export function exportFileName(plotId: string, format: ExportFormat): string {
  const base = plotId.replace(/[^A-Za-z0-9._-]+/g, "_").replace(/^[._]+/, "").slice(0, 120) || "plot";
  return `${base}.${format}`;
}
