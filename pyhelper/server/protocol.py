"""Every custom JSON-RPC method xp's server speaks, with its params and result types.

The one place the server side declares the wire contract (the extension's twin is
`extension/src/protocol.ts`, generated from this module by `scripts/gen-protocol-ts.py`;
`tests/test_protocol_sync.py` keeps them equal). Requests are `xp/<verbNoun>`, notifications
`xp/<nounPastTense>`; fields are snake_case here and camelCase on the wire (see `wire.py`).
Core values are converted to these types explicitly (`convert.py`), never serialised directly.
Every size and count a request may carry, and every long text an answer cuts, is in `limits.py`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import attrs

if TYPE_CHECKING:
    import cattrs

PROTOCOL_VERSION = 4
"""Sent as `capabilities.experimental.xpProtocolVersion`; a client refuses a server older than it needs."""

BAD_INPUT = -32001
"""JSON-RPC error code: the request or the user's files are wrong (the CLI's exit code 2)."""
OPERATION_FAILED = -32002
"""JSON-RPC error code: the operation was valid but failed (a stage failed, git failed...)."""

# -- requests -----------------------------------------------------------------------------------
SHOW_EXPERIMENTS = "xp/showExperiments"
RUN_EXPERIMENT = "xp/runExperiment"
START_QUEUE = "xp/startQueue"
STOP_QUEUE = "xp/stopQueue"
QUEUE_STATUS = "xp/queueStatus"
APPLY_EXPERIMENT = "xp/applyExperiment"
BRANCH_EXPERIMENT = "xp/branchExperiment"
REMOVE_EXPERIMENTS = "xp/removeExperiments"
DIFF_EXPERIMENTS = "xp/diffExperiments"
RENAME_EXPERIMENT = "xp/renameExperiment"
TAG_EXPERIMENT = "xp/tagExperiment"
NOTE_EXPERIMENT = "xp/noteExperiment"
READ_QUEUE_LOG = "xp/readQueueLog"
KILL_QUEUE_ENTRIES = "xp/killQueueEntries"
RETRY_QUEUE_ENTRIES = "xp/retryQueueEntries"
SHOW_REVISION = "xp/showRevision"
SHOW_STATUS = "xp/showStatus"
REPRO_PIPELINE = "xp/reproPipeline"
LIST_RUNS = "xp/listRuns"
RESTORE_RUN = "xp/restoreRun"
PUSH_EXPERIMENTS = "xp/pushExperiments"
PULL_EXPERIMENTS = "xp/pullExperiments"
PLOTS_DATA = "xp/plotsData"
COMPARE_EXPERIMENTS = "xp/compareExperiments"
STAR_EXPERIMENT = "xp/starExperiment"
LIST_REMOTES = "xp/listRemotes"
# -- notifications ------------------------------------------------------------------------------
EXPERIMENTS_CHANGED = "xp/experimentsChanged"
QUEUE_CHANGED = "xp/queueChanged"
LIVE_METRICS_UPDATED = "xp/liveMetricsUpdated"


@attrs.define
class ShowExperimentsParams:
    """What `xp exp show` takes: which baselines, sorting, a filter, and a page."""

    revs: list[str] | None = None
    """Baselines to show (commits, branches, tags); default HEAD."""
    all_branches: bool = False
    """Also every local branch head as a baseline (`-a`)."""
    sort_by: str | None = None
    """A params or metrics column to sort experiments by (`--sort-by`)."""
    sort_order: Literal["asc", "desc"] = "asc"
    """Direction of `sortBy`."""
    filter: str | None = None
    """Only experiments matching this expression, e.g. `acc>0.9 and tag=best` (`--filter`)."""
    limit: int | None = None
    """At most this many rows in this page: 1 to 5,000 (the default)."""
    cursor: str | None = None
    """`nextCursor` of the previous page; absent for the first page."""
    checkpoints: bool = True
    """Include each experiment's checkpoint rows; false leaves them out (an experiment's `step` says it has some)."""
    checkpoints_of: str | None = None
    """Only the checkpoint rows (the newest 5,000, newest first) of this experiment, of the first of `revs` when
    given."""


@attrs.define
class ExperimentRow:
    """One row of the table: exactly the keys of an element of `xp exp show --xp-json`."""

    kind: str
    """workspace | baseline | experiment | queued | running | failed | checkpoint (under its experiment)."""
    name: str
    """The experiment's name, the branch (or short commit) of a baseline, or `workspace`."""
    rev: str
    """Full commit id (`workspace` for the workspace)."""
    baseline: str
    """Full commit id of the baseline the row belongs to."""
    created: float | None
    """Commit time in Unix seconds (null for the workspace)."""
    status: str
    """`success` for recorded experiments, empty for workspace and baselines."""
    message: str
    """The commit message (cut after 100,000 characters, ending in `… [N more characters]`)."""
    tags: list[str]
    """Tags (from git notes; the first 100, each cut after 1,000 characters)."""
    note: str
    """The note (from git notes; cut after 100,000 characters, as `message`)."""
    params: dict[str, dict[str, Any]]
    """Params file → dotted key → value."""
    metrics: dict[str, dict[str, Any]]
    """Metrics file → dotted key → value."""
    deps: dict[str, str]
    """Dependency path → md5 (empty unless asked)."""
    errors: dict[str, str]
    """File → why it could not be read in this row (`missing` when absent)."""
    step: int | None = None
    """A checkpoint's step; for an experiment with checkpoints, its newest one's (null otherwise)."""
    starred: bool = False
    """Starred by a person (git notes, like tags)."""


