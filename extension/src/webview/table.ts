// The Experiments table panel's page (inside the webview, under a `default-src 'none'` CSP). It
// draws only the rows and columns in view (plus a margin) inside one fixed-size scroller, so
// 1,000 rows × 200 columns cost a few hundred cells per frame; everything is drawn with
// textContent. Sorting, the visible window and selection come from tableModel.ts (unit tested);
// the filter goes to the extension (the helper evaluates it). Sort, filter, scroll position,
// selection and the checkpoints toggle are kept with setState, so a reload restores them.
import { type Selection, type SortKey, type TableData, type TableRow, arrangeRows, bestRows, clickHeader, clickRow, sortMarker,
  visibleWindow } from "../tableModel";
import type { TableHostMessage, TablePageMessage } from "../panels/messages";
import { element, onHostMessage, vsCodeApi } from "./dom";

interface State {
  sort: SortKey[];
  filter: string;
  scrollTop: number;
  scrollLeft: number;
  selection: Selection;
  checkpoints: boolean;
}

const ROW_HEIGHT = 24;
const HEAD_HEIGHT = 28;
const NAME_WIDTH = 260;
const STAR_WIDTH = 28;
const COLUMN_WIDTH = 110;
const ROW_MARGIN = 8;
const COLUMN_MARGIN = 2;

const vscode = vsCodeApi<TablePageMessage>();
const state: State = {
  sort: [], filter: "", scrollTop: 0, scrollLeft: 0, selection: { ids: [], anchor: "" }, checkpoints: false,
  ...(vscode.getState() as Partial<State> | undefined),
};
let data: TableData | undefined;
let headline = "";
let higherIsBetter = true;
/** Row actions whose command exists (the extension says). */
let rowActions: string[] = [];
let shown: TableRow[] = [];
let best = new Set<string>();
let restoredScroll = false;
let frame = 0;

const scroller = document.getElementById("scroller") as HTMLDivElement;
const canvas = document.getElementById("canvas") as HTMLDivElement;
const head = document.getElementById("head") as HTMLDivElement;
const body = document.getElementById("rows") as HTMLDivElement;
const filter = document.getElementById("filter") as HTMLInputElement;
const errorLine = document.getElementById("error") as HTMLDivElement;
const count = document.getElementById("count") as HTMLSpanElement;
const selectedText = document.getElementById("selected") as HTMLSpanElement;
const checkpoints = document.getElementById("checkpoints") as HTMLInputElement;
const menu = document.getElementById("menu") as HTMLDivElement;

/** A value as a cell shows it (numbers to 4 significant digits, as the tree does). */
function cellText(value: unknown): string {
  if (value === undefined || value === null) {
    return "";
  }
  if (typeof value === "number") {
    return Number.isInteger(value) || !Number.isFinite(value) ? String(value) : String(Number(value.toPrecision(4)));
  }
  return typeof value === "string" ? value : JSON.stringify(value);
}

function save(): void {
  vscode.setState(state);
}

/** Re-sorts the rows (after new data, a sort change or the checkpoints toggle), then draws. */
function arrange(): void {
  if (!data) {
    return;
  }
  shown = arrangeRows(data, state.sort, state.checkpoints);
  best = bestRows(data.rows, data.columns.findIndex((c) => c.id === headline), higherIsBetter);
  const known = new Set(shown.map((r) => r.id));
  state.selection = { ids: state.selection.ids.filter((id) => known.has(id)), anchor: state.selection.anchor };
  const experiments = shown.filter((r) => r.kind !== "workspace" && r.kind !== "baseline" && r.kind !== "checkpoint").length;
  count.textContent = `${experiments} experiment${experiments === 1 ? "" : "s"} · ${data.columns.length} columns`;
  const starWidth = data.hasStars ? STAR_WIDTH : 0;
  canvas.style.width = `${NAME_WIDTH + starWidth + data.columns.length * COLUMN_WIDTH}px`;
  canvas.style.height = `${HEAD_HEIGHT + shown.length * ROW_HEIGHT}px`;
  draw();
  save();
}

