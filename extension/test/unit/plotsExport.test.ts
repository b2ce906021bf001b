// Exporting a chart of the Plots panel: its data, CSV, and the file name.
import assert from "node:assert/strict";
import { test } from "node:test";
import { exportFileName, isExportFormat, plotData, toCsv } from "../../src/plotsExport";

test("the data of a spec: its inline values, else its first layer's", () => {
  assert.deepEqual(plotData({ data: { values: [{ a: 1 }] } }), [{ a: 1 }]);
  assert.deepEqual(plotData({ layer: [{ mark: "rule" }, { data: { values: [{ b: 2 }] } }] }), [{ b: 2 }]);
  assert.deepEqual(plotData({ mark: "line" }), []);
  assert.deepEqual(plotData(null), []);
});

test("CSV: every key in first-seen order, fields with commas, quotes or newlines quoted", () => {
  const csv = toCsv([{ step: 1, rev: "a,b" }, { step: 2, loss: 0.5, rev: 'say "hi"\n' }, { step: 3, rev: null, nested: [1, 2] }]);
  assert.equal(csv, 'step,rev,loss,nested\r\n1,"a,b",,\r\n2,"say ""hi""\n",0.5,\r\n3,,,"[1,2]"\r\n');
  assert.equal(toCsv([]), "\r\n");
});

test("file names keep letters, digits, dot, dash and underscore only", () => {
  assert.equal(exportFileName("dvclive/plots/metrics/train/loss.tsv", "svg"), "dvclive_plots_metrics_train_loss.tsv.svg");
  assert.equal(exportFileName("../../etc/passwd", "csv"), "etc_passwd.csv");
  assert.equal(exportFileName("<img src=x>", "png"), "img_src_x_.png");
  assert.equal(exportFileName("", "json"), "plot.json");
  assert.ok(isExportFormat("svg") && !isExportFormat("exe"));
});
