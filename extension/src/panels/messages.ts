// Every message between a panel's page and the extension, one union per panel and direction, and
// the parse functions that check what a page sends. Both sides import this file: the panels
// (panels/*.ts) and the pages (webview/*.ts, type-only, so nothing of it is bundled into a page).
// A page is not trusted (helper data is drawn in it, and a compromised page can post anything),
// so the extension acts only on what a parse function returns: an unknown type, or a field of the
// wrong kind where the extension would act on it, makes the message undefined and it is dropped.
// What the extension posts is trusted by the page and not parsed there. Pure (no `vscode`).
import { type ExportFormat, isExportFormat } from "../plotsExport";
import type { CompareExperimentsResult, PlotsDataResult } from "../protocol";
import type { TableData } from "../tableModel";

/**
 * A page's first message (webview/dom.ts readyMessage): it listens now. With when its document
 * began loading and when its script ran (epoch ms) and its navigation timing, for the log.
 */
export interface ReadyMessage {
  type: "ready";
  began?: number;
  scriptRan?: number;
  nav?: string;
}

// Compare.

/** Compare page → extension: ready, the table drawn (epoch ms, for the log), or the table as Markdown to copy. */
export type ComparePageMessage =
  | ReadyMessage
  | { type: "drawn"; received?: number; drawn?: number }
  | { type: "copy"; markdown: string };

/** Extension → Compare page: the helper's answer for `names` (the first is the baseline). */
export type CompareHostMessage = { type: "data"; result: CompareExperimentsResult; names: string[] };

export function parseCompareMessage(message: unknown): ComparePageMessage | undefined {
  const raw = fields(message);
  switch (raw?.type) {
    case "ready":
      return readyFrom(raw);
    case "drawn":
      return { type: "drawn", received: number(raw.received), drawn: number(raw.drawn) };
    case "copy":
      return typeof raw.markdown === "string" ? { type: "copy", markdown: raw.markdown } : undefined;
  }
  return undefined;
}

// Plots.

/** The custom plots the page's controls ask for: a metric against a param, and parallel coordinates. */
export interface CustomPlots {
  metric?: string;
  param?: string;
  parallelParams?: string[];
}

/** When the page had the newest data and drew it (epoch ms; `asked` is when the extension asked the helper). */
export interface PlotsTimings {
  asked?: number;
  received?: number;
  rendered?: number;
  screen?: number;
  drawn?: number;
  plots?: number;
}

/**
 * Plots page → extension: ready; the charts on screen are drawn (send the rest); all are drawn
 * (timings for the log); custom plots asked for; a chart exported (`content` is base64 for PNG),
 * or why an export failed.
 */
export type PlotsPageMessage =
  | ReadyMessage
  | { type: "screen" }
  | ({ type: "drawn" } & PlotsTimings)
  | { type: "custom"; custom: CustomPlots }
  | { type: "export"; id: string; format: ExportFormat; content: string; encoding: "utf8" | "base64" }
  | { type: "exportFailed"; id: string; format: string; error: string };

/**
 * Extension → Plots page: the first answer (the plots on screen with their data, the rest
 * `pending`), with what it answers and when the helper was asked; then the pending plots.
 */
export type PlotsHostMessage =
  | { type: "data"; result: PlotsDataResult; names: string[]; custom: CustomPlots; customError: string; asked: number }
  | { type: "more"; plots: PlotsDataResult["plots"]; errors: string[] };

export function parsePlotsMessage(message: unknown): PlotsPageMessage | undefined {
  const raw = fields(message);
  switch (raw?.type) {
    case "ready":
      return readyFrom(raw);
    case "screen":
      return { type: "screen" };
    case "drawn":
      return { type: "drawn", asked: number(raw.asked), received: number(raw.received), rendered: number(raw.rendered),
        screen: number(raw.screen), drawn: number(raw.drawn), plots: number(raw.plots) };
    case "custom":
      return { type: "custom", custom: parseCustomPlots(raw.custom) };
    case "export":
      if (typeof raw.id !== "string" || !isExportFormat(raw.format) || typeof raw.content !== "string") {
        return undefined;
      }
      return { type: "export", id: raw.id, format: raw.format, content: raw.content, encoding: raw.encoding === "base64" ? "base64" : "utf8" };
    case "exportFailed":
      if (typeof raw.id !== "string" || typeof raw.format !== "string" || typeof raw.error !== "string") {
        return undefined;
      }
      return { type: "exportFailed", id: raw.id, format: raw.format, error: raw.error };
  }
  return undefined;
}

/** Only the custom-plot fields a page may set, as non-empty strings (from a message or the saved page state). */
export function parseCustomPlots(value: unknown): CustomPlots {
  const raw = fields(value) ?? {};
  const text = (v: unknown) => (typeof v === "string" && v ? v : undefined);
  return { metric: text(raw.metric), param: text(raw.param), parallelParams: strings(raw.parallelParams).filter((v) => !!v) };
}

// The experiments table.

/**
 * Table page → extension: ready (with the filter and checkpoints toggle its state restored), the
 * toggle or the filter changed, Compare or Plot the selected rows, or a row's menu action.
 */
export type TablePageMessage =
  | { type: "ready"; filter: string; checkpoints: boolean }
  | { type: "checkpoints"; on: boolean }
  | { type: "filter"; text: string }
  | { type: "compare"; names: string[] }
  | { type: "plot"; names: string[] }
  | { type: "action"; action: string; name: string; names: string[] };

/** Extension → table page: the rows and chosen columns, or the helper's words on a bad filter. */
export type TableHostMessage =
  | { type: "data"; table: TableData; headline: string; higherIsBetter: boolean; filter: string; actions: string[] }
  | { type: "filterError"; error: string };

export function parseTableMessage(message: unknown): TablePageMessage | undefined {
  const raw = fields(message);
  switch (raw?.type) {
    case "ready":
      return { type: "ready", filter: typeof raw.filter === "string" ? raw.filter : "", checkpoints: raw.checkpoints === true };
    case "checkpoints":
      return { type: "checkpoints", on: raw.on === true };
    case "filter":
      return { type: "filter", text: typeof raw.text === "string" ? raw.text : "" };
    case "compare":
    case "plot":
      return { type: raw.type, names: strings(raw.names) };
    case "action":
      if (typeof raw.action !== "string" || typeof raw.name !== "string") {
        return undefined;
      }
      return { type: "action", action: raw.action, name: raw.name, names: strings(raw.names) };
  }
  return undefined;
}

// A page's saved state (webview setState), which VS Code hands back after a reload: the page wrote
// it, so it is checked like a message.

/** The experiment names a Compare or Plots page saved. */
export function savedNames(state: unknown): string[] {
  return strings(fields(state)?.names);
}

/** The custom plots a Plots page saved. */
export function savedCustomPlots(state: unknown): CustomPlots {
  return parseCustomPlots(fields(state)?.custom);
}

/** A message's fields when it is an object (not null, not an array). */
function fields(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function readyFrom(raw: Record<string, unknown>): ReadyMessage {
  return { type: "ready", began: number(raw.began), scriptRan: number(raw.scriptRan), nav: typeof raw.nav === "string" ? raw.nav : undefined };
}

function number(value: unknown): number | undefined {
  return typeof value === "number" ? value : undefined;
}

/** The strings of a list (anything else in it dropped); not a list: none. */
function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}
