// The pure parts of the commands on experiment rows (experimentActions.ts): what "Queue a
// Variation of This" sends, how a typed tag list becomes tag changes, and how a run-cache entry
// reads in a quick pick. Pure: no `vscode` import, so the unit tests cover them without an editor.
import { paramTarget } from "./experimentsModel";
import type { ExperimentRow, RecordedRun } from "./protocol";
import { formatValue } from "./text";

/**
 * A value as `-S key=VALUE` must be written so the helper reads back exactly this value: strings
 * quoted (a comma or a number-looking text would otherwise become a sweep or a number), the rest
 * as JSON, which the helper's YAML reading takes as the same value.
 */
export function assignmentValue(value: unknown): string {
  if (typeof value === "string") {
    return JSON.stringify(value);
  }
  return value === undefined ? "null" : JSON.stringify(value);
}

/**
 * The `-S` assignments that make the workspace's params equal the experiment's: one per params
 * key whose value differs (or that the workspace lacks). Keys the person is about to change
 * (`except`) are left out, since their typed value wins.
 */
export function variationAssignments(experiment: ExperimentRow, workspace: ExperimentRow | undefined,
  except: ReadonlySet<string> = new Set()): string[] {
  const assignments: string[] = [];
  for (const [file, values] of Object.entries(experiment.params ?? {})) {
    const current = workspace?.params?.[file] ?? {};
    for (const [key, value] of Object.entries(values ?? {})) {
      const target = paramTarget(file, key);
      if (!except.has(target) && JSON.stringify(value) !== JSON.stringify(current[key])) {
        assignments.push(`${target}=${assignmentValue(value)}`);
      }
    }
  }
  return assignments;
}

/** The tags a person typed (spaces or commas between them), in order, without repeats. */
export function parseTags(text: string): string[] {
  return [...new Set(text.split(/[\s,]+/).filter(Boolean))];
}

/** What to send to make an experiment's tags `wanted`: the tags to add and the tags to remove. */
export function tagChanges(current: readonly string[], wanted: readonly string[]): { add: string[]; remove: string[] } {
  return {
    add: wanted.filter((tag) => !current.includes(tag)),
    remove: current.filter((tag) => !wanted.includes(tag)),
  };
}

/** A run-cache entry as a quick-pick row: stage and age; metrics; the params it read. */
export function runItem(run: RecordedRun, now: number): { label: string; description: string; detail: string } {
  const metrics = Object.entries(run.metrics ?? {}).map(([key, value]) => `${key.split(":").pop()}=${formatValue(value)}`);
  const params: string[] = [];
  for (const [file, values] of Object.entries(run.params ?? {})) {
    for (const [key, value] of Object.entries(values ?? {})) {
      params.push(`${paramTarget(file, key)}=${formatValue(value)}`);
    }
  }
  return {
    label: `${run.stage}  ${run.id.slice(0, 8)}`,
    description: [age(now - run.created), `${run.duration.toFixed(1)} s`, ...metrics].join("  "),
    detail: params.join("  ") || "(no params)",
  };
}

/** "5 min ago" for a number of seconds. */
export function age(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) {
    return `${s} s ago`;
  }
  if (s < 3600) {
    return `${Math.round(s / 60)} min ago`;
  }
  if (s < 86400 * 2) {
    return `${Math.round(s / 3600)} h ago`;
  }
  return `${Math.round(s / 86400)} days ago`;
}

/** A git remote name or URL as typed (blank = origin); undefined when it cannot be one. */
export function remoteName(text: string): string | undefined {
  const remote = text.trim() || "origin";
  return /\s/.test(remote) || remote.startsWith("-") ? undefined : remote;
}
