// The Plots panel's page (inside the webview, under a `default-src 'none'` CSP): one chart per
// plot the helper sends (Vega-Lite specs with data inline), drawn by the vendored vega-embed with
// Vega's expression interpreter (no eval, so the CSP needs no 'unsafe-eval'). Titles are set with
// textContent; names inside charts are SVG text.
import { inlineSpec } from "../plotColumns";
import type { CustomPlots, PlotsHostMessage, PlotsPageMessage, PlotsTimings } from "../panels/messages";
import { EXPORT_FORMATS, type ExportFormat, plotData, toCsv } from "../plotsExport";
import type { PlotsDataResult } from "../protocol";
import { element, onHostMessage, readyMessage, vsCodeApi } from "./dom";

declare const vega: { expressionInterpreter: unknown };
declare const vegaLite: { compile(spec: unknown): { spec: { marks?: VegaMark[] } } };
interface VegaMark {
  encode?: { update?: Record<string, unknown> };
  marks?: VegaMark[];
}
interface VegaView {
  toSVG(): Promise<string>;
  toImageURL(type: string, scale?: number): Promise<string>;
}
declare function vegaEmbed(el: HTMLElement, spec: unknown, options: unknown): Promise<{ view: VegaView }>;

interface State {
  result?: PlotsDataResult;
  names?: string[];
  custom?: CustomPlots;
  customError?: string;
}

const vscode = vsCodeApi<PlotsPageMessage>();
let state = (vscode.getState() as State | undefined) ?? {};
/** The key lists the controls were built from: rebuilt only when they change, so a choice in progress survives live redraws. */
let controlsFor = "";

/** What VS Code keeps across a reload: the choices, not the data (megabytes; the panel asks for it again). */
function saveState(): void {
  vscode.setState({ names: state.names, custom: state.custom, customError: state.customError });
}

function render(): void {
  saveState();
  const root = document.getElementById("plots")!;
  const result = state.result;
  if (!result) {
    root.replaceChildren(element("p", "Loading…"));
    return;
  }
  renderControls(result);
  // Charts are redrawn in place (a running experiment sends a new step every few hundred ms): the
  // old drawing stays until the new one is ready, so the page neither blinks nor loses its scroll.
  const old = new Map<string, HTMLElement>();
  for (const section of Array.from(root.querySelectorAll<HTMLElement>("section.plot"))) {
    old.set(section.dataset.id ?? "", section);
  }
  awaited.clear();
  const nodes: HTMLElement[] = [element("p", `Revisions: ${result.revisions.map((r) => r.label).join(", ")}`, "revs")];
  if (!result.plots.length) {
    nodes.push(element("p", "No plots: dvc.yaml declares none, or their files are missing in these revisions."));
  }
  for (const plot of result.plots) {
    let section = old.get(plot.id);
    if (!section) {
      section = element("section", undefined, "plot");
      section.dataset.id = plot.id;
      const tools = element("div", undefined, "export");
      section.append(element("h3", plot.id), tools, element("div", undefined, "chart"));
      // Export buttons: the chart as SVG or PNG (drawn by Vega), its data as CSV or JSON; the
      // extension writes the file (a webview cannot), under .xp/plots/export/. They export the
      // newest drawing, since a running experiment's charts are redrawn in place.
      const target = section;
      const id = plot.id;
      for (const format of EXPORT_FORMATS) {
        const button = element("button", format.toUpperCase(), "export-button");
        button.dataset.format = format;
        button.title = format === "svg" || format === "png" ? `Save this chart as ${format.toUpperCase()}` : `Save this chart's data as ${format.toUpperCase()}`;
        button.addEventListener("click", () => {
          const latest = drawings.get(target);
          if (!latest) {
            return;
          }
          void exportPlot(id, latest.spec, format, latest.drawn).catch((error: Error) =>
            vscode.postMessage({ type: "exportFailed", id, format, error: String(error?.message ?? error) }));
        });
        tools.append(button);
      }
    }
    nodes.push(section);
    if (plot.pending) {
      // Its data comes in a second answer (the charts on screen are drawn first); an old drawing stays till then.
      awaited.add(section);
      const chart = section.querySelector<HTMLElement>("div.chart");
      if (chart && !chart.childElementCount) {
        chart.textContent = "Loading…";
      }
    } else {
      draw(section, plot.spec);
    }
  }
  for (const error of result.errors) {
    nodes.push(element("p", error, "error"));
  }
  root.replaceChildren(...nodes);
  for (const section of Array.from(waiting.keys())) {
    if (!section.isConnected) {
      waiting.delete(section);  // A plot no longer shown.
    }
  }
}

