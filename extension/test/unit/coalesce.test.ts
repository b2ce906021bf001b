// Reload coalescing: calls during a load become exactly one more load, never two at once.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Coalesced } from "../../src/coalesce";

test("calls made while a load runs fold into one more load after it", async () => {
  let running = 0;
  let most = 0;
  let loads = 0;
  const release: (() => void)[] = [];
  const reload = new Coalesced(async () => {
    running++;
    loads++;
    most = Math.max(most, running);
    await new Promise<void>((resolve) => release.push(resolve));
    running--;
  });
  const first = reload.run();
  void reload.run();
  void reload.run();
  assert.equal(loads, 1);
  release.shift()!();
  await first;
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(loads, 2); // The two calls made meanwhile became one load.
  release.shift()!();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(most, 1);
  assert.equal(loads, 2);
});
