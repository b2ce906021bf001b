// The Plots panel's columns → Vega's records.
import assert from "node:assert/strict";
import { test } from "node:test";
import { inlineSpec, recordsOf } from "../../src/plotColumns";

const columns = { rev: ["a", "b"], revRuns: [3, 2], series: ["loss", "acc", "loss"], seriesRuns: [2, 1, 2],
  x: [1, 2, 1, 1, 2], y: [0.5, 0.4, 0.9, 0.6, 0.3] };

test("records follow the runs of rev and series, point by point", () => {
  assert.deepEqual(recordsOf(columns), [
    { rev: "a", series: "loss", x: 1, y: 0.5 }, { rev: "a", series: "loss", x: 2, y: 0.4 },
    { rev: "a", series: "acc", x: 1, y: 0.9 },
    { rev: "b", series: "loss", x: 1, y: 0.6 }, { rev: "b", series: "loss", x: 2, y: 0.3 },
  ]);
  assert.deepEqual(recordsOf({ rev: [], revRuns: [], series: [], seriesRuns: [], x: [], y: [] }), []);
});

test("empty runs are skipped; columns that do not add up are refused, not drawn wrong", () => {
  assert.deepEqual(recordsOf({ rev: ["gone", "a"], revRuns: [0, 1], series: ["s"], seriesRuns: [1], x: [7], y: [8] }),
    [{ rev: "a", series: "s", x: 7, y: 8 }]);
  assert.throws(() => recordsOf({ ...columns, y: [1] }), /do not add up/);
  assert.throws(() => recordsOf({ ...columns, revRuns: [3, 3] }), /do not add up/);
});

test("the spec gets the records as data.values; without columns it is the spec as sent", () => {
  const spec = { mark: "line", data: { values: [], format: { parse: null } } };
  const inlined = inlineSpec(spec, columns) as { data: { values: unknown[]; format: unknown } };
  assert.equal(inlined.data.values.length, 5);
  assert.deepEqual(inlined.data.format, { parse: null });
  assert.deepEqual(spec.data.values, []);
  assert.equal(inlineSpec(spec, null), spec);
});
