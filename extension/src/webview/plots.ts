// The Plots panel's page (inside the webview, under a `default-src 'none'` CSP): one chart per
// plot the helper sends (Vega-Lite specs with data inline), drawn by the vendored vega-embed with
// Vega's expression interpreter (no eval, so the CSP needs no 'unsafe-eval'). Titles are set with
// textContent; names inside charts are SVG text.
import { EXPORT_FORMATS, plotData, toCsv } from "../plotsExport";
import type { PlotsDataResult } from "../protocol";

declare function acquireVsCodeApi(): { postMessage(message: unknown): void; getState(): unknown; setState(state: unknown): void };
declare const vega: { expressionInterpreter: unknown };
interface VegaView {
  toSVG(): Promise<string>;
  toImageURL(type: string, scale?: number): Promise<string>;
}
declare function vegaEmbed(el: HTMLElement, spec: unknown, options: unknown): Promise<{ view: VegaView }>;

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
    const tools = element("div", undefined, "export");
    section.append(element("h3", plot.id), tools, chart);
    root.append(section);
    const drawn = vegaEmbed(chart, plot.spec, { renderer: "svg", ast: true, expr: vega.expressionInterpreter, actions: false, defaultStyle: false });
    // Export buttons: the chart as SVG or PNG (drawn by Vega), its data as CSV or JSON; the
    // extension writes the file (a webview cannot), under .xp/plots/export/.
    for (const format of EXPORT_FORMATS) {
      const button = element("button", format.toUpperCase(), "export-button");
      button.dataset.format = format;
      button.title = format === "svg" || format === "png" ? `Save this chart as ${format.toUpperCase()}` : `Save this chart's data as ${format.toUpperCase()}`;
      button.addEventListener("click", () => {
        void exportPlot(plot.id, plot.spec, format, drawn).catch((error: Error) =>
          vscode.postMessage({ type: "exportFailed", id: plot.id, format, error: String(error?.message ?? error) }));
      });
      tools.append(button);
    }
    drawn.catch((error: Error) => {
        chart.classList.add("failed");
        chart.textContent = `Could not draw this plot: ${error.message}`;
      });
  }
  for (const error of result.errors) {
    root.append(element("p", error, "error"));
  }
}

async function exportPlot(id: string, spec: unknown, format: string, drawn: Promise<{ view: VegaView }>): Promise<void> {
  let content: string;
  let encoding = "utf8";
  if (format === "svg") {
    content = await (await drawn).view.toSVG();
  } else if (format === "png") {
    const url = await (await drawn).view.toImageURL("png", 2);
    content = url.slice(url.indexOf(",") + 1);
    encoding = "base64";
  } else if (format === "csv") {
    content = toCsv(plotData(spec));
  } else {
    content = JSON.stringify(plotData(spec), null, 2) + "\n";
  }
  vscode.postMessage({ type: "export", id, format, content, encoding });
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
