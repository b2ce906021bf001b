// The Queue tree and the status bar text, from `xp/queueStatus` and `xp/queueChanged` data.
import assert from "node:assert/strict";
import { test } from "node:test";
import { buildQueueTree, formatDuration, queueCounts, statusBarText } from "../../src/queueModel";

const STATUS = {
  entries: [
    { id: "e1", name: "sweep-1", status: "success", created: 100, started: 110, finished: 185, error: "" },
    { id: "e2", name: "sweep-2", status: "running", created: 100, started: 190, finished: null, error: "" },
    { id: "e3", name: "", status: "failed", created: 100, started: 120, finished: 121, error: "stage train failed" },
  ],
  workers: [{ pid: 42, host: "h", status: "running", entryId: "e2" }],
};

test("workers first (naming their entry), then entries with status and duration", () => {
  const roots = buildQueueTree(STATUS, 200);
  assert.deepEqual(roots.map((n) => [n.label, n.description]), [
    ["Workers (1)", ""], ["sweep-1", "success  1m 15s"], ["sweep-2", "running  10s"], ["e3", "failed  1s"],
  ]);
  assert.deepEqual(roots[0].children.map((n) => [n.label, n.description]), [["worker 42", "running  sweep-2"]]);
  assert.match(roots[3].tooltip, /error: stage train failed/);
  assert.deepEqual(buildQueueTree({ entries: [], workers: [] }, 0), []);
});

test("durations and status-bar text", () => {
  assert.deepEqual([5, 65, 3725].map(formatDuration), ["5s", "1m 05s", "1h 02m"]);
  assert.equal(statusBarText("running", { running: 2, queued: 3 }), "$(sync~spin) XP 2 running, 3 queued");
  assert.equal(statusBarText("running", { running: 0, queued: 1 }), "$(clock) XP 0 running, 1 queued");
  assert.equal(statusBarText("running", { running: 0, queued: 0 }), "$(beaker) XP");
  assert.equal(statusBarText("stopped", { running: 1, queued: 0 }), "$(warning) XP");
});

test("counts of running and queued entries, as xp/queueChanged sends them", () => {
  assert.deepEqual(queueCounts(STATUS), { running: 1, queued: 0 });
  assert.deepEqual(queueCounts({ entries: [{ ...STATUS.entries[0], status: "queued" }], workers: [] }), { running: 0, queued: 1 });
});
