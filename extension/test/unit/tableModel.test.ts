// The Experiments table's logic: table data from helper rows, sorting by several columns,
// the visible window, header clicks and row selection.
import assert from "node:assert/strict";
import { test } from "node:test";
import { findColumns } from "../../src/columnsModel";
import { arrangeRows, bestRows, buildTableData, clickHeader, clickRow, compareValues, sortMarker, visibleWindow } from "../../src/tableModel";
import type { ExperimentRow } from "../../src/protocol";
import { DEMO_ROWS, row } from "./rows";

const BASE = "a".repeat(40);
const labels = (rows: { label: string }[]) => rows.map((r) => r.label);

test("table data: one value per column in column order, baselines named by commit, names kept verbatim", () => {
  const data = buildTableData(DEMO_ROWS, findColumns(DEMO_ROWS));
  assert.deepEqual(data.columns.map((c) => c.label), ["accuracy", "loss", "train.lr", "train.epochs"]);
  assert.equal(data.rows[1].name, BASE);
  assert.equal(data.rows[1].label, "main (aaaaaaa)");
  assert.deepEqual(data.rows[2].values, [0.87123456, 0.3, 0.1, 10]);
  assert.deepEqual(data.rows[3].values, [undefined, undefined, 0.05, 20]);
  assert.equal(data.rows[3].label, "<b>bold</b> \"q\" ünï");
  // The star column is drawn only when the helper's rows carry a star.
  const withoutStar = (r: ExperimentRow): ExperimentRow => {
    const copy: Record<string, unknown> = { ...r };
    delete copy.starred;
    return copy as unknown as ExperimentRow;
  };
  assert.equal(buildTableData(DEMO_ROWS.map(withoutStar), []).hasStars, false);
  const starred = buildTableData([row({ starred: true } as never)], []);
  assert.deepEqual([starred.hasStars, starred.rows[0].starred], [true, true]);
  assert.equal(buildTableData([DEMO_ROWS[2], DEMO_ROWS[2]], []).rows.length, 1);
});

test("values compare as numbers first, then as text", () => {
  assert.ok(compareValues(2, 10) < 0);
  assert.ok(compareValues(10, "9") < 0);
  assert.ok(compareValues("b", "a") > 0);
  assert.equal(compareValues(true, true), 0);
});

const SORT_ROWS = [
  row({ kind: "workspace", name: "workspace", rev: "workspace", baseline: BASE, metrics: { "m.json": { acc: 0.5 } } }),
  row({ kind: "baseline", name: "main", rev: BASE, baseline: BASE, metrics: { "m.json": { acc: 0.6 } } }),
  row({ name: "a", baseline: BASE, metrics: { "m.json": { acc: 0.9, loss: 2 } } }),
  row({ name: "a@3", kind: "checkpoint", baseline: BASE, metrics: { "m.json": { acc: 0.8 } } }),
  row({ name: "b", baseline: BASE, metrics: { "m.json": { loss: 1 } } }),
  row({ name: "c", baseline: BASE, metrics: { "m.json": { acc: 0.7, loss: 2 } } }),
  row({ name: "d", baseline: BASE, metrics: { "m.json": { acc: 0.9, loss: 1 } } }),
  row({ name: "e", baseline: BASE, metrics: { "m.json": { acc: "n/a" } } }),
];

test("sort by one column: numbers, then text, missing last in both directions; baselines stay on top", () => {
  const data = buildTableData(SORT_ROWS, findColumns(SORT_ROWS));
  assert.deepEqual(labels(arrangeRows(data, [{ id: "metrics:m.json:acc", descending: false }], false)),
    ["workspace", "main (aaaaaaa)", "c", "a", "d", "e", "b"]);
  assert.deepEqual(labels(arrangeRows(data, [{ id: "metrics:m.json:acc", descending: true }], false)),
    ["workspace", "main (aaaaaaa)", "e", "a", "d", "c", "b"]);
  // No keys: the helper's order; unknown keys are ignored.
  assert.deepEqual(labels(arrangeRows(data, [{ id: "metrics:nope:x", descending: false }], false)),
    ["workspace", "main (aaaaaaa)", "a", "b", "c", "d", "e"]);
});

test("sort by several columns: the second key breaks ties of the first; checkpoints follow their experiment", () => {
  const data = buildTableData(SORT_ROWS, findColumns(SORT_ROWS));
  const keys = [{ id: "metrics:m.json:loss", descending: false }, { id: "metrics:m.json:acc", descending: true }];
  assert.deepEqual(labels(arrangeRows(data, keys, false)), ["workspace", "main (aaaaaaa)", "d", "b", "a", "c", "e"]);
  assert.deepEqual(labels(arrangeRows(data, keys, true)), ["workspace", "main (aaaaaaa)", "d", "b", "a", "a@3", "c", "e"]);
  assert.deepEqual(labels(arrangeRows(data, [{ id: "name", descending: true }], false)).slice(2), ["e", "d", "c", "b", "a"]);
});