function draw(): void {
  frame = 0;
  if (!data) {
    return;
  }
  const started = performance.now();
  state.scrollTop = scroller.scrollTop;
  state.scrollLeft = scroller.scrollLeft;
  const starWidth = data.hasStars ? STAR_WIDTH : 0;
  const rowsInView = visibleWindow(scroller.scrollTop, scroller.clientHeight - HEAD_HEIGHT, ROW_HEIGHT, shown.length, ROW_MARGIN);
  const columnsInView = visibleWindow(scroller.scrollLeft, scroller.clientWidth - NAME_WIDTH - starWidth, COLUMN_WIDTH,
    data.columns.length, COLUMN_MARGIN);
  const spacer = (): HTMLDivElement => {
    const gap = element("div", undefined, "gap");
    gap.style.width = `${columnsInView.first * COLUMN_WIDTH}px`;
    return gap;
  };
  // The header: name, star, then the columns in view.
  const headCells: HTMLElement[] = [headerCell("name", "Experiment", "cell name", "Sort by name (shift-click: add as the next sort key)")];
  if (data.hasStars) {
    headCells.push(headerCell("starred", "★", "cell star", "Sort by star (shift-click: add as the next sort key)"));
  }
  headCells.push(spacer());
  for (let i = columnsInView.first; i < columnsInView.last; i++) {
    const column = data.columns[i];
    headCells.push(headerCell(column.id, column.label, `cell ${column.section}${column.id === headline ? " headline" : ""}`,
      `${column.section} ${column.file}:${column.key} — click to sort, shift-click to add as the next sort key`));
  }
  head.replaceChildren(...headCells);
  const selected = new Set(state.selection.ids);
  const rows: HTMLElement[] = [];
  for (let r = rowsInView.first; r < rowsInView.last; r++) {
    const row = shown[r];
    const line = element("div", undefined, `row ${row.kind}${selected.has(row.id) ? " selected" : ""}${best.has(row.id) ? " best" : ""}`);
    line.style.top = `${HEAD_HEIGHT + r * ROW_HEIGHT}px`;
    line.setAttribute("role", "row");
    line.setAttribute("aria-rowindex", String(r + 2));
    line.setAttribute("aria-selected", String(selected.has(row.id)));
    line.dataset.id = row.id;
    line.dataset.index = String(r);
    const name = element("div", row.label, "cell name");
    if (row.status && row.status !== "success") {
      name.append(element("span", ` ${row.status}`, "status"));
    }
    name.title = row.label;
    name.setAttribute("role", "rowheader");
    line.append(name);
    if (data.hasStars) {
      line.append(element("div", row.starred ? "★" : "", "cell star"));
    }
    line.append(spacer());
    for (let i = columnsInView.first; i < columnsInView.last; i++) {
      const cell = element("div", cellText(row.values[i]), "cell value");
      cell.setAttribute("role", "gridcell");
      cell.setAttribute("aria-colindex", String(i + 2));
      line.append(cell);
    }
    rows.push(line);
  }
  body.replaceChildren(...rows);
  scroller.setAttribute("aria-rowcount", String(shown.length + 1));
  scroller.setAttribute("aria-colcount", String(data.columns.length + 1));
  body.dataset.renderMs = (performance.now() - started).toFixed(1);
  body.dataset.drawn = String(rows.length);
  selectedText.textContent = state.selection.ids.length ? `${state.selection.ids.length} selected` : "";
}

function headerCell(id: string, label: string, className: string, title: string): HTMLDivElement {
  const cell = element("div", undefined, `${className} sortable`);
  cell.dataset.column = id;
  cell.title = title;
  cell.append(element("span", label, "label"));
  const marker = sortMarker(state.sort, id);
  if (marker) {
    cell.append(element("span", ` ${marker}`, "marker"));
  }
  cell.setAttribute("role", "columnheader");
  cell.setAttribute("aria-sort", !marker ? "none" : marker.startsWith("▼") ? "descending" : "ascending");
  return cell;
}

function schedule(): void {
  if (!frame) {
    frame = requestAnimationFrame(() => {
      draw();
      save();
    });
  }
}

/** The names commands take, of the selected rows in display order. */
function selectedNames(): string[] {
  const selected = new Set(state.selection.ids);
  return shown.filter((r) => selected.has(r.id)).map((r) => r.name);
}

function rowOf(target: EventTarget | null): TableRow | undefined {
  const line = (target as HTMLElement | null)?.closest?.(".row") as HTMLElement | null;
  const index = Number(line?.dataset.index);
  return line && Number.isInteger(index) ? shown[index] : undefined;
}

function hideMenu(): void {
  menu.hidden = true;
}

/** The per-row actions, at the pointer. Experiments only: baselines and the workspace cannot be applied or removed. */
function showMenu(row: TableRow, x: number, y: number): void {
  const actions: [string, string][] = (row.kind === "workspace" || row.kind === "baseline" || row.kind === "checkpoint"
    ? [["compare", "Compare selected"], ["plot", "Plot selected"]]
    : [["apply", "Apply to workspace"], ["branch", "Create branch…"], ["queueVariation", "Queue a variation…"],
      ["remove", "Remove"], ["compare", "Compare selected"], ["plot", "Plot selected"]])
    .filter(([action]) => action === "compare" || action === "plot" || rowActions.includes(action)) as [string, string][];
  menu.replaceChildren(...actions.map(([action, label]) => {
    const item = element("button", label, "item");
    item.dataset.action = action;
    item.addEventListener("click", () => {
      hideMenu();
      if (action === "compare" || action === "plot") {
        vscode.postMessage({ type: action, names: selectedNames() });
      } else {
        const names = action === "remove" && state.selection.ids.includes(row.id) ? selectedNames() : [row.name];
        vscode.postMessage({ type: "action", action, name: row.name, names });
      }
    });
    return item;
  }));
  menu.style.left = `${Math.min(x, window.innerWidth - 200)}px`;
  menu.style.top = `${Math.min(y, window.innerHeight - 30 * actions.length)}px`;
  menu.hidden = false;
}

