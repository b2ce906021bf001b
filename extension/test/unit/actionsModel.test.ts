// The pure parts of the commands on experiment rows: variations, tag edits, run-cache rows.
import assert from "node:assert/strict";
import { test } from "node:test";
import { age, assignmentValue, parseTags, remoteName, runItem, tagChanges, variationAssignments } from "../../src/actionsModel";
import { buildTree } from "../../src/experimentsModel";
import { DEMO_ROWS, row } from "./rows";

test("a variation sets every param in which the experiment differs from the workspace, typed edits win", () => {
  const workspace = DEMO_ROWS[0];
  const experiment = row({ params: { "params.yaml": { "train.lr": 0.1, "train.epochs": 10, "model.act": "relu,x" },
    "other.yaml": { k: [1, 2] } } });
  assert.deepEqual(variationAssignments(experiment, workspace),
    ["train.lr=0.1", 'model.act="relu,x"', "other.yaml:k=[1,2]"]);
  assert.deepEqual(variationAssignments(experiment, workspace, new Set(["train.lr"])),
    ['model.act="relu,x"', "other.yaml:k=[1,2]"]);
  assert.deepEqual(variationAssignments(workspace, workspace), []);
});

test("values are written so the helper reads them back unchanged (strings quoted, HTML and unicode kept)", () => {
  assert.equal(assignmentValue("0.1"), '"0.1"');
  assert.equal(assignmentValue('<b>"ü"</b>'), '"<b>\\"ü\\"</b>"');
  assert.equal(assignmentValue(true), "true");
  assert.equal(assignmentValue(null), "null");
  assert.equal(assignmentValue({ a: 1 }), '{"a":1}');
});

test("a typed tag line becomes the tags to add and to remove", () => {
  assert.deepEqual(parseTags(" best, fast  best <b>"), ["best", "fast", "<b>"]);
  assert.deepEqual(parseTags(""), []);
  assert.deepEqual(tagChanges(["a", "b"], ["b", "c"]), { add: ["c"], remove: ["a"] });
  assert.deepEqual(tagChanges(["a"], []), { add: [], remove: ["a"] });
});

test("a run-cache entry reads as stage, age, duration, metrics and params", () => {
  const item = runItem({ id: "0123456789abcdef", stage: "train", created: 1000, duration: 2.04,
    params: { "params.yaml": { "train.lr": 0.1 } }, metrics: { "metrics.json:accuracy": 0.87654 } }, 1000 + 600);
  assert.deepEqual(item, { label: "train  01234567", description: "10 min ago  2.0 s  accuracy=0.8765", detail: "train.lr=0.1" });
  assert.equal(age(30), "30 s ago");
  assert.equal(age(7200), "2 h ago");
  assert.equal(age(86400 * 3), "3 days ago");
});

test("a remote is a name or URL; blank means origin", () => {
  assert.equal(remoteName(""), "origin");
  assert.equal(remoteName(" ../backup.git "), "../backup.git");
  assert.equal(remoteName("two words"), undefined);
  assert.equal(remoteName("--upload-pack=x"), undefined);
});

test("tags and the note's first line show in an experiment's description, as text", () => {
  const rows = [DEMO_ROWS[1], row({ name: "tagged", baseline: DEMO_ROWS[1].rev, tags: ["best", "<i>"], note: "first line\nsecond" })];
  const node = buildTree(rows, { headlineMetric: "" })[0].children[0];
  assert.match(node.description, /^#best {2}#<i> {2}“first line”/);
  assert.match(node.tooltip, /tags: best, <i>\nnote: first line\nsecond/);
});

test("a starred experiment shows ★; Show Starred Only hides the others and their checkpoints", () => {
  const base = DEMO_ROWS[1];
  const rows = [DEMO_ROWS[0], base,
    row({ name: "plain", rev: "5".repeat(40), baseline: base.rev }),
    row({ kind: "checkpoint", name: "plain@2", rev: "6".repeat(40), baseline: base.rev, step: 2 }),
    row({ name: "<b>star</b>", rev: "7".repeat(40), baseline: base.rev, starred: true }),
    row({ kind: "checkpoint", name: "<b>star</b>@1", rev: "8".repeat(40), baseline: base.rev, step: 1 })];
  const all = buildTree(rows, { headlineMetric: "" });
  assert.deepEqual(all[1].children.map((n) => n.label), ["plain", "<b>star</b>"]);
  assert.match(all[1].children[1].description, /^★/);
  assert.match(all[1].children[1].tooltip, /\nstarred$/m);
  const starred = buildTree(rows, { headlineMetric: "", starredOnly: true });
  assert.deepEqual(starred.map((n) => n.kind), ["workspace", "baseline"]);
  assert.deepEqual(starred[1].children.map((n) => [n.label, n.children.map((c) => c.label)]), [["<b>star</b>", ["<b>star</b>@1"]]]);
});