@attrs.define
class ShowExperimentsResult:
    """A page of rows: the workspace first, then each baseline followed by its experiments."""

    rows: list[ExperimentRow]
    """The rows of this page."""
    next_cursor: str | None
    """Pass as `cursor` for the next page; null on the last page."""


@attrs.define
class RunExperimentParams:
    """What `xp exp run` takes."""

    params: list[str] = attrs.Factory(list)
    """`-S` assignments such as `train.lr=0.1` (`file:key=value` for other params files)."""
    name: str | None = None
    """The experiment's name (generated when absent)."""
    message: str | None = None
    """Commit message of the experiment."""
    queue: bool = False
    """Queue it (sweeps allowed) instead of running it now."""
    temp: bool = False
    """Run in a private copy under .xp/tmp/; the workspace is untouched."""
    work_done_token: int | str | None = None
    """A `$/progress` token; when given, the run reports its stages through it."""


@attrs.define
class RunExperimentResult:
    """Returned at once; the work goes on in a subprocess (or in the queue)."""

    started: bool
    """True when a run was started or entries were queued."""
    names: list[str]
    """The experiment names (one per queued point for sweeps)."""


@attrs.define
class StartQueueParams:
    """What `xp queue start` takes."""

    jobs: int = 1
    """How many worker processes to start: 1 to 64."""
    work_done_token: int | str | None = None
    """A `$/progress` token: when given, the queue's counts are reported until it is empty (Cancel stops it)."""


@attrs.define
class StartQueueResult:
    """Workers started."""

    workers: int
    """How many were started."""


@attrs.define
class StopQueueParams:
    """What `xp queue stop` takes."""

    kill: bool = False
    """Stop the running experiments too, not only after them."""


@attrs.define
class StopQueueResult:
    """Nothing to say: the workers were asked to stop."""


@attrs.define
class QueueStatusParams:
    """No options."""


@attrs.define
class QueueEntry:
    """One queue entry."""

    id: str
    """The entry's id."""
    name: str
    """The experiment name it runs under."""
    status: str
    """queued | running | success | failed | cancelled."""
    created: float
    """When it was queued (Unix seconds)."""
    started: float | None
    """When a worker started it."""
    finished: float | None
    """When it ended."""
    error: str
    """Why it failed (empty otherwise)."""


@attrs.define
class QueueWorker:
    """One live worker process."""

    pid: int
    """Its process id."""
    host: str
    """The machine it runs on."""
    status: str
    """running | idle | stopping."""
    entry_id: str | None
    """The entry it runs now."""


@attrs.define
class QueueStatusResult:
    """The queue as it is now."""

    entries: list[QueueEntry]
    """Every entry, oldest first."""
    workers: list[QueueWorker]
    """Live workers."""