/** The second answer: the plots that were pending, drawn into their sections (those still missing say so). */
function renderMore(plots: PlotsDataResult["plots"], errors: string[]): void {
  const result = state.result;
  const root = document.getElementById("plots")!;
  if (!result) {
    return;
  }
  const byId = new Map(plots.map((plot) => [plot.id, plot]));
  result.plots = result.plots.map((plot) => byId.get(plot.id) ?? (plot.pending ? { ...plot, pending: false, spec: {} } : plot));
  result.errors = [...result.errors, ...errors];
  for (const section of Array.from(root.querySelectorAll<HTMLElement>("section.plot"))) {
    const plot = byId.get(section.dataset.id ?? "");
    const chart = section.querySelector<HTMLElement>("div.chart");
    awaited.delete(section);
    if (plot) {
      draw(section, plot.spec);
    } else if (chart && !chart.childElementCount && chart.textContent === "Loading…") {
      chart.textContent = "No data for this plot now (its files changed while loading): reopen Plots.";
    }
  }
  root.append(...errors.map((error) => element("p", error, "error")));
}

/** A `<select>` of `options` (first an empty choice named `none` when given), `chosen` selected. */
function select(id: string, options: string[], chosen: string | undefined, none?: string): HTMLSelectElement {
  const box = element("select");
  box.id = id;
  for (const value of none !== undefined ? ["", ...options] : options) {
    const option = element("option", value || none);
    option.value = value;
    option.selected = value === (chosen ?? "");
    box.append(option);
  }
  return box;
}

/**
 * The custom plot controls: a metric against a param (one point per experiment) and parallel
 * coordinates over chosen params, coloured by the metric — what W&B and MLflow offer, here over
 * the experiments shown.
 */
function renderControls(result: PlotsDataResult): void {
  const key = JSON.stringify([result.params, result.metrics, state.custom, state.customError]);
  const form = document.getElementById("custom") as HTMLFormElement | null ?? element("form");
  if (!form.id) {
    form.id = "custom";
    document.body.insertBefore(form, document.getElementById("plots"));
  }
  if (key === controlsFor) {
    return;
  }
  controlsFor = key;
  const custom = state.custom ?? {};
  form.replaceChildren();
  if (!result.metrics.length || !result.params.length) {
    form.append(element("p", "Custom plots need params and metrics in the experiments shown.", "revs"));
    return;
  }
  const metric = select("metric", result.metrics, custom.metric ?? result.metrics[0]);
  const param = select("param", result.params, custom.param, "(no plot against a param)");
  const parallel = element("fieldset");
  parallel.id = "parallel";
  parallel.append(element("legend", "Parallel coordinates over"));
  for (const name of result.params) {
    const label = element("label");
    const box = element("input");
    box.type = "checkbox";
    box.value = name;
    box.checked = custom.parallelParams?.includes(name) ?? false;
    label.append(box, document.createTextNode(` ${name} `));
    parallel.append(label);
  }
  const draw = element("button", "Draw custom plots");
  draw.type = "submit";
  form.append(element("span", "Metric "), metric, element("span", " against "), param, parallel, draw);
  if (state.customError) {
    form.append(element("p", state.customError, "error"));
  }
  form.onsubmit = (event) => {
    event.preventDefault();
    const chosen: CustomPlots = {
      metric: metric.value,
      param: param.value || undefined,
      parallelParams: Array.from(parallel.querySelectorAll<HTMLInputElement>("input:checked")).map((b) => b.value),
    };
    vscode.postMessage({ type: "custom", custom: chosen });
  };
}

/** Above this many data points a chart is painted on a canvas: an SVG node per point makes 20,000 points slow. */
const CANVAS_ABOVE = 5000;

