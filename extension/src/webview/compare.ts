// The Compare panel's page (runs inside the webview, under a `default-src 'none'` CSP): draws the
// table the extension sends, with textContent only, and keeps the person's choices (only changed,
// sort) in the webview state so a reload restores them. "Copy as Markdown" asks the extension to
// write the clipboard.
import { type SortBy, buildTable, toMarkdown } from "../compareModel";
import type { CompareHostMessage, ComparePageMessage } from "../panels/messages";
import type { CompareExperimentsResult } from "../protocol";
import { element, onHostMessage, readyMessage, vsCodeApi } from "./dom";

interface State {
  result?: CompareExperimentsResult;
  names?: string[];
  onlyChanged: boolean;
  sortBy: SortBy;
}

const vscode = vsCodeApi<ComparePageMessage>();
const state: State = { onlyChanged: false, sortBy: "name", ...(vscode.getState() as Partial<State> | undefined) };

function render(): void {
  vscode.setState(state);
  const root = document.getElementById("table")!;
  root.replaceChildren();
  if (!state.result) {
    root.append(element("p", "Loading…"));
    return;
  }
  const table = buildTable(state.result, { onlyChanged: state.onlyChanged, sortBy: state.sortBy });
  const grid = element("table");
  const head = element("tr");
  head.append(element("th", ""), ...table.columns.map((name, i) => element("th", i === 0 ? `${name} (baseline)` : name)));
  grid.append(head);
  let section = "";
  for (const line of table.lines) {
    if (line.section !== section) {
      section = line.section;
      const title = element("tr", undefined, "section");
      const th = element("th", section === "params" ? "Params" : "Metrics");
      th.colSpan = table.columns.length + 1;
      title.append(th);
      grid.append(title);
    }
    const row = element("tr", undefined, line.changed ? "changed" : "");
    row.dataset.key = line.name;
    row.append(element("td", line.name, "key"));
    for (const cell of line.cells) {
      const td = element("td", cell.text, "value");
      if (cell.delta) {
        td.append(element("span", ` ${cell.delta}${cell.percent ? ` (${cell.percent})` : ""}`,
          `delta ${cell.sign > 0 ? "up" : cell.sign < 0 ? "down" : ""}`));
      }
      row.append(td);
    }
    grid.append(row);
  }
  root.append(grid);
  if (!table.lines.length) {
    root.append(element("p", state.onlyChanged ? "Nothing differs between these experiments." : "No params or metrics."));
  }
  for (const error of table.errors) {
    root.append(element("p", error, "error"));
  }
}

const onlyChanged = document.getElementById("only-changed") as HTMLInputElement;
const sortBy = document.getElementById("sort-by") as HTMLSelectElement;
onlyChanged.checked = state.onlyChanged;
sortBy.value = state.sortBy;
onlyChanged.addEventListener("change", () => {
  state.onlyChanged = onlyChanged.checked;
  render();
});
sortBy.addEventListener("change", () => {
  state.sortBy = sortBy.value === "delta" ? "delta" : "name";
  render();
});
document.getElementById("copy")!.addEventListener("click", () => {
  if (state.result) {
    vscode.postMessage({ type: "copy", markdown: toMarkdown(buildTable(state.result, state)) });
  }
});
onHostMessage<CompareHostMessage>((message) => {
  if (message?.type === "data" && message.result) {
    state.result = message.result;
    state.names = message.names;
    const received = Date.now();
    render();
    vscode.postMessage({ type: "drawn", received, drawn: Date.now() });
  }
});
render();
vscode.postMessage(readyMessage());
