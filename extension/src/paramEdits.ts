// What "Run Experiment with Modified Params" sends: the params a person can change (from the
// workspace row), what a typed value means (one value, a comma list or a range() = a sweep), and
// the `xp/runExperiment` arguments built from the edits. Mirrors pyhelper/core/queue/sweep.py so
// the input box can say what is wrong before anything is sent; the helper still validates.
// Pure: no `vscode` import.
import type { ExperimentRow, RunExperimentParams } from "./protocol";
import { paramTarget } from "./experimentsModel";
import { formatValue } from "./text";

/** One params key a person can pick, with its current value in the workspace. */
export interface ParamChoice {
  /** How `-S` names it: `train.lr`, or `other.yaml:train.lr` outside params.yaml. */
  target: string;
  file: string;
  key: string;
  current: string;
}

/** A typed value: how many values it stands for (1 = a plain run, more = a sweep), or why it is invalid. */
export type ParsedValue = { ok: true; count: number } | { ok: false; error: string };

/** One change to make: the params key and the text typed for it. */
export interface ParamEdit {
  target: string;
  text: string;
}

const RANGE = /^range\(\s*([^)]*)\)$/;

/** The params of the workspace, in file order, as quick-pick choices. */
export function paramChoices(workspace: ExperimentRow | undefined): ParamChoice[] {
  const choices: ParamChoice[] = [];
  for (const [file, values] of Object.entries(workspace?.params ?? {})) {
    for (const [key, value] of Object.entries(values ?? {})) {
      choices.push({ target: paramTarget(file, key), file, key, current: formatValue(value) });
    }
  }
  return choices;
}

/** Parses the text typed for one param, as `xp exp run -S key=TEXT` would. */
export function parseValue(text: string): ParsedValue {
  const raw = text.trim();
  if (!raw) {
    return { ok: false, error: "Type a value, a comma list (0.1,0.2) or range(start, stop, step)." };
  }
  const range = RANGE.exec(raw);
  if (range) {
    const count = rangeCount(range[1]);
    return count > 0 ? { ok: true, count } : { ok: false, error: "Write range(start, stop) or range(start, stop, step) with a non-zero step and at least one value." };
  }
  if (raw.includes("range(") && !/^['"]/.test(raw)) {
    return { ok: false, error: "Write either range(start, stop, step) or v1,v2,… — not both." };
  }
  if (/^[[{'"]/.test(raw) || !raw.includes(",")) {
    return { ok: true, count: 1 };
  }
  const values = raw.split(",").map((v) => v.trim());
  if (values.some((v) => !v)) {
    return { ok: false, error: "A comma list has an empty value; separate values with single commas." };
  }
  return { ok: true, count: values.length };
}

/** How many values `range(args)` yields (0 when the arguments are invalid), as Python's range with floats allowed. */
export function rangeCount(args: string): number {
  const parts = args.split(",").map((a) => a.trim());
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(p))) {
    return 0;
  }
  const [start, stop, step = 1] = parts.map(Number);
  if (step === 0) {
    return 0;
  }
  return Math.max(Math.ceil((stop - start) / step - 1e-9), 0);
}

/**
 * The `xp/runExperiment` arguments for these edits. A sweep (any edit with several values) must be
 * queued, since the helper refuses to run a sweep in the workspace; `points` is the grid's size.
 */
export function buildRunParams(edits: readonly ParamEdit[], options: { queue: boolean; name?: string }):
  { params: RunExperimentParams; points: number } {
  let points = 1;
  for (const edit of edits) {
    const parsed = parseValue(edit.text);
    if (!parsed.ok) {
      throw new Error(`${edit.target}: ${parsed.error}`);
    }
    points *= parsed.count;
  }
  const params: RunExperimentParams = {
    params: edits.map((edit) => `${edit.target}=${edit.text.trim()}`),
    queue: options.queue || points > 1,
  };
  if (options.name) {
    params.name = options.name;
  }
  return { params, points };
}