function rendererFor(spec: unknown): "svg" | "canvas" {
  const values = (spec as { data?: { values?: unknown } } | undefined)?.data?.values;
  return Array.isArray(values) && values.length > CANVAS_ABOVE ? "canvas" : "svg";
}

/**
 * A large chart as a Vega spec without its per-point `defined` test, when every x and y is a
 * finite number (the test is then always true): Vega-Lite puts one on every line and point, and
 * interpreted for 20,000 points it is a quarter of the drawing time. Undefined: draw the spec as it is.
 */
function leanVega(spec: unknown): unknown {
  const values = (spec as { data?: { values?: unknown } } | undefined)?.data?.values;
  if (!Array.isArray(values) || values.length <= CANVAS_ABOVE) {
    return undefined;
  }
  for (const value of values as { x?: unknown; y?: unknown }[]) {
    if (typeof value.x !== "number" || !Number.isFinite(value.x) || typeof value.y !== "number" || !Number.isFinite(value.y)) {
      return undefined;
    }
  }
  const compiled = vegaLite.compile(spec).spec;
  let removed = false;
  const walk = (marks: VegaMark[] | undefined): void => {
    for (const mark of marks ?? []) {
      const defined = mark.encode?.update?.defined as { signal?: unknown } | undefined;
      if (typeof defined?.signal === "string" && /^isValid\(datum\["[xy]"\]\)/.test(defined.signal)) {
        delete mark.encode!.update!.defined;
        removed = true;
      }
      walk(mark.marks);
    }
  };
  walk(compiled.marks);
  return removed ? compiled : undefined;
}

/** Each section's newest spec and drawing (what its export buttons save). */
const drawings = new WeakMap<HTMLElement, { spec: unknown; drawn: Promise<{ view: VegaView }> }>();

/** Sections whose data has not come yet (pending in the first answer). */
const awaited = new Set<HTMLElement>();

/** Charts waiting to be drawn: each section's newest spec (a live redraw replaces one not yet drawn). */
const waiting = new Map<HTMLElement, unknown>();
let pumping = false;
/** The newest data's timings, sent to the extension once every chart of it is drawn. */
let report: PlotsTimings | undefined;

/** Draws `spec` into the section in turn: charts on screen first, then the nearest below, one at a time. */
function draw(section: HTMLElement, spec: unknown): void {
  waiting.set(section, spec);
  void pump();
}

/** Whether the newest data's charts on screen are drawn (then the extension sends the rest). */
let screenSaid = false;

/** Says so once the charts on screen with data are drawn; notes the time once those still awaited are too. */
function checkScreen(): void {
  const shown = (sections: Iterable<HTMLElement>) => [...sections].some((s) => s.isConnected && onScreen(s));
  if (!screenSaid && !shown(waiting.keys())) {
    screenSaid = true;
    // The extension holds the other plots' data back until now: copying it in would delay these.
    vscode.postMessage({ type: "screen" });
  }
  if (report && !report.screen && !shown(waiting.keys()) && !shown(awaited)) {
    report.screen = Date.now();
  }
}

/** Whether any part of `el` is inside the window. */
function onScreen(el: HTMLElement): boolean {
  const box = el.getBoundingClientRect();
  return box.bottom > 0 && box.top < window.innerHeight;
}

/** The waiting chart to draw next: one on screen, else the one nearest to the window. */
function nextChart(): [HTMLElement, unknown] | undefined {
  let best: [HTMLElement, unknown] | undefined;
  let distance = Infinity;
  for (const [section, spec] of waiting) {
    if (!section.isConnected) {
      continue;
    }
    const box = section.getBoundingClientRect();
    const away = onScreen(section) ? -1 : box.top >= window.innerHeight ? box.top - window.innerHeight : -box.bottom;
    if (away < distance) {
      best = [section, spec];
      distance = away;
    }
  }
  return best;
}

/**
 * Draws the waiting charts one after the other, yielding between them so the page stays
 * responsive and a scroll changes what comes next. Vega needs 0.1-0.3 s for a chart of 20,000
 * points (its expressions interpreted, as the CSP allows no eval), so ten such charts take seconds:
 * what is on screen is drawn first, and the extension is told when that and the rest are done.
 */
