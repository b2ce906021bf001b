// What every panel page draws with: elements whose text is set with textContent, never parsed as
// markup (helper data is text; invariant 5); and how a page talks to the extension, in the
// messages of panels/messages.ts.
import type { ReadyMessage } from "../panels/messages";

/** The page's handle on VS Code: it posts `P` (its panel's page messages) and keeps its state across reloads. */
export interface VsCodeApi<P> {
  postMessage(message: P): void;
  getState(): unknown;
  setState(state: unknown): void;
}

declare function acquireVsCodeApi(): VsCodeApi<unknown>;

/** The page's VS Code API (VS Code hands it out once per page: call this once). */
export function vsCodeApi<P>(): VsCodeApi<P> {
  return acquireVsCodeApi() as VsCodeApi<P>;
}

/** Calls `handle` with each message the extension posts (`H`, its panel's host messages: trusted, not parsed again). */
export function onHostMessage<H>(handle: (message: H) => void): void {
  window.addEventListener("message", (event: MessageEvent) => handle(event.data as H));
}

/** A `tag` element holding `text` as text, with `className` when given. */
export function element<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, className?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (text !== undefined) {
    node.textContent = text;
  }
  if (className) {
    node.className = className;
  }
  return node;
}

/**
 * The page's "ready" message, with when its document began loading and when its script ran
 * (epoch ms) and the document's navigation timing: the extension logs where a new panel's first
 * second went.
 */
export function readyMessage(): ReadyMessage {
  const nav = performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming | undefined;
  const timing = nav ? `service worker ready at +${nav.workerStart.toFixed(0)} ms, fetch started at +${nav.fetchStart.toFixed(0)} ms, ` +
    `document loaded at +${nav.domContentLoadedEventStart.toFixed(0)} ms` : "no navigation timing";
  return { type: "ready", began: performance.timeOrigin, scriptRan: performance.timeOrigin + performance.now(), nav: timing };
}
