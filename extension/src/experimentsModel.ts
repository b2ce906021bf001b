// The Experiments tree as plain data: rows from `xp/showExperiments` become nodes tagged with a
// `kind`. Pure (no `vscode` import), so the unit tests build trees without an editor; the tree
// provider (experimentsTree.ts) only maps these nodes to TreeItems.
import type { ExperimentRow } from "./protocol";
import { formatValue } from "./text";

/** What a node's icon shows; the provider maps it to a codicon. */
export type Status = "workspace" | "baseline" | "queued" | "running" | "success" | "failed" | "cancelled" | "unknown";

/** A node of the Experiments tree. `children` is filled for baselines and experiments with checkpoints. */
export interface ExperimentNode {
  kind: "workspace" | "baseline" | "experiment" | "checkpoint" | "error";
  /** Stable across reloads (so VS Code keeps expansion and selection). */
  id: string;
  label: string;
  description: string;
  tooltip: string;
  status: Status;
  /** The experiment's name (what apply/branch/remove take); the rev for baselines. */
  name: string;
  rev: string;
  /** The baseline commit the row belongs to. */
  baseline: string;
  children: ExperimentNode[];
  /** An experiment with checkpoints whose rows were not loaded with it: they are asked for on expand. */
  hasCheckpoints: boolean;
}

/** Options that change how rows are shown, from the user's settings. */
export interface ViewOptions {
  /** Whether a params column is shown (the Params & Metrics view's checkboxes); absent: all are. */
  showColumn?: (section: string, file: string, key: string) => boolean;
  /** `key` or `file:key` of the metric shown beside each row; empty = the first metric found. */
  headlineMetric: string;
  /** Only starred experiments (with their checkpoints); the workspace and baselines stay. */
  starredOnly?: boolean;
}

const STATUSES: ReadonlySet<string> = new Set(["queued", "running", "success", "failed", "cancelled"]);

/** The root nodes of the tree: the workspace, then each baseline holding its experiments. */
export function buildTree(rows: readonly ExperimentRow[], options: ViewOptions): ExperimentNode[] {
  const roots: ExperimentNode[] = [];
  const baselines = new Map<string, { node: ExperimentNode; row: ExperimentRow }>();
  const headline = pickHeadline(rows, options.headlineMetric);
  // Checkpoint rows follow their experiment (newest first); they hang under it, collapsed.
  let lastExperiment: { node: ExperimentNode; row: ExperimentRow } | undefined;
  let hiding = false;
  for (const row of rows) {
    // "Show Starred Only" hides unstarred experiments, and the checkpoints that follow them.
    if (options.starredOnly && row.kind !== "workspace" && row.kind !== "baseline") {
      hiding = row.kind === "checkpoint" ? hiding : !row.starred;
      if (hiding) {
        continue;
      }
    }
    if (row.kind === "checkpoint") {
      if (lastExperiment && row.name.startsWith(`${lastExperiment.row.name}@`)) {
        lastExperiment.node.children.push(rowNode(row, "checkpoint", headline, lastExperiment.row, options));
        continue;
      }
    }
    if (row.kind === "workspace") {
      roots.push(rowNode(row, "workspace", headline, undefined, options));
    } else if (row.kind === "baseline") {
      const node = rowNode(row, "baseline", headline, undefined, options);
      baselines.set(row.rev, { node, row });
      roots.push(node);
    } else {
      // Every other kind (experiment, queued, running, …) hangs under its baseline; one whose
      // baseline row is missing (another branch, not asked for) gets a placeholder parent.
      let parent = baselines.get(row.baseline);
      if (!parent) {
        const placeholder: ExperimentRow = { ...row, kind: "baseline", name: shortRev(row.baseline), rev: row.baseline,
          status: "", message: "", params: {}, metrics: {}, tags: [], note: "" };
        parent = { node: rowNode(placeholder, "baseline", headline, undefined, options), row: placeholder };
        baselines.set(row.baseline, parent);
        roots.push(parent.node);
      }
      const node = rowNode(row, "experiment", headline, parent.row, options);
      node.hasCheckpoints = row.step !== null && row.step !== undefined;
      parent.node.children.push(node);
      lastExperiment = row.kind === "checkpoint" ? undefined : { node, row };
    }
  }
  return roots;
}

/** The nodes of an experiment's checkpoint rows (`xp/showExperiments` with `checkpointsOf`), newest first. */
export function checkpointNodes(rows: readonly ExperimentRow[], headline: [string, string] | undefined): ExperimentNode[] {
  return rows.filter((row) => row.kind === "checkpoint").map((row) => rowNode(row, "checkpoint", headline, undefined));
}

/** Where an experiment's loaded checkpoints are kept: its ref moves at every checkpoint, so the tip names the chain. */
export function checkpointsKey(node: ExperimentNode): string {
  return `${node.baseline}:${node.name}:${node.rev}`;
}

/** The file `pyhelper.live` writes a run's newest step to (DVCLive's default). */
export const LIVE_METRICS_FILE = "dvclive/metrics.json";

/** `rows` with the running experiment's live metrics and step put in; the same array when no row matches. */
export function withLiveMetrics(rows: readonly ExperimentRow[],
  live: { experiment: string; baseline: string; step: number | null; metrics: Record<string, unknown> }): ExperimentRow[] {
  const index = rows.findIndex((row) => row.name === live.experiment && row.baseline === live.baseline
    && row.kind !== "checkpoint" && row.kind !== "baseline" && row.kind !== "workspace");
  if (index < 0) {
    return rows as ExperimentRow[];
  }
  const updated = [...rows];
  const row = rows[index];
  updated[index] = { ...row, step: live.step, metrics: { ...row.metrics, [LIVE_METRICS_FILE]: { ...live.metrics } } };
  return updated;
}