@attrs.define
class ApplyExperimentParams:
    """What `xp exp apply` takes."""

    name: str
    """The experiment (name or commit id)."""
    force: bool = False
    """When uncommitted changes would be lost, save them as an experiment first."""
    work_done_token: int | str | None = None
    """A `$/progress` token: when given, outputs fetched from the default remote are counted through it."""


@attrs.define
class ApplyExperimentResult:
    """The experiment now in the workspace."""

    applied: str
    """Its name."""


@attrs.define
class BranchExperimentParams:
    """What `xp exp branch` takes."""

    name: str
    """The experiment."""
    branch: str
    """The new branch's name."""


@attrs.define
class BranchExperimentResult:
    """The branch made."""

    branch: str
    """Its name."""


@attrs.define
class RemoveExperimentsParams:
    """What `xp exp remove` takes."""

    names: list[str]
    """The experiments to remove."""


@attrs.define
class RemoveExperimentsResult:
    """What was removed."""

    removed: list[str]
    """Names of the removed experiments."""


@attrs.define
class DiffExperimentsParams:
    """What `xp exp diff` takes."""

    a: str = "HEAD"
    """Old side: an experiment or revision."""
    b: str = "workspace"
    """New side: an experiment, revision or `workspace`."""
    all: bool = False
    """Include unchanged values."""


@attrs.define
class DiffRow:
    """One changed value."""

    path: str
    """The params or metrics file."""
    key: str
    """The dotted key."""
    old: Any
    """Value on side `a` (null when absent)."""
    new: Any
    """Value on side `b` (null when absent)."""
    change: Any
    """`new - old` for numbers, else null."""


@attrs.define
class DiffExperimentsResult:
    """Params and metrics that differ."""

    params: list[DiffRow]
    """Changed params."""
    metrics: list[DiffRow]
    """Changed metrics."""
    errors: list[str]
    """Files that could not be read, as `side: error`."""


@attrs.define
class RenameExperimentParams:
    """What `xp exp rename` takes."""

    name: str
    """The experiment's current name."""
    new_name: str
    """Its new name."""
    force: bool = False
    """Replace an experiment of the new name."""


@attrs.define
class RenameExperimentResult:
    """The experiment after renaming."""

    name: str
    """Its new name."""


@attrs.define
class TagExperimentParams:
    """What `xp exp tag` takes."""

    name: str
    """The experiment."""
    tags: list[str]
    """Tags to add (or remove)."""
    remove: bool = False
    """Remove these tags instead."""


@attrs.define
class TagExperimentResult:
    """The experiment's tags now."""

    tags: list[str]
    """All of them."""


@attrs.define
class NoteExperimentParams:
    """What `xp exp note` takes."""

    name: str
    """The experiment."""
    text: str
    """The note (empty removes it)."""


@attrs.define
class NoteExperimentResult:
    """The experiment's note now."""

    note: str
    """Its text."""


@attrs.define
class StarExperimentParams:
    """What `xp exp star` takes."""

    name: str
    """The experiment."""
    starred: bool = True
    """False unstars it."""


@attrs.define
class StarExperimentResult:
    """The experiment's star now."""

    starred: bool
    """True when it is starred."""


@attrs.define
class ReadQueueLogParams:
    """A chunk of a queue entry's log."""

    name: str
    """The entry (name or id)."""
    offset: int = 0
    """Byte offset to read from (`nextOffset` of the previous chunk)."""


@attrs.define
class ReadQueueLogResult:
    """A chunk of log text."""

    text: str
    """The log from `offset` on (decoded as UTF-8)."""
    next_offset: int
    """Where the next chunk starts."""
    status: str
    """The entry's status; more text can come while it is queued or running."""


@attrs.define
class KillQueueEntriesParams:
    """What `xp queue kill` takes."""

    names: list[str]
    """Entries to cancel (queued) or stop (running)."""
    force: bool = False
    """SIGKILL at once instead of SIGTERM and a grace period."""


@attrs.define
class KillQueueEntriesResult:
    """The entries asked to stop."""

    names: list[str]
    """Their names."""


@attrs.define
class RetryQueueEntriesParams:
    """What `xp queue retry` takes."""

    names: list[str]
    """Finished entries to queue again."""


@attrs.define
class RetryQueueEntriesResult:
    """The entries queued again."""

    names: list[str]
    """Their names."""


