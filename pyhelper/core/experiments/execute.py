"""One queued experiment run, for every worker: materialise the entry in a private work tree,
reproduce it (recording checkpoints), and build the experiment commit.

The local queue's worker (`queue/worker.py`) and the RQ worker (`queue/remote_worker.py`) differ
only in what they do around this: how they hear of a cancel (a heartbeat thread reading SQLite, a
watchdog reading Redis), where the log lines go (a file, a Redis stream), and how the commit is
recorded (a ref in a database transaction that checks the lease; a push to the shared remote).
Those come in as `Hooks`; the run itself, the log lines it writes and the commit it makes are the
same code for both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pyhelper.core.queue.enqueue import TRAILER
from pyhelper.errors import StageFailed

if TYPE_CHECKING:
    import pygit2

    from pyhelper.core.pipeline.repro import ReproEvent
    from pyhelper.core.project import Project

class Stopped(Exception):
    """The run was cancelled, lost its lease, or its worker was asked to stop, between two commands."""


def _nothing(*_: object) -> None:
    return None


@dataclass
class Hooks:
    """What a worker does while its entry runs."""

    log: Callable[[str], None]
    """A line for the entry's log."""
    started: Callable[[int], None] = _nothing
    """A stage's command started, leading this process group (signal it to cancel)."""
    ended: Callable[[], None] = _nothing
    """No command runs now (after a cancel, what is left of its group is made to exit)."""
    stopping: Callable[[], bool] = lambda: False
    """True when the run must stop: checked before each stage."""
    discard: Callable[[], bool] | None = None
    """True when a run that got to its end must not be recorded (checked after the last stage); default:
    `stopping`. A worker told to stop keeps a run that has finished: only a cancel throws it away."""
    checkpoint: Callable[[str, str | None], None] | None = None
    """A checkpoint was recorded (its `NAME@STEP rev` text, the chain's tip); default: a log line."""


@dataclass(frozen=True)
class Ran:
    """A run's result: its experiment commit, and the newest checkpoint (the ref holds it now) if any."""

    commit: str
    tip: str | None


def event_handler(hooks: Hooks, tip: Callable[[], str | None] = lambda: None) -> Callable[[ReproEvent], None]:
    """Turns the pipeline's events into the worker's log lines and signals (the same for every worker)."""

    def on_event(event: ReproEvent) -> None:
        if event.kind == "started":
            hooks.started(int(event.text))
        elif event.kind == "output":
            hooks.log(event.text)
        elif event.kind == "running":
            if hooks.stopping():
                raise Stopped()
            hooks.log(f"Running stage '{event.stage}' ({event.text})")
        elif event.kind == "command":
            hooks.log(f"> {event.text}")
        elif event.kind in ("skipped", "restored"):
            hooks.log(f"Stage '{event.stage}': {event.text}")
        elif event.kind == "done":
            hooks.ended()
        elif event.kind == "checkpoint":
            if hooks.checkpoint is None:
                hooks.log(f"# checkpoint {event.text}")
            else:
                hooks.checkpoint(event.text, tip())

    return on_event


def failure_line(exc: StageFailed) -> str:
    """One line for the queue's table: which stage, its exit code, and its last line of output."""
    last = next((line.strip() for line in reversed(exc.tail) if line.strip()), "")
    text = f"stage '{exc.stage}' exited with code {exc.returncode}"
    return f"{text}: {last[:200]}" if last else text


def commit_message(entry_id: str, name: str, message: str = "") -> str:
    """The experiment commit's message: the user's (or the default) and the trailer naming the entry."""
    return f"{message or 'xp: experiment ' + name}\n\n{TRAILER}: {entry_id}\n"


def execute(project: Project, repo: pygit2.Repository, *, entry_id: str, name: str, rev: str, baseline: str,
            message: str, hooks: Hooks, run_id: str | None = None) -> Ran:
    """Runs commit `rev` (the entry's workspace) as experiment `name` of `baseline` in a private work tree
    and returns the experiment commit (with checkpoints, it continues their chain); records no ref (the
    checkpoints do: the experiment's ref is on the newest one, `Ran.tip`).

    Raises `StageFailed` when a stage fails and `Stopped` when `hooks.stopping()` said so; the private
    work tree is removed either way.
    """
    from pyhelper.core.experiments.recorder import Recorder
    from pyhelper.core.experiments.save import commit_tree, gc_held, missing_object, written
    from pyhelper.core.git import tmp_workspace
    from pyhelper.core.git.gitcore import lookup_commit
    from pyhelper.core.git.gitrepo import snapshot_tree
    from pyhelper.core.pipeline.repro import reproduce
    from pyhelper.core.project import workspace_lock

    base = lookup_commit(repo, baseline)
    private = tmp_workspace.create(project, repo, base, lookup_commit(repo, rev).tree.id)
    try:
        recorder = Recorder(project, private.project, baseline=baseline, name=name, run_id=run_id)
        # The private tree's lock is held until the snapshot: `xp exp clean` leaves it alone.
        with workspace_lock(private.project), recorder:
            reproduce(private.project, on_event=recorder.watch(event_handler(hooks, lambda: recorder.tip)),
                      env=recorder.env)
            hooks.ended()
            if (hooks.discard or hooks.stopping)():
                raise Stopped()
            text = commit_message(entry_id, name, message)

            def write() -> str:
                tree = snapshot_tree(private.repo, private.root, base.tree)
                return commit_tree(repo, tree, parent=recorder.tip or baseline, message=text)

            with gc_held(repo):
                commit = written(write)  # Again when a concurrent gc deleted an object it had just written.
                missing_object(repo, commit, keep=True)  # Dated ahead: a gc --prune=now before the ref keeps them.
        return Ran(commit, recorder.tip)
    finally:
        tmp_workspace.remove(private)
