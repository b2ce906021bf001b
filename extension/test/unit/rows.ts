// Rows as the helper sends them (`xp exp show --xp-json` keys), for the unit tests.
import type { ExperimentRow } from "../../src/protocol";

/** A row with every key the contract names; `fields` overrides any of them. */
export function row(fields: Partial<ExperimentRow>): ExperimentRow {
  return {
    kind: "experiment", name: "exp", rev: "0".repeat(40), baseline: "b".repeat(40), created: null, status: "success",
    message: "", tags: [], note: "", params: {}, metrics: {}, deps: {}, errors: {}, step: null, starred: false, ...fields,
  };
}

const BASE = "a".repeat(40);
const OTHER = "c".repeat(40);
const params = (lr: number, epochs = 10) => ({ "params.yaml": { "train.lr": lr, "train.epochs": epochs } });

/** The workspace, a baseline with three experiments (one queued), and an experiment of another baseline. */
export const DEMO_ROWS: ExperimentRow[] = [
  row({ kind: "workspace", name: "workspace", rev: "workspace", baseline: BASE, status: "", params: params(0.05),
    metrics: { "metrics.json": { accuracy: 0.86, loss: 0.3245 } } }),
  row({ kind: "baseline", name: "main", rev: BASE, baseline: BASE, status: "", params: params(0.05),
    metrics: { "metrics.json": { accuracy: 0.86, loss: 0.3245 } } }),
  row({ name: "higher-lr", rev: "1".repeat(40), baseline: BASE, params: params(0.1),
    metrics: { "metrics.json": { accuracy: 0.87123456, loss: 0.3 } } }),
  row({ name: "<b>bold</b> \"q\" ünï", rev: "2".repeat(40), baseline: BASE, status: "failed", params: params(0.05, 20),
    metrics: {}, errors: { "metrics.json": "missing" } }),
  row({ kind: "queued", name: "sweep-1", rev: "3".repeat(40), baseline: BASE, status: "queued", params: params(0.2) }),
  row({ name: "orphan", rev: "4".repeat(40), baseline: OTHER, params: params(0.3) }),
];