test("a checkpoint whose experiment is filtered out is not listed on its own", () => {
  const rows = [SORT_ROWS[1], row({ name: "gone@2", kind: "checkpoint", baseline: BASE }), SORT_ROWS[4]];
  const data = buildTableData(rows, findColumns(rows));
  assert.deepEqual(labels(arrangeRows(data, [], true)), ["main (aaaaaaa)", "b"]);
});

test("sorting by star puts starred experiments first when descending", () => {
  const rows = [SORT_ROWS[1], row({ name: "plain" }), row({ name: "star", starred: true } as never)];
  const data = buildTableData(rows, []);
  assert.deepEqual(labels(arrangeRows(data, [{ id: "starred", descending: true }], false)).slice(1), ["star", "plain"]);
});

test("experiments are sorted within their own baseline only", () => {
  const other = "c".repeat(40);
  const rows = [
    row({ kind: "baseline", name: "main", rev: BASE, baseline: BASE }),
    row({ name: "x", baseline: BASE, metrics: { f: { v: 2 } } }),
    row({ name: "y", baseline: BASE, metrics: { f: { v: 1 } } }),
    row({ kind: "baseline", name: "old", rev: other, baseline: other }),
    row({ name: "z", baseline: other, metrics: { f: { v: 0 } } }),
  ];
  const data = buildTableData(rows, findColumns(rows));
  assert.deepEqual(labels(arrangeRows(data, [{ id: "metrics:f:v", descending: false }], false)),
    ["main (aaaaaaa)", "y", "x", "old (ccccccc)", "z"]);
});

test("header clicks: plain click sorts by one column and flips it; shift-click adds, flips, then removes", () => {
  let keys = clickHeader([], "acc", false);
  assert.deepEqual(keys, [{ id: "acc", descending: false }]);
  keys = clickHeader(keys, "acc", false);
  assert.deepEqual(keys, [{ id: "acc", descending: true }]);
  keys = clickHeader(keys, "loss", true);
  assert.deepEqual(keys, [{ id: "acc", descending: true }, { id: "loss", descending: false }]);
  assert.equal(sortMarker(keys, "loss"), "▲2");
  keys = clickHeader(keys, "loss", true);
  assert.deepEqual(keys[1], { id: "loss", descending: true });
  keys = clickHeader(keys, "loss", true);
  assert.deepEqual(keys, [{ id: "acc", descending: true }]);
  assert.equal(sortMarker(keys, "acc"), "▼");
  assert.deepEqual(clickHeader(keys, "loss", false), [{ id: "loss", descending: false }]);
});

test("visible window: rows in view plus a margin, clamped to the table", () => {
  assert.deepEqual(visibleWindow(0, 480, 24, 1000, 10), { first: 0, last: 30 });
  assert.deepEqual(visibleWindow(24 * 500 + 5, 480, 24, 1000, 10), { first: 490, last: 531 });
  assert.deepEqual(visibleWindow(24 * 990, 480, 24, 1000, 10), { first: 980, last: 1000 });
  assert.deepEqual(visibleWindow(99_999, 480, 24, 10, 5), { first: 10, last: 10 });
  assert.deepEqual(visibleWindow(0, 480, 24, 0, 10), { first: 0, last: 0 });
});

test("row selection: click, ctrl-click toggles, shift-click selects the range from the anchor", () => {
  const order = ["a", "b", "c", "d", "e"];
  let sel = clickRow({ ids: [], anchor: "" }, "b", order, { ctrl: false, shift: false });
  assert.deepEqual(sel, { ids: ["b"], anchor: "b" });
  sel = clickRow(sel, "d", order, { ctrl: true, shift: false });
  assert.deepEqual(sel.ids, ["b", "d"]);
  sel = clickRow(sel, "b", order, { ctrl: true, shift: false });
  assert.deepEqual(sel.ids, ["d"]);
  sel = clickRow(sel, "a", order, { ctrl: false, shift: true });
  assert.deepEqual(sel, { ids: ["a", "b"], anchor: "b" });
  sel = clickRow({ ids: ["a"], anchor: "c" }, "e", order, { ctrl: true, shift: true });
  assert.deepEqual(sel.ids, ["a", "c", "d", "e"]);
});

test("the best row per baseline follows the higher/lower-is-better choice", () => {
  const data = buildTableData(SORT_ROWS, findColumns(SORT_ROWS));
  const acc = data.columns.findIndex((c) => c.key === "acc");
  const byLabel = (ids: Set<string>) => data.rows.filter((r) => ids.has(r.id)).map((r) => r.label);
  assert.deepEqual(byLabel(bestRows(data.rows, acc, true)), ["a"]);
  assert.deepEqual(byLabel(bestRows(data.rows, acc, false)), ["c"]);
  assert.deepEqual(byLabel(bestRows(data.rows, -1, false)), []);
});
