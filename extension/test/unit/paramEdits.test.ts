// What "Run Experiment with Modified Params" sends: params parsing and argument building.
import assert from "node:assert/strict";
import { test } from "node:test";
import { buildRunParams, paramChoices, parseValue, rangeCount } from "../../src/paramEdits";
import { DEMO_ROWS, row } from "./rows";

test("choices are the workspace's params with their current values", () => {
  assert.deepEqual(paramChoices(DEMO_ROWS[0]).map((c) => [c.target, c.current]), [["train.lr", "0.05"], ["train.epochs", "10"]]);
  assert.deepEqual(paramChoices(row({ params: { "other.yaml": { k: "v" } } })).map((c) => c.target), ["other.yaml:k"]);
  assert.deepEqual(paramChoices(undefined), []);
});

test("values: one value, comma lists, ranges like Python's, and the errors the helper would give", () => {
  assert.deepEqual(parseValue("0.1"), { ok: true, count: 1 });
  assert.deepEqual(parseValue("0.1, 0.2,0.3"), { ok: true, count: 3 });
  assert.deepEqual(parseValue("[1, 2]"), { ok: true, count: 1 });
  assert.deepEqual(parseValue("'a,b'"), { ok: true, count: 1 });
  assert.deepEqual(parseValue("range(5, 30, 5)"), { ok: true, count: 5 });
  assert.deepEqual(parseValue("range(0, 1, 0.25)"), { ok: true, count: 4 });
  assert.deepEqual(parseValue("range(3, 0, -1)"), { ok: true, count: 3 });
  for (const bad of ["", "  ", "1,,2", "range(1)", "range(1, 5, 0)", "range(5, 1)", "range(a, b)", "1,range(1,2)"]) {
    assert.equal(parseValue(bad).ok, false, bad);
  }
  assert.equal(rangeCount("1, 10, 2"), 5);
});

test("a single change runs; a sweep is queued and counts its grid", () => {
  assert.deepEqual(buildRunParams([{ target: "train.lr", text: " 0.1 " }], { queue: false }),
    { params: { params: ["train.lr=0.1"], queue: false }, points: 1 });
  assert.deepEqual(buildRunParams([{ target: "train.lr", text: "0.1,0.2" }, { target: "train.epochs", text: "range(1,4)" }],
    { queue: false }), { params: { params: ["train.lr=0.1,0.2", "train.epochs=range(1,4)"], queue: true }, points: 6 });
  assert.deepEqual(buildRunParams([], { queue: true, name: "x" }), { params: { params: [], queue: true, name: "x" }, points: 1 });
  assert.throws(() => buildRunParams([{ target: "a", text: "1,,2" }], { queue: false }), /^Error: a: A comma list has an empty value/);
});
