// The Experiments tree built from helper rows: grouping, descriptions, tooltips, icons.
import assert from "node:assert/strict";
import { test } from "node:test";
import { allExperiments, buildTree, changedParams, checkpointNodes, checkpointsKey, pickHeadline, tooltipText,
  withLiveMetrics } from "../../src/experimentsModel";
import { DEMO_ROWS, row } from "./rows";

test("workspace first, then each baseline holding its experiments in order", () => {
  const roots = buildTree(DEMO_ROWS, { headlineMetric: "" });
  assert.deepEqual(roots.map((n) => [n.kind, n.label]), [["workspace", "workspace"], ["baseline", "main"], ["baseline", "ccccccc"]]);
  assert.deepEqual(roots[1].children.map((n) => n.label), ["higher-lr", "<b>bold</b> \"q\" ünï", "sweep-1"]);
  assert.deepEqual(roots[2].children.map((n) => n.label), ["orphan"]);
  assert.deepEqual(allExperiments(roots).map((n) => n.name), ["higher-lr", "<b>bold</b> \"q\" ünï", "sweep-1", "orphan"]);
});

test("description: headline metric, then params changed against the baseline, then a non-success status", () => {
  const [, main] = buildTree(DEMO_ROWS, { headlineMetric: "" });
  assert.equal(main.description, "aaaaaaa  accuracy=0.86");
  assert.deepEqual(main.children.map((n) => n.description), [
    "accuracy=0.8712  train.lr=0.1",
    "train.epochs=20  failed  1 error",
    "train.lr=0.2  queued",
  ]);
});

test("the headline metric follows the setting, by key or file:key", () => {
  assert.deepEqual(pickHeadline(DEMO_ROWS, ""), ["metrics.json", "accuracy"]);
  assert.deepEqual(pickHeadline(DEMO_ROWS, "loss"), ["metrics.json", "loss"]);
  assert.deepEqual(pickHeadline(DEMO_ROWS, "metrics.json:loss"), ["metrics.json", "loss"]);
  assert.equal(pickHeadline(DEMO_ROWS, "nope"), undefined);
  const [, main] = buildTree(DEMO_ROWS, { headlineMetric: "loss" });
  assert.equal(main.children[0].description, "loss=0.3  train.lr=0.1");
});

test("params of other files are named file:key; equal values are not 'changed'", () => {
  const base = row({ params: { "params.yaml": { a: 1 }, "conf/x.json": { "b.c": [1, 2] } } });
  const exp = row({ params: { "params.yaml": { a: 1 }, "conf/x.json": { "b.c": [1, 3] } } });
  assert.deepEqual(changedParams(exp, base), ["conf/x.json:b.c=[1,3]"]);
  assert.deepEqual(changedParams(base, base), []);
});

test("status icons: queued/running/success/failed/cancelled, anything else unknown", () => {
  const statuses = ["queued", "running", "success", "failed", "cancelled", "weird"].map((status) =>
    buildTree([row({ kind: "baseline", rev: "b".repeat(40) }), row({ status })], { headlineMetric: "" })[0].children[0].status);
  assert.deepEqual(statuses, ["queued", "running", "success", "failed", "cancelled", "unknown"]);
});

test("the tooltip lists every param and metric as plain text, names kept verbatim", () => {
  const text = tooltipText(DEMO_ROWS[3]);
  assert.match(text, /^<b>bold<\/b> "q" ünï \(2222222\)\nstatus: failed/);
  assert.match(text, /Params:\n {2}train\.lr = 0\.05\n {2}train\.epochs = 20/);
  assert.match(text, /error in metrics\.json: missing/);
});

test("node ids are stable across loads so VS Code keeps expansion and selection", () => {
  const a = buildTree(DEMO_ROWS, { headlineMetric: "" });
  const b = buildTree(structuredClone(DEMO_ROWS), { headlineMetric: "loss" });
  assert.deepEqual(allExperiments(a).map((n) => n.id), allExperiments(b).map((n) => n.id));
  assert.equal(new Set(allExperiments(a).map((n) => n.id)).size, 4);
});

test("checkpoints hang under their experiment, newest first, with their step", () => {
  const base = "a".repeat(40);
  const rows = [
    row({ kind: "baseline", name: "main", rev: base, baseline: base, status: "" }),
    row({ name: "deep", rev: "1".repeat(40), baseline: base, step: 2 }),
    row({ kind: "checkpoint", name: "deep@2", rev: "2".repeat(40), baseline: base, status: "", step: 2 }),
    row({ kind: "checkpoint", name: "deep@1", rev: "3".repeat(40), baseline: base, status: "", step: 1 }),
    row({ name: "flat", rev: "4".repeat(40), baseline: base }),
  ];
  const [main] = buildTree(rows, { headlineMetric: "" });
  assert.deepEqual(main.children.map((n) => n.label), ["deep", "flat"]);
  const deep = main.children[0];
  assert.deepEqual(deep.children.map((n) => [n.kind, n.label]), [["checkpoint", "deep@2"], ["checkpoint", "deep@1"]]);
  assert.match(deep.children[1].description, /step 1/);
  assert.equal(main.children[1].children.length, 0);
});

test("rows without checkpoints: an experiment with a step expands, and its checkpoints come on their own", () => {
  const base = "a".repeat(40);
  const lean = [
    row({ kind: "baseline", name: "main", rev: base, baseline: base, status: "" }),
    row({ name: "deep", rev: "1".repeat(40), baseline: base, step: 2, metrics: { "m.json": { acc: 0.9 } } }),
    row({ name: "flat", rev: "4".repeat(40), baseline: base }),
  ];
  const [main] = buildTree(lean, { headlineMetric: "" });
  assert.deepEqual(main.children.map((n) => [n.label, n.hasCheckpoints, n.children.length]), [["deep", true, 0], ["flat", false, 0]]);
  const deep = main.children[0];
  // The key names the chain by its tip: a new checkpoint moves the ref, so the list is asked for again.
  assert.notEqual(checkpointsKey(deep), checkpointsKey({ ...deep, rev: "5".repeat(40) }));
  const nodes = checkpointNodes([
    row({ kind: "checkpoint", name: "deep@2", rev: "2".repeat(40), baseline: base, status: "", step: 2, metrics: { "m.json": { acc: 0.9 } } }),
    row({ kind: "checkpoint", name: "deep@1", rev: "3".repeat(40), baseline: base, status: "", step: 1, metrics: { "m.json": { acc: 0.8 } } }),
  ], pickHeadline(lean, ""));
  assert.deepEqual(nodes.map((n) => [n.kind, n.label, n.description]), [
    ["checkpoint", "deep@2", "acc=0.9  step 2"], ["checkpoint", "deep@1", "acc=0.8  step 1"]]);
});

test("a live step updates the running experiment's metrics and step, nothing else", () => {
  const base = "a".repeat(40);
  const rows = [
    row({ kind: "baseline", name: "main", rev: base, baseline: base, status: "" }),
    row({ kind: "running", name: "deep", rev: "1".repeat(40), baseline: base, status: "running",
      metrics: { "metrics.json": { accuracy: 0.5 } } }),
  ];
  const live = { experiment: "deep", baseline: base, step: 3, metrics: { "train.loss": 0.25 } };
  const updated = withLiveMetrics(rows, live);
  assert.deepEqual(updated[1].metrics, { "metrics.json": { accuracy: 0.5 }, "dvclive/metrics.json": { "train.loss": 0.25 } });
  assert.equal(updated[1].step, 3);
  assert.equal(updated[0], rows[0]);
  assert.equal(withLiveMetrics(rows, { ...live, experiment: "other" }), rows);
});
