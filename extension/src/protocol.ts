// The custom JSON-RPC methods of the xp helper (pyhelper/server/protocol.py on the other side).
// Every custom method the extension uses is declared here and only here; a server-side test
// (tests/test_protocol_sync.py) checks that both sides name the same methods. Wire fields are
// camelCase. The contract: notes/protocol-contract.md, version 1.
import { NotificationType, RequestType } from "vscode-languageclient/node";

/** The lowest `capabilities.experimental.xpProtocolVersion` this extension can talk to. */
export const REQUIRED_PROTOCOL_VERSION = 1;

/** JSON-RPC error code of bad input from the user (a typo in a param name, an unknown experiment). */
export const ERROR_BAD_INPUT = -32001;
/** JSON-RPC error code of an operation that failed (a stage failed, a lock was held). */
export const ERROR_OPERATION_FAILED = -32002;

/** One row of the experiments table: the same keys as an element of `xp exp show --json`. */
export interface Row {
  kind: string;
  name: string;
  rev: string;
  baseline: string;
  created: number | null;
  status: string;
  message: string;
  tags: string[];
  note: string;
  params: Record<string, Record<string, unknown>>;
  metrics: Record<string, Record<string, unknown>>;
  deps: Record<string, unknown>;
  errors: Record<string, unknown>;
}

/** Parameters of `xp/showExperiments` (all optional: the server's defaults are HEAD, no filter). */
export interface ShowExperimentsParams {
  revs?: string[];
  allBranches?: boolean;
  sortBy?: string;
  sortOrder?: "asc" | "desc";
  filter?: string;
  limit?: number;
  cursor?: string;
}
/** Result of `xp/showExperiments`: the workspace row, then each baseline followed by its experiments. */
export interface ShowExperimentsResult {
  rows: Row[];
  nextCursor: string | null;
}
export const showExperiments = new RequestType<ShowExperimentsParams, ShowExperimentsResult, void>(
  "xp/showExperiments",
);

/** Parameters of `xp/runExperiment`; `params` are `-S` assignments such as `train.lr=0.1`. */
export interface RunExperimentParams {
  params?: string[];
  name?: string;
  message?: string;
  queue?: boolean;
  temp?: boolean;
}
/** Result of `xp/runExperiment`: returned at once; the work runs in a subprocess. */
export interface RunExperimentResult {
  started: boolean;
  names: string[];
}
export const runExperiment = new RequestType<RunExperimentParams, RunExperimentResult, void>("xp/runExperiment");

/** Parameters of `xp/startQueue`: how many workers (`-j`). */
export interface StartQueueParams {
  jobs?: number;
}
export const startQueue = new RequestType<StartQueueParams, { workers: number }, void>("xp/startQueue");

/** Parameters of `xp/stopQueue`: kill the running entries too, or let them finish. */
export interface StopQueueParams {
  kill?: boolean;
}
export const stopQueue = new RequestType<StopQueueParams, Record<string, never>, void>("xp/stopQueue");

/** One entry of the queue (times are unix seconds or null). */
export interface QueueEntry {
  id: string;
  name: string;
  status: string;
  created: number | null;
  started: number | null;
  finished: number | null;
  error: string | null;
}
/** One live worker process of the queue. */
export interface QueueWorker {
  pid: number;
  host: string;
  status: string;
  entryId: string | null;
}
/** Result of `xp/queueStatus`. */
export interface QueueStatusResult {
  entries: QueueEntry[];
  workers: QueueWorker[];
}
export const queueStatus = new RequestType<Record<string, never>, QueueStatusResult, void>("xp/queueStatus");

export const applyExperiment = new RequestType<{ name: string; force?: boolean }, { applied: string }, void>(
  "xp/applyExperiment",
);
export const branchExperiment = new RequestType<{ name: string; branch: string }, { branch: string }, void>(
  "xp/branchExperiment",
);
export const removeExperiments = new RequestType<{ names: string[] }, { removed: string[] }, void>(
  "xp/removeExperiments",
);

/** Notification: experiments of these baselines changed (empty: reload everything). */
export const experimentsChanged = new NotificationType<{ baselines: string[] }>("xp/experimentsChanged");
/** Notification: the queue changed; the counts feed the status bar without a request. */
export const queueChanged = new NotificationType<{ running: number; queued: number }>("xp/queueChanged");