async function pump(): Promise<void> {
  if (pumping) {
    return;
  }
  pumping = true;
  try {
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, 0));
      const picked = nextChart();
      if (!picked) {
        checkScreen();
        break;
      }
      waiting.delete(picked[0]);
      await drawNow(picked[0], picked[1]);
      checkScreen();
    }
  } finally {
    pumping = false;
  }
  if (report && !awaited.size) {
    const done = { ...report, screen: report.screen ?? Date.now(), drawn: Date.now() };
    vscode.postMessage({ type: "drawn", ...done });
    // Also on the page, for the smoke test to read (its own polling is held up while Vega draws).
    document.body.dataset.drawn = JSON.stringify(done);
    report = undefined;
  }
}

function drawNow(section: HTMLElement, spec: unknown): Promise<unknown> {
  const current = section.querySelector<HTMLElement>("div.chart");
  const chart = element("div", undefined, "chart");
  const drawn = current && current.childElementCount ? chart : null;
  if (!drawn) {
    if (current) {
      current.replaceWith(chart);
    } else {
      section.append(chart);
    }
  } else {
    // Drawn off to the side at the same width, then swapped in.
    chart.style.position = "absolute";
    chart.style.visibility = "hidden";
    chart.style.width = `${current!.clientWidth}px`;
    section.append(chart);
  }
  const why = broken.get(spec as object);
  if (why) {
    chart.classList.add("failed");
    chart.textContent = `Could not draw this plot: ${why}`;
    if (drawn) {
      chart.style.position = chart.style.visibility = chart.style.width = "";
      current!.replaceWith(chart);
    }
    return Promise.resolve();
  }
  const lean = leanVega(spec);
  const embedded = vegaEmbed(chart, lean ?? spec, { mode: lean ? "vega" : "vega-lite", renderer: rendererFor(spec), ast: true,
    expr: vega.expressionInterpreter, actions: false, defaultStyle: false });
  drawings.set(section, { spec, drawn: embedded });
  return embedded
    .then(() => {
      if (drawn && current!.isConnected) {
        chart.style.position = chart.style.visibility = chart.style.width = "";
        current!.replaceWith(chart);
      }
    })
    .catch((error: Error) => {
      chart.classList.add("failed");
      chart.style.position = chart.style.visibility = "";
      chart.textContent = `Could not draw this plot: ${error.message}`;
      if (drawn) {
        current!.replaceWith(chart);
      }
    });
}

async function exportPlot(id: string, spec: unknown, format: ExportFormat, drawn: Promise<{ view: VegaView }>): Promise<void> {
  let content: string;
  let encoding: "utf8" | "base64" = "utf8";
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

/** Why a plot's data could not be made into records (its chart says so instead of being drawn). */
const broken = new WeakMap<object, string>();

/** A plot with its columns made into Vega's records (a plot whose columns do not add up is marked broken). */
function withRecords(plot: PlotsDataResult["plots"][number]): PlotsDataResult["plots"][number] {
  try {
    return { ...plot, spec: inlineSpec(plot.spec, plot.columns), columns: null };
  } catch (error) {
    const spec = {};
    broken.set(spec, String((error as Error)?.message ?? error));
    return { ...plot, spec, columns: null };
  }
}

onHostMessage<PlotsHostMessage>((message) => {
  if (message?.type === "data" && message.result) {
    // Plots read from files come as columns (a fifth of the JSON of records): made into Vega's records here.
    message.result.plots = message.result.plots.map(withRecords);
    state = { result: message.result, names: message.names ?? [], custom: message.custom ?? {},
      customError: message.customError ?? "" };
    const received = Date.now();
    render();
    report = { asked: message.asked, received, rendered: Date.now(), plots: message.result.plots.length };
    screenSaid = false;
    checkScreen();  // Nothing on screen to draw first (no plots, or all pending): the rest is asked for now.
  } else if (message?.type === "more" && state.result) {
    renderMore(message.plots.map(withRecords), message.errors ?? []);
    void pump();
  }
});
render();
vscode.postMessage(readyMessage());
