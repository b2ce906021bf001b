// The Queue tree as plain data: entries and live workers from `xp/queueStatus`, and the status-bar
// text from `xp/queueChanged` counts. Pure: no `vscode` import.
import type { QueueStatusResult } from "./protocol";

/** A node of the Queue tree: a group header, an entry or a worker. */
export interface QueueNode {
  kind: "group" | "entry" | "worker";
  id: string;
  label: string;
  description: string;
  tooltip: string;
  /** The entry's status (queued, running, success, failed, cancelled) or the worker's. */
  status: string;
  children: QueueNode[];
}

/** The root nodes: "Workers (n)" when any run, then every entry, newest last. */
export function buildQueueTree(status: QueueStatusResult, nowSeconds: number): QueueNode[] {
  const entries = status.entries.map((entry): QueueNode => {
    const duration = entry.started ? formatDuration((entry.finished ?? nowSeconds) - entry.started) : "";
    return {
      kind: "entry",
      id: `entry:${entry.id}`,
      label: entry.name || entry.id,
      description: [entry.status, duration].filter(Boolean).join("  "),
      tooltip: [`${entry.name || entry.id} (queue entry ${entry.id})`, `status: ${entry.status}`,
        ...(duration ? [`duration: ${duration}`] : []), ...(entry.error ? [`error: ${entry.error}`] : [])].join("\n"),
      status: entry.status,
      children: [],
    };
  });
  if (!status.workers.length) {
    return entries;
  }
  const names = new Map(status.entries.map((e) => [e.id, e.name || e.id]));
  const workers = status.workers.map((worker): QueueNode => ({
    kind: "worker",
    id: `worker:${worker.host}:${worker.pid}`,
    label: `worker ${worker.pid}`,
    description: [worker.status, worker.entryId ? names.get(worker.entryId) ?? worker.entryId : ""].filter(Boolean).join("  "),
    tooltip: `worker pid ${worker.pid} on ${worker.host}\nstatus: ${worker.status}`,
    status: worker.status,
    children: [],
  }));
  const group: QueueNode = { kind: "group", id: "workers", label: `Workers (${workers.length})`, description: "",
    tooltip: "Live queue worker processes", status: "", children: workers };
  return [group, ...entries];
}

/** How many entries run and wait, as `xp/queueChanged` counts them. */
export function queueCounts(status: QueueStatusResult): { running: number; queued: number } {
  return {
    running: status.entries.filter((e) => e.status === "running").length,
    queued: status.entries.filter((e) => e.status === "queued").length,
  };
}

/** `42s`, `3m 05s`, `1h 02m`: durations as a person reads them. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) {
    return `${s}s`;
  }
  if (s < 3600) {
    return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
  }
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/** The helper's states as the status bar names them. */
export type HelperState = "starting" | "running" | "stopped" | "noFolder" | "noRepo" | "noPipeline" | "noPython"
  | "helperMissing" | "helperTooOld";

/** Status-bar text (codicons allowed: nothing in it comes from the helper but numbers). */
export function statusBarText(state: HelperState, counts: { running: number; queued: number }): string {
  if (state === "starting") {
    return "$(loading~spin) XP";
  }
  if (state !== "running") {
    return "$(warning) XP";
  }
  if (!counts.running && !counts.queued) {
    return "$(beaker) XP";
  }
  const icon = counts.running ? "$(sync~spin)" : "$(clock)";
  return `${icon} XP ${counts.running} running, ${counts.queued} queued`;
}