@attrs.define
class ShowRevisionParams:
    """Params and metrics of one revision."""

    rev: str = "workspace"
    """An experiment, a revision, or `workspace`."""


@attrs.define
class ShowRevisionResult:
    """The revision's row."""

    row: ExperimentRow
    """Its params, metrics and errors."""


@attrs.define
class ShowStatusParams:
    """What `xp status` takes."""

    targets: list[str] = attrs.Factory(list)
    """Stages to check (default: all)."""


@attrs.define
class StageStatus:
    """One stage's state."""

    stage: str
    """The stage's name."""
    changed: bool
    """True when it would run (or be restored) on `xp repro`."""
    frozen: bool
    """True when it is frozen (never runs)."""
    reasons: list[str]
    """Why it is out of date, one line each."""


@attrs.define
class ShowStatusResult:
    """Every stage checked, in pipeline order."""

    stages: list[StageStatus]
    """Their states."""


@attrs.define
class ReproPipelineParams:
    """What `xp repro` takes."""

    targets: list[str] = attrs.Factory(list)
    """Stages to reproduce, with what they depend on (default: all)."""
    force: bool = False
    """Run the targets even if up to date."""
    params: list[str] = attrs.Factory(list)
    """`-S` assignments to make first."""
    work_done_token: int | str | None = None
    """A `$/progress` token; when given, the run reports its stages through it."""


@attrs.define
class ReproPipelineResult:
    """Returned at once; `xp repro` runs in a subprocess."""

    started: bool
    """True when it was started."""


@attrs.define
class ListRunsParams:
    """What `xp runs list` takes."""

    stage: str | None = None
    """Only runs of this stage."""
    limit: int | None = None
    """At most this many, newest first."""


@attrs.define
class RecordedRun:
    """One stage run the run-cache remembers."""

    id: str
    """The run's id (a unique prefix is enough to name it)."""
    stage: str
    """The stage that ran."""
    created: float
    """When it finished (Unix seconds)."""
    duration: float
    """How long it ran, in seconds."""
    params: dict[str, dict[str, Any]]
    """Params file → dotted key → the value the stage read."""
    metrics: dict[str, Any]
    """`file:key` → value, of the metrics it wrote."""


@attrs.define
class ListRunsResult:
    """Recorded runs, newest first."""

    runs: list[RecordedRun]
    """The runs."""


@attrs.define
class RestoreRunParams:
    """What `xp runs restore` takes."""

    id: str
    """The run (a unique prefix of its id)."""
    force: bool = False
    """Overwrite uncommitted changes."""


@attrs.define
class RestoreRunResult:
    """What was put back."""

    outputs: list[str]
    """Outputs checked out from the cache."""
    params: list[str]
    """`file:key` of each params value set back."""


@attrs.define
class SyncExperimentsParams:
    """What `xp exp push` / `xp exp pull` take."""

    remote: str
    """A git remote name or URL."""
    names: list[str] = attrs.Factory(list)
    """Only these experiments (default: all)."""
    work_done_token: int | str | None = None
    """A `$/progress` token: when given, the push or pull reports its start and end through it."""


@attrs.define
class SyncExperimentsResult:
    """The experiments sent or fetched."""

    names: list[str]
    """Their names."""


@attrs.define
class ListRemotesParams:
    """No options."""


@attrs.define
class RemoteInfo:
    """A configured remote storage for outputs, as `xp remote list` shows it; its options (which may hold
    secrets) are never sent."""

    name: str
    """The remote's name."""
    url: str
    """Where it stores outputs (a local path made absolute), any password or token in it shown as `***`."""
    is_default: bool
    """Whether it is the default remote: where Push and Pull on an experiment carry its outputs."""


@attrs.define
class ListRemotesResult:
    """The project's remote storage (`.dvc/config` or `.xpconfig`, with its `.local` file on top)."""

    default: str | None
    """The default remote's name as the config sets it (null when none is set; it may name no remote)."""
    remotes: list[RemoteInfo]
    """Every configured remote, by name."""
    files: list[str]
    """The config files read, as absolute paths, the committed one first (empty when there is none)."""