/** The metric shown beside each row as `[file, key]`, or undefined when there are no metrics. */
export function pickHeadline(rows: readonly ExperimentRow[], wanted: string): [string, string] | undefined {
  for (const row of rows) {
    for (const [file, values] of Object.entries(row.metrics ?? {})) {
      for (const key of Object.keys(values ?? {})) {
        if (!wanted || wanted === key || wanted === `${file}:${key}`) {
          return [file, key];
        }
      }
    }
  }
  return undefined;
}

/** Params whose value differs from the baseline's, as `key=value` texts (file prefix when not params.yaml). */
export function changedParams(row: ExperimentRow, baseline: ExperimentRow | undefined,
  showColumn?: ViewOptions["showColumn"]): string[] {
  if (!baseline) {
    return [];
  }
  const changed: string[] = [];
  for (const [file, values] of Object.entries(row.params ?? {})) {
    const before = baseline.params?.[file] ?? {};
    for (const [key, value] of Object.entries(values ?? {})) {
      if (JSON.stringify(value) !== JSON.stringify(before[key]) && (!showColumn || showColumn("params", file, key))) {
        changed.push(`${paramTarget(file, key)}=${formatValue(value)}`);
      }
    }
  }
  return changed;
}

/** How a params key is addressed in `-S`: bare for params.yaml, `file:key` otherwise. */
export function paramTarget(file: string, key: string): string {
  return file === "params.yaml" ? key : `${file}:${key}`;
}

function rowNode(row: ExperimentRow, kind: ExperimentNode["kind"], headline: [string, string] | undefined,
  baseline: ExperimentRow | undefined, options?: ViewOptions): ExperimentNode {
  const parts: string[] = [];
  if (row.starred && kind === "experiment") {
    parts.push("★");
  }
  if (kind === "baseline") {
    parts.push(shortRev(row.rev));
  }
  if (headline) {
    const value = row.metrics?.[headline[0]]?.[headline[1]];
    if (value !== undefined) {
      parts.push(`${headline[1]}=${formatValue(value)}`);
    }
  }
  if (kind === "checkpoint") {
    parts.push(`step ${row.step ?? "?"}`);
  } else if (kind === "experiment") {
    // Tags and the note (its first line) come first: they are what a person wrote to find it again.
    parts.push(...(row.tags ?? []).map((tag) => `#${tag}`));
    if (row.note) {
      parts.push(`“${row.note.split("\n")[0].slice(0, 40)}”`);
    }
    parts.push(...changedParams(row, baseline, options?.showColumn));
    if (row.status && row.status !== "success") {
      parts.push(row.status);
    }
  }
  const errorCount = Object.keys(row.errors ?? {}).length;
  if (errorCount) {
    parts.push(`${errorCount} error${errorCount === 1 ? "" : "s"}`);
  }
  return {
    kind,
    id: kind === "workspace" ? "workspace" : `${kind}:${row.rev}:${row.name}`,
    label: kind === "workspace" ? "workspace" : row.name || shortRev(row.rev),
    description: parts.join("  "),
    tooltip: tooltipText(row),
    status: statusOf(row, kind),
    name: kind === "baseline" ? row.rev : row.name,
    rev: row.rev,
    baseline: row.baseline,
    children: [],
    hasCheckpoints: false,
  };
}

function statusOf(row: ExperimentRow, kind: ExperimentNode["kind"]): Status {
  if (kind === "workspace" || kind === "baseline") {
    return kind;
  }
  const status = row.status || row.kind;
  return STATUSES.has(status) ? (status as Status) : "unknown";
}

/** Plain text (never markup) listing everything known about a row. */
export function tooltipText(row: ExperimentRow): string {
  const lines = [row.kind === "workspace" ? "workspace" : `${row.name} (${shortRev(row.rev)})`];
  if (row.status) {
    lines.push(`status: ${row.status}`);
  }
  if (row.created) {
    lines.push(`created: ${new Date(row.created * 1000).toISOString().replace("T", " ").slice(0, 19)} UTC`);
  }
  if (row.message) {
    lines.push(`message: ${row.message}`);
  }
  if (row.starred) {
    lines.push("starred");
  }
  if (row.tags?.length) {
    lines.push(`tags: ${row.tags.join(", ")}`);
  }
  if (row.note) {
    lines.push(`note: ${row.note}`);
  }
  for (const [title, table] of [["Metrics", row.metrics], ["Params", row.params]] as const) {
    const entries = Object.entries(table ?? {});
    if (entries.length) {
      lines.push("", `${title}:`);
      for (const [file, values] of entries) {
        for (const [key, value] of Object.entries(values ?? {})) {
          lines.push(`  ${paramTarget(file, key)} = ${formatValue(value)}`);
        }
      }
    }
  }
  for (const [where, error] of Object.entries(row.errors ?? {})) {
    lines.push("", `error in ${where}: ${typeof error === "string" ? error : JSON.stringify(error)}`);
  }
  return lines.join("\n");
}

/** The first seven characters of a commit id (the workspace keeps its name). */
export function shortRev(rev: string): string {
  return /^[0-9a-f]{40}$/.test(rev) ? rev.slice(0, 7) : rev;
}

/** Every experiment node of the tree, in tree order (for quick picks). */
export function allExperiments(roots: readonly ExperimentNode[]): ExperimentNode[] {
  return roots.flatMap((root) => root.children.filter((child) => child.kind === "experiment"));
}
