// What every panel page draws with: elements whose text is set with textContent, never parsed as
// markup (helper data is text; invariant 5).

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
export function readyMessage(): { type: "ready"; began: number; scriptRan: number; nav: string } {
  const nav = performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming | undefined;
  const timing = nav ? `service worker ready at +${nav.workerStart.toFixed(0)} ms, fetch started at +${nav.fetchStart.toFixed(0)} ms, ` +
    `document loaded at +${nav.domContentLoadedEventStart.toFixed(0)} ms` : "no navigation timing";
  return { type: "ready", began: performance.timeOrigin, scriptRan: performance.timeOrigin + performance.now(), nav: timing };
}
