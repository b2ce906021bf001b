// What a panel's page sends is checked before the extension acts on it (a page may be
// compromised): the parse functions keep well-formed messages and drop the rest.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  parseCompareMessage, parseCustomPlots, parsePlotsMessage, parseTableMessage, savedCustomPlots, savedNames,
} from "../../src/panels/messages";

/** Not messages at all: every parser drops them. */
const NOT_MESSAGES: unknown[] = [undefined, null, 0, "ready", ["ready"], [{ type: "ready" }], {}, { type: 1 }, { type: "unknown" },
  { type: "__proto__" }, { type: "toString" }];

test("anything that is not a known message of its panel is dropped", () => {
  for (const parse of [parseCompareMessage, parsePlotsMessage, parseTableMessage]) {
    for (const message of NOT_MESSAGES) {
      assert.equal(parse(message), undefined, `${parse.name}(${JSON.stringify(message)})`);
    }
  }
  // Another panel's message is not this one's.
  assert.equal(parseCompareMessage({ type: "export", id: "a", format: "svg", content: "<svg/>" }), undefined);
  assert.equal(parsePlotsMessage({ type: "filter", text: "x" }), undefined);
  assert.equal(parseTableMessage({ type: "copy", markdown: "x" }), undefined);
});

test("ready: its timings kept when they are numbers and text, else left out", () => {
  assert.deepEqual(parseCompareMessage({ type: "ready", began: 1, scriptRan: 2, nav: "n", extra: "x" }),
    { type: "ready", began: 1, scriptRan: 2, nav: "n" });
  assert.deepEqual(parsePlotsMessage({ type: "ready", began: "1", scriptRan: null, nav: 3 }),
    { type: "ready", began: undefined, scriptRan: undefined, nav: undefined });
});

test("Compare: copy needs its Markdown as text", () => {
  assert.deepEqual(parseCompareMessage({ type: "copy", markdown: "| a |" }), { type: "copy", markdown: "| a |" });
  assert.equal(parseCompareMessage({ type: "copy" }), undefined);
  assert.equal(parseCompareMessage({ type: "copy", markdown: { toString: "x" } }), undefined);
  assert.deepEqual(parseCompareMessage({ type: "drawn", received: 5, drawn: "6" }), { type: "drawn", received: 5, drawn: undefined });
});

test("Plots: an export needs a string id and content and a known format; the encoding is utf8 unless base64", () => {
  const good = { type: "export", id: "loss.tsv", format: "png", content: "iVBOR", encoding: "base64" };
  assert.deepEqual(parsePlotsMessage(good), good);
  assert.deepEqual(parsePlotsMessage({ ...good, format: "csv", encoding: "latin1" }), { ...good, format: "csv", encoding: "utf8" });
  assert.equal(parsePlotsMessage({ ...good, format: "exe" }), undefined);
  assert.equal(parsePlotsMessage({ ...good, format: ["svg"] }), undefined);
  assert.equal(parsePlotsMessage({ ...good, id: 7 }), undefined);
  assert.equal(parsePlotsMessage({ ...good, content: new Array(3) }), undefined);
  assert.deepEqual(parsePlotsMessage({ type: "exportFailed", id: "a", format: "svg", error: "no view" }),
    { type: "exportFailed", id: "a", format: "svg", error: "no view" });
  assert.equal(parsePlotsMessage({ type: "exportFailed", id: "a", format: "svg" }), undefined);
  assert.deepEqual(parsePlotsMessage({ type: "screen", more: 1 }), { type: "screen" });
});

test("Plots: custom plots keep only non-empty strings, from a message or the saved state", () => {
  assert.deepEqual(parsePlotsMessage({ type: "custom", custom: { metric: "acc", param: "", parallelParams: ["lr", 3, "", "hidden"], x: 1 } }),
    { type: "custom", custom: { metric: "acc", param: undefined, parallelParams: ["lr", "hidden"] } });
  assert.deepEqual(parsePlotsMessage({ type: "custom" }),
    { type: "custom", custom: { metric: undefined, param: undefined, parallelParams: [] } });
  assert.deepEqual(parseCustomPlots({ metric: 1, param: ["p"], parallelParams: "lr" }),
    { metric: undefined, param: undefined, parallelParams: [] });
  assert.deepEqual(savedCustomPlots({ custom: { metric: "loss" } }), { metric: "loss", param: undefined, parallelParams: [] });
  assert.deepEqual(savedCustomPlots("junk"), { metric: undefined, param: undefined, parallelParams: [] });
});

test("saved names: the strings of the state's list", () => {
  assert.deepEqual(savedNames({ names: ["a", 1, null, "b"] }), ["a", "b"]);
  assert.deepEqual(savedNames({ names: "a" }), []);
  assert.deepEqual(savedNames(undefined), []);
});

test("table: the filter and toggles default as the page's state does; names keep only strings; an action needs its row's name", () => {
  assert.deepEqual(parseTableMessage({ type: "ready", filter: "acc>0.8", checkpoints: true }),
    { type: "ready", filter: "acc>0.8", checkpoints: true });
  assert.deepEqual(parseTableMessage({ type: "ready", filter: 3, checkpoints: "yes" }), { type: "ready", filter: "", checkpoints: false });
  assert.deepEqual(parseTableMessage({ type: "checkpoints", on: 1 }), { type: "checkpoints", on: false });
  assert.deepEqual(parseTableMessage({ type: "filter", text: null }), { type: "filter", text: "" });
  assert.deepEqual(parseTableMessage({ type: "compare", names: ["a", { b: 1 }, "c"] }), { type: "compare", names: ["a", "c"] });
  assert.deepEqual(parseTableMessage({ type: "plot", names: "a" }), { type: "plot", names: [] });
  assert.deepEqual(parseTableMessage({ type: "action", action: "remove", name: "a", names: ["a", "b"] }),
    { type: "action", action: "remove", name: "a", names: ["a", "b"] });
  assert.equal(parseTableMessage({ type: "action", action: ["apply"], name: "a" }), undefined);
  assert.equal(parseTableMessage({ type: "action", action: "apply" }), undefined);
});
