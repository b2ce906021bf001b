// Helper text stays text in the widgets that would read it as icons or links.
import assert from "node:assert/strict";
import { test } from "node:test";
import { formatValue, plainLabel, plainMessage } from "../../src/text";

test("values as a person reads them", () => {
  assert.deepEqual([0.871234, 10, 1e-7, "s", true, null, [1, 2], { a: 1 }].map(formatValue),
    ["0.8712", "10", "1e-7", "s", "true", "null", "[1,2]", "{\"a\":1}"]);
});

test("icons and links in helper text are neutralised, everything else kept", () => {
  assert.equal(plainLabel("$(zap) <b>x</b>"), "$\u200b(zap) <b>x</b>");
  assert.equal(plainMessage("[click](command:xp.removeExperiments) ünï"), "[click]\u200b(command:xp.removeExperiments) ünï");
  assert.equal(plainMessage("plain 'quoted' \"text\""), "plain 'quoted' \"text\"");
});
