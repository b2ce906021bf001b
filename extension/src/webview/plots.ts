// The Plots panel's page (inside the webview, under a `default-src 'none'` CSP): one chart per
// plot the helper sends (Vega-Lite specs with data inline), drawn by the vendored vega-embed with
// Vega's expression interpreter (no eval, so the CSP needs no 'unsafe-eval'). Titles are set with
// textContent; names inside charts are SVG text.
import type { PlotsDataResult } from "../protocol";

declare function acquireVsCodeApi(): { postMessage(message: unknown): void; getState(): unknown; setState(state: unknown): void };
declare const vega: { expressionInterpreter: unknown };
declare function vegaEmbed(el: HTMLElement, spec: unknown, options: unknown): Promise<unknown>;

const vscode = acquireVsCodeApi();
let state = (vscode.getState() as { result?: PlotsDataResult; names?: string[] } | undefined) ?? {};

function element<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, className?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (text !== undefined) {
    node.textContent = text;
  }
  if (className) {
    node.className = className;
  }
  return node;
}

function render(): void {
  vscode.setState(state);
  const root = document.getElementById("plots")!;
  root.replaceChildren();
  const result = state.result;
  if (!result) {
    root.append(element("p", "Loading…"));
    return;
  }
  root.append(element("p", `Revisions: ${result.revisions.map((r) => r.label).join(", ")}`, "revs"));
  if (!result.plots.length) {
    root.append(element("p", "No plots: dvc.yaml declares none, or their files are missing in these revisions."));
  }
  for (const plot of result.plots) {
    const section = element("section", undefined, "plot");
    section.dataset.id = plot.id;
    const chart = element("div", undefined, "chart");
    section.append(element("h3", plot.id), chart);
    root.append(section);
    vegaEmbed(chart, plot.spec, { renderer: "svg", ast: true, expr: vega.expressionInterpreter, actions: false, defaultStyle: false })
      .catch((error: Error) => {
        chart.classList.add("failed");
        chart.textContent = `Could not draw this plot: ${error.message}`;
      });
  }
  for (const error of result.errors) {
    root.append(element("p", error, "error"));
  }
}

window.addEventListener("message", (event: MessageEvent) => {
  const message = event.data as { type?: string; result?: PlotsDataResult; names?: string[] };
  if (message?.type === "data" && message.result) {
    state = { result: message.result, names: message.names ?? [] };
    render();
  }
});
render();
vscode.postMessage({ type: "ready" });
