// The Compare panel's table: deltas against the first column, filtering, sorting, Markdown.
import assert from "node:assert/strict";
import { test } from "node:test";
import { buildTable, toMarkdown } from "../../src/compareModel";
import type { CompareExperimentsResult } from "../../src/protocol";

const RESULT: CompareExperimentsResult = {
  columns: [
    { label: "base", rev: "a".repeat(40), kind: "experiment" },
    { label: "try|2", rev: "b".repeat(40), kind: "experiment" },
  ],
  rows: [
    { section: "params", path: "params.yaml", key: "train.lr", values: [0.2, 0.05], changed: true },
    { section: "params", path: "params.yaml", key: "model.hidden", values: [8, 16], changed: true },
    { section: "params", path: "params.yaml", key: "opt", values: ["sgd", "sgd"], changed: false },
    { section: "metrics", path: "metrics.json", key: "acc", values: [0.8, null], changed: true },
  ],
  errors: [],
};

test("deltas and percentages against the first column", () => {
  const table = buildTable(RESULT, { onlyChanged: false, sortBy: "name" });
  assert.deepEqual(table.columns, ["base", "try|2"]);
  const lr = table.lines.find((l) => l.name === "train.lr")!;
  assert.deepEqual(lr.cells.map((c) => [c.text, c.delta, c.percent, c.sign]), [["0.2", "", "", 0], ["0.05", "-0.15", "-75.0%", -1]]);
  const hidden = table.lines.find((l) => l.name === "model.hidden")!;
  assert.deepEqual([hidden.cells[1].delta, hidden.cells[1].percent], ["+8", "+100.0%"]);
  const acc = table.lines.find((l) => l.name === "acc")!;
  assert.deepEqual(acc.cells.map((c) => c.text), ["0.8", "—"]);
});

test("only changed, sorted by name or by the largest change, params before metrics", () => {
  assert.deepEqual(buildTable(RESULT, { onlyChanged: false, sortBy: "name" }).lines.map((l) => l.name),
    ["model.hidden", "opt", "train.lr", "acc"]);
  assert.deepEqual(buildTable(RESULT, { onlyChanged: true, sortBy: "delta" }).lines.map((l) => l.name),
    ["model.hidden", "train.lr", "acc"]);
});

test("a key in two files is named with its file", () => {
  const twice: CompareExperimentsResult = { ...RESULT, rows: [
    { section: "params", path: "a.yaml", key: "lr", values: [1, 1], changed: false },
    { section: "params", path: "b.yaml", key: "lr", values: [1, 2], changed: true },
  ] };
  assert.deepEqual(buildTable(twice, { onlyChanged: false, sortBy: "name" }).lines.map((l) => l.name), ["a.yaml:lr", "b.yaml:lr"]);
});

test("markdown escapes pipes and carries the deltas", () => {
  const md = toMarkdown(buildTable(RESULT, { onlyChanged: true, sortBy: "name" }));
  assert.equal(md.split("\n")[0], "|  | base | try\\|2 |");
  assert.ok(md.includes("| train.lr | 0.2 | 0.05 (-0.15, -75.0%) |"), md);
});