@attrs.define
class PlotsDataParams:
    """What `xp plots diff` takes: revisions, plot targets, and the plots across experiments."""

    revs: list[str] = attrs.Factory(list)
    """Experiment names, commits, branches or `workspace` (at most 100); empty means HEAD and the workspace."""
    targets: list[str] = attrs.Factory(list)
    """Only plots with these ids or reading these files (default: all)."""
    metric: str | None = None
    """The metric of the custom plot (with `param`) and of the parallel coordinates (with `parallelParams`)."""
    param: str | None = None
    """With `metric`: a plot of the metric against this param, a point per revision."""
    parallel_params: list[str] = attrs.Factory(list)
    """With `metric`: parallel coordinates over these params and the metric."""
    columns: bool = False
    """Send the data of plots read from files as `PlotSpec.columns` instead of inside the spec (a fifth of the JSON)."""
    first: int | None = None
    """Read the files of the first N plots only; the others come `pending` (ask for them by id in `targets`)."""


@attrs.define
class PlotRevision:
    """A revision drawn in the plots."""

    label: str
    """Its name in the plots: the experiment's name, the revision typed, or `workspace`."""
    rev: str
    """Full commit id (`workspace` for the workspace)."""
    kind: str
    """workspace | commit | experiment"""


@attrs.define
class PlotColumns:
    """A chart's records as columns; `rev` and `series` come as runs (value, how many points in a row)."""

    rev: list[str]
    """The experiment of each run of points."""
    rev_runs: list[int]
    """How many points each `rev` entry covers."""
    series: list[str]
    """The series (file and field) of each run of points."""
    series_runs: list[int]
    """How many points each `series` entry covers."""
    x: list[Any]
    """Every point's x."""
    y: list[Any]
    """Every point's y."""


@attrs.define
class PlotSpec:
    """One chart."""

    id: str
    """The plot's id in dvc.yaml (or its file), or the custom plot's title."""
    template: str
    """linear | scatter | smooth | confusion | bar | custom | parallel"""
    revisions: list[str]
    """Labels of the revisions with data in it."""
    spec: dict[str, Any]
    """The Vega-Lite spec, data inline (data.values empty when `columns` carries it)."""
    columns: PlotColumns | None = None
    """The data as columns, when asked for with `columns`: records are {rev, series, x, y} in this order."""
    pending: bool = False
    """Beyond the `first` plots asked for: its files were not read and `spec` is empty."""


@attrs.define
class PlotsDataResult:
    """Every chart, in dvc.yaml's order, then the custom ones."""

    revisions: list[PlotRevision]
    """The revisions compared, in colour order."""
    plots: list[PlotSpec]
    """The charts."""
    errors: list[str]
    """Files that could not be read, as `label: file: why`."""
    params: list[str] = attrs.Factory(list)
    """Params keys of these revisions (dotted; `file:key` outside params.yaml), for a custom plot's controls."""
    metrics: list[str] = attrs.Factory(list)
    """Metric keys of these revisions (dotted; `file:key` when two files share a key), for the same controls."""


@attrs.define
class CompareExperimentsParams:
    """The experiments to put side by side."""

    names: list[str] = attrs.Factory(list)
    """2 to 20 experiment names, commits or `workspace`; the first is the baseline of the deltas."""


@attrs.define
class CompareRow:
    """One param or metric across the compared experiments."""

    section: str
    """params | metrics"""
    path: str
    """The params or metrics file."""
    key: str
    """The dotted key."""
    values: list[Any]
    """One value per column (null where absent)."""
    changed: bool
    """Whether any value differs from the first column's."""


@attrs.define
class CompareExperimentsResult:
    """The comparison table."""

    columns: list[PlotRevision]
    """The compared experiments, in the order asked."""
    rows: list[CompareRow]
    """Params first, then metrics, in file order."""
    errors: list[str]
    """Files that could not be read, as `label: file: why`."""


@attrs.define
class ExperimentsChangedParams:
    """Experiments (or the workspace row) changed on disk."""

    baselines: list[str]
    """Baseline commits whose rows changed; empty means reload everything."""


@attrs.define
class QueueChangedParams:
    """The queue changed."""

    running: int
    """Entries running now."""
    queued: int
    """Entries waiting."""