head.addEventListener("click", (event) => {
  const cell = (event.target as HTMLElement).closest(".sortable") as HTMLElement | null;
  if (cell?.dataset.column) {
    state.sort = clickHeader(state.sort, cell.dataset.column, event.shiftKey);
    arrange();
  }
});
body.addEventListener("click", (event) => {
  const row = rowOf(event.target);
  if (row) {
    state.selection = clickRow(state.selection, row.id, shown.map((r) => r.id), { ctrl: event.ctrlKey || event.metaKey, shift: event.shiftKey });
    draw();
    save();
  }
});
body.addEventListener("contextmenu", (event) => {
  const row = rowOf(event.target);
  if (row) {
    event.preventDefault();
    if (!state.selection.ids.includes(row.id)) {
      state.selection = { ids: [row.id], anchor: row.id };
      draw();
      save();
    }
    showMenu(row, event.clientX, event.clientY);
  }
});
document.addEventListener("click", (event) => {
  if (!menu.contains(event.target as Node)) {
    hideMenu();
  }
}, true);
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape") {
    hideMenu();
    return;
  }
  // Up/down move the selection (shift extends it) while the table, not the filter box, has the keys.
  if ((event.key === "ArrowDown" || event.key === "ArrowUp") && event.target !== filter && shown.length) {
    event.preventDefault();
    const order = shown.map((r) => r.id);
    const current = order.indexOf(state.selection.ids.at(-1) ?? "");
    const next = Math.min(order.length - 1, Math.max(0, current + (event.key === "ArrowDown" ? 1 : -1)));
    state.selection = clickRow(state.selection, order[next], order, { ctrl: false, shift: event.shiftKey });
    const top = HEAD_HEIGHT + next * ROW_HEIGHT;
    if (top < scroller.scrollTop + HEAD_HEIGHT) {
      scroller.scrollTop = top - HEAD_HEIGHT;
    } else if (top + ROW_HEIGHT > scroller.scrollTop + scroller.clientHeight) {
      scroller.scrollTop = top + ROW_HEIGHT - scroller.clientHeight;
    }
    draw();
    save();
  }
});
scroller.addEventListener("scroll", () => {
  hideMenu();
  schedule();
}, { passive: true });
window.addEventListener("resize", schedule);

let typing = 0;
function sendFilter(): void {
  clearTimeout(typing);
  const text = filter.value.trim();
  if (text !== state.filter) {
    state.filter = text;
    save();
    vscode.postMessage({ type: "filter", text });
  }
}
filter.value = state.filter;
filter.addEventListener("input", () => {
  clearTimeout(typing);
  typing = window.setTimeout(sendFilter, 600);
});
filter.addEventListener("keydown", (event) => {
  if (event.key === "Enter") {
    sendFilter();
  }
});
checkpoints.checked = state.checkpoints;
checkpoints.addEventListener("change", () => {
  state.checkpoints = checkpoints.checked;
  arrange();
  // The tree's rows carry no checkpoints (it asks for them per experiment): the panel loads them.
  vscode.postMessage({ type: "checkpoints", on: state.checkpoints });
});
document.getElementById("compare")!.addEventListener("click", () => vscode.postMessage({ type: "compare", names: selectedNames() }));
document.getElementById("plot")!.addEventListener("click", () => vscode.postMessage({ type: "plot", names: selectedNames() }));

onHostMessage<TableHostMessage>((message) => {
  if (message?.type === "data" && message.table) {
    data = message.table;
    headline = message.headline ?? "";
    higherIsBetter = message.higherIsBetter ?? true;
    rowActions = message.actions ?? [];
    errorLine.textContent = "";
    arrange();
    if (!restoredScroll) {
      restoredScroll = true;
      scroller.scrollTop = state.scrollTop;
      scroller.scrollLeft = state.scrollLeft;
      draw();
    }
  } else if (message?.type === "filterError") {
    // The helper's own words (they name the bad part and the fix), as text.
    errorLine.textContent = message.error ?? "The filter is not valid.";
  }
});
body.replaceChildren(element("div", "Loading…", "loading"));
vscode.postMessage({ type: "ready", filter: state.filter, checkpoints: state.checkpoints });
