// The Params & Metrics view: columns found in helper rows, grouped by file, and the choices.
import assert from "node:assert/strict";
import { test } from "node:test";
import { DEFAULT_CHOICES, columnTree, findColumns, headlineColumnId, headlineOption, parseChoices, setShown, shownTest,
  visibleColumns } from "../../src/columnsModel";
import { buildTree } from "../../src/experimentsModel";
import { DEMO_ROWS, row } from "./rows";

const ROWS = [
  row({ params: { "params.yaml": { lr: 1, seed: 2 }, "other.yaml": { lr: 3 } }, metrics: { "m.json": { acc: 1 } } }),
  row({ metrics: { "m.json": { acc: 1, loss: 2 }, "live.json": { acc: 5 } } }),
];

test("every column: metrics first, then params, first-seen order; a key in several files is labelled file:key", () => {
  const columns = findColumns(ROWS);
  assert.deepEqual(columns.map((c) => [c.id, c.label]), [
    ["metrics:m.json:acc", "m.json:acc"], ["metrics:m.json:loss", "loss"], ["metrics:live.json:acc", "live.json:acc"],
    ["params:params.yaml:lr", "params.yaml:lr"], ["params:params.yaml:seed", "seed"], ["params:other.yaml:lr", "other.yaml:lr"],
  ]);
});

test("the view groups columns by file with checkboxes; unticking a file hides all its columns", () => {
  const columns = findColumns(ROWS);
  let choices = setShown(DEFAULT_CHOICES, ["params:params.yaml:seed"], false, columns);
  let tree = columnTree(columns, choices, "metrics:m.json:loss");
  assert.deepEqual(tree.map((f) => [f.label, f.description, f.checked]), [
    ["m.json", "metrics · 2/2", true], ["live.json", "metrics · 1/1", true],
    ["params.yaml", "params · 1/2", false], ["other.yaml", "params · 1/1", true],
  ]);
  assert.equal(tree[0].children[1].description, "headline · higher is better");
  assert.deepEqual(visibleColumns(columns, choices).map((c) => c.id).includes("params:params.yaml:seed"), false);
  choices = setShown(choices, ["file:metrics:m.json"], false, columns);
  tree = columnTree(columns, choices, "");
  assert.deepEqual(tree[0].children.map((c) => c.checked), [false, false]);
  choices = setShown(choices, ["file:metrics:m.json", "params:params.yaml:seed"], true, columns);
  assert.deepEqual(choices.hidden, []);
});

test("the headline: the chosen column, else the setting; the view marks what the tree shows", () => {
  const columns = findColumns(ROWS);
  assert.equal(headlineOption(columns, { ...DEFAULT_CHOICES, headline: "metrics:m.json:loss" }, "acc"), "m.json:loss");
  assert.equal(headlineOption(columns, DEFAULT_CHOICES, "acc"), "acc");
  assert.equal(headlineOption([], { ...DEFAULT_CHOICES, headline: "metrics:m.json:loss" }, ""), "m.json:loss");
  assert.equal(headlineColumnId(columns, "m.json:loss"), "metrics:m.json:loss");
  assert.equal(headlineColumnId(columns, ""), "metrics:m.json:acc");
  assert.equal(headlineColumnId(columns, "nope"), "");
  // The tree's description takes the chosen headline, and only shown params.
  const choices = setShown({ ...DEFAULT_CHOICES, headline: "metrics:metrics.json:loss" }, ["params:params.yaml:train.lr"], false,
    findColumns(DEMO_ROWS));
  const [, main] = buildTree(DEMO_ROWS, { headlineMetric: headlineOption(findColumns(DEMO_ROWS), choices, ""), showColumn: shownTest(choices) });
  assert.equal(main.children[0].description, "loss=0.3");
  assert.equal(main.children[1].description, "train.epochs=20  failed  1 error");
});

test("stored choices are read back safely", () => {
  assert.deepEqual(parseChoices(undefined), DEFAULT_CHOICES);
  assert.deepEqual(parseChoices({ hidden: ["a", 3], headline: 5, higherIsBetter: false }), { hidden: ["a"], headline: "", higherIsBetter: false });
});