@attrs.define
class LiveMetricsUpdatedParams:
    """A running experiment logged a new step (its `pyhelper.live` metrics file changed)."""

    experiment: str
    """The experiment's name."""
    baseline: str
    """Its baseline commit."""
    step: int | None
    """The step its metrics file names (None when it names none)."""
    metrics: dict[str, Any]
    """Flattened metric name → value, as in `dvclive/metrics.json`."""


# -- following a queue entry's log: pushed by the server instead of polled with `xp/readQueueLog` --------
FOLLOW_QUEUE_LOG = "xp/followQueueLog"
UNFOLLOW_QUEUE_LOG = "xp/unfollowQueueLog"
QUEUE_LOG_UPDATED = "xp/queueLogUpdated"


@attrs.define
class FollowQueueLogParams:
    """Follow a queue entry's log: what it holds now comes in the answer, what it gains in `xp/queueLogUpdated`."""

    entry: str
    """The entry (name or id)."""
    offset: int = 0
    """Byte offset to start from (0: the whole log)."""


@attrs.define
class FollowQueueLogResult:
    """The log so far; unless `done`, the server now follows the entry (one follower per entry: asking again
    replaces it)."""

    entry_id: str
    """The entry's id: its `xp/queueLogUpdated` notifications and `xp/unfollowQueueLog` name it."""
    name: str
    """The experiment name the entry runs under."""
    status: str
    """queued | running | success | failed | cancelled."""
    text: str
    """The log from `offset` on, at most 1 MiB of it, decoded as UTF-8 and cut after a whole character."""
    offset: int
    """The byte offset after `text`: the `start` of the first notification."""
    done: bool
    """True when the entry had finished and `text` holds the rest of its log: no notification follows."""


@attrs.define
class UnfollowQueueLogParams:
    """Stop following an entry's log."""

    entry_id: str
    """The entry's id (`entryId` of the follow's answer)."""


@attrs.define
class UnfollowQueueLogResult:
    """No notification for the entry comes after this answer."""

    followed: bool
    """True when the entry was being followed until now."""


@attrs.define
class QueueLogUpdatedParams:
    """A followed entry's log grew or its status changed; sent until one has `done` (a few times a second at most)."""

    entry_id: str
    """The entry's id."""
    start: int
    """The byte offset `text` starts at: the `offset` of the answer or of the previous notification."""
    text: str
    """What the log gained (at most 1 MiB, decoded as UTF-8 and cut after a whole character; may be empty)."""
    offset: int
    """The byte offset after `text`."""
    status: str
    """The entry's status now: queued | running | success | failed | cancelled."""
    done: bool
    """The last notification for this follow: the entry finished and all its log was sent, or `reason` says why
    following stopped."""
    reason: str = ""
    """Why following stopped before the entry finished (removed from the queue, the queue unreadable, 24 hours
    passed); empty otherwise."""


REQUESTS: dict[str, tuple[type, type]] = {
    SHOW_EXPERIMENTS: (ShowExperimentsParams, ShowExperimentsResult),
    RUN_EXPERIMENT: (RunExperimentParams, RunExperimentResult),
    START_QUEUE: (StartQueueParams, StartQueueResult),
    STOP_QUEUE: (StopQueueParams, StopQueueResult),
    QUEUE_STATUS: (QueueStatusParams, QueueStatusResult),
    APPLY_EXPERIMENT: (ApplyExperimentParams, ApplyExperimentResult),
    BRANCH_EXPERIMENT: (BranchExperimentParams, BranchExperimentResult),
    REMOVE_EXPERIMENTS: (RemoveExperimentsParams, RemoveExperimentsResult),
    DIFF_EXPERIMENTS: (DiffExperimentsParams, DiffExperimentsResult),
    RENAME_EXPERIMENT: (RenameExperimentParams, RenameExperimentResult),
    TAG_EXPERIMENT: (TagExperimentParams, TagExperimentResult),
    NOTE_EXPERIMENT: (NoteExperimentParams, NoteExperimentResult),
    READ_QUEUE_LOG: (ReadQueueLogParams, ReadQueueLogResult),
    KILL_QUEUE_ENTRIES: (KillQueueEntriesParams, KillQueueEntriesResult),
    RETRY_QUEUE_ENTRIES: (RetryQueueEntriesParams, RetryQueueEntriesResult),
    SHOW_REVISION: (ShowRevisionParams, ShowRevisionResult),
    SHOW_STATUS: (ShowStatusParams, ShowStatusResult),
    REPRO_PIPELINE: (ReproPipelineParams, ReproPipelineResult),
    LIST_RUNS: (ListRunsParams, ListRunsResult),
    RESTORE_RUN: (RestoreRunParams, RestoreRunResult),
    PUSH_EXPERIMENTS: (SyncExperimentsParams, SyncExperimentsResult),
    PULL_EXPERIMENTS: (SyncExperimentsParams, SyncExperimentsResult),
    PLOTS_DATA: (PlotsDataParams, PlotsDataResult),
    COMPARE_EXPERIMENTS: (CompareExperimentsParams, CompareExperimentsResult),
    STAR_EXPERIMENT: (StarExperimentParams, StarExperimentResult),
    LIST_REMOTES: (ListRemotesParams, ListRemotesResult),
    FOLLOW_QUEUE_LOG: (FollowQueueLogParams, FollowQueueLogResult),
    UNFOLLOW_QUEUE_LOG: (UnfollowQueueLogParams, UnfollowQueueLogResult),
}
"""Request method → (params type, result type)."""

NOTIFICATIONS: dict[str, type] = {
    EXPERIMENTS_CHANGED: ExperimentsChangedParams,
    QUEUE_CHANGED: QueueChangedParams,
    LIVE_METRICS_UPDATED: LiveMetricsUpdatedParams,
    QUEUE_LOG_UPDATED: QueueLogUpdatedParams,
}
"""Server → client notification method → params type."""

WIRE_TYPES: tuple[type, ...] = tuple(
    {t: None for pair in REQUESTS.values() for t in pair} | {t: None for t in NOTIFICATIONS.values()}
    | {ExperimentRow: None, QueueEntry: None, QueueWorker: None, DiffRow: None, StageStatus: None,
       RecordedRun: None, RemoteInfo: None, PlotRevision: None, PlotColumns: None, PlotSpec: None, CompareRow: None}
)
"""Every type that crosses the wire (registered with the strict camelCase hooks)."""


def _message_classes() -> tuple[dict[str, type], dict[str, type]]:
    """JSON-RPC message envelopes per method, as pygls looks them up (`get_message_type`)."""
    messages: dict[str, type] = {}
    responses: dict[str, type] = {}
    for method, (params, result) in REQUESTS.items():
        base = params.__name__.removesuffix("Params")
        # attrs' stub takes only classes as a field's `type`; cattrs, which reads it, takes unions too.
        messages[method] = attrs.make_class(f"{base}Request", {
            "id": attrs.field(type=int | str),  # type: ignore[arg-type]
            "params": attrs.field(type=params, factory=params),
            "method": attrs.field(type=str, default=method),
            "jsonrpc": attrs.field(type=str, default="2.0"),
        })
        responses[method] = attrs.make_class(f"{base}Response", {
            "id": attrs.field(type=int | str | None),  # type: ignore[arg-type]
            "result": attrs.field(type=result),
            "jsonrpc": attrs.field(type=str, default="2.0"),
        })
    for method, params in NOTIFICATIONS.items():
        messages[method] = attrs.make_class(params.__name__.removesuffix("Params") + "Notification", {
            "params": attrs.field(type=params),
            "method": attrs.field(type=str, default=method),
            "jsonrpc": attrs.field(type=str, default="2.0"),
        })
    return messages, responses


MESSAGE_TYPES, RESPONSE_TYPES = _message_classes()
"""Method → request/notification envelope; method → response envelope."""


def converter() -> cattrs.Converter:
    """pygls' converter (lsprotocol types) plus xp's strict camelCase hooks for its own types."""
    from pygls.protocol import default_converter

    from pyhelper.server import wire

    # The envelopes too: lsprotocol's hooks would drop `method` and `jsonrpc`, which hold their defaults.
    envelopes = (*MESSAGE_TYPES.values(), *RESPONSE_TYPES.values())
    # What a client sends (a request, its params) is held to the bounds of `limits.py`.
    requests = (*(MESSAGE_TYPES[method] for method in REQUESTS), *(params for params, _ in REQUESTS.values()))
    return wire.register(default_converter(), (*WIRE_TYPES, *envelopes), bounded=requests)
