"""Push, never poll the client: a thread that notices changes on disk and notifies the editor.

The standard library has no inotify, so the watcher stats a handful of paths every 100 ms
(a few dozen syscalls: cheaper than the alternatives' threads): the experiment ref folders
(git renames a lock file into place, so a folder's mtime changes with every ref it holds),
packed-refs, HEAD and the branch it names, the notes ref, the pipeline's params, metrics and
lock files, the queue database, and the `dvclive/metrics.json` of every run recording an
experiment now (found through `.xp/live/`). What changed becomes `xp/experimentsChanged` (which
baselines), `xp/queueChanged` (counts) and `xp/liveMetricsUpdated` (a run's newest step), each
sent at most every 200 ms (≤ 5 per second, per run for live metrics); changes that arrive
meanwhile are merged into the next one.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyhelper.server import protocol

logger = logging.getLogger(__name__)

Stat = tuple[int, int, int] | None


def _stat(path: Path) -> Stat:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size, st.st_ino


@dataclass
class _Snapshot:
    """What the watcher saw in one pass."""

    git_dir: Path | None = None
    loose: dict[str, Stat] = field(default_factory=dict)
    """Baseline → stat of its folder under refs/exps/."""
    packed_stat: Stat = None
    packed: dict[str, frozenset[tuple[str, str]]] = field(default_factory=dict)
    """Baseline → (name, commit) of experiment refs in packed-refs."""
    head: tuple[Any, ...] = ()
    head_sha: str = ""
    notes: Stat = None
    workspace: tuple[tuple[str, Stat], ...] = ()
    queue: tuple[Stat, Stat] = (None, None)
    live: dict[str, tuple[Path, Stat]] = field(default_factory=dict)
    """Experiment ref of a running experiment → (its live metrics file, that file's stat)."""


class Watcher:
    """Polls the project's files on a daemon thread and sends coalesced change notifications."""

    def __init__(self, root: Callable[[], Path], send: Callable[[str, Any], None], *,
                 interval: float = 0.1, min_gap: float = 0.2):
        self._root = root
        self._send = send
        self.interval = interval
        self.min_gap = min_gap
        self.generation = 0
        """Bumped on every change seen; caches keyed by it are current."""
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last: _Snapshot | None = None
        self._files: tuple[tuple[Stat, ...] | None, tuple[str, ...]] = (None, ())
        self._pending_all = False
        self._pending: set[str] = set()
        self._queue_digest: tuple[Any, ...] | None = None
        self._queue_pending: tuple[int, int] | None = None
        self._sent_at: dict[str, float] = {}
        self._live_pending: dict[str, Path] = {}
        self._passes = 0
        self._redis: Any = None
        self._redis_config: Stat = None

    def start(self) -> None:
        """Starts the polling thread (once)."""
        if self._thread is None:
            self.poll()
            self._thread = threading.Thread(target=self._run, name="xp-watcher", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stops the polling thread."""
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.poll()
            except Exception:  # A bad pass must not end the watching.
                logger.exception("watcher pass failed")

    def poll(self) -> int:
        """One pass: compare with the last, send what is due; returns the generation."""
        with self._lock:
            snap = self._snapshot(self._root())
            if self._last is not None and self._compare(self._last, snap):
                self.generation += 1
            self._passes += 1
            if self._passes % 5 == 0:  # A queue on Redis has no file to stat: asked twice a second.
                self._redis_changed()
            self._last = snap
            self._flush()
            return self.generation

    # -- looking ------------------------------------------------------------------------------
    def _snapshot(self, root: Path) -> _Snapshot:
        from pyhelper.core.project import find_project
        from pyhelper.errors import NotARepository

        snap = _Snapshot()
        snap.workspace = self._workspace(root)
        try:
            project = find_project(root)
        except NotARepository:
            return snap
        # HEAD is the work tree's own; refs live in the common dir (a linked worktree's main one).
        own = project.git_dir
        git = project.common_dir
        snap.git_dir = own
        exps = git / "refs" / "exps"
        try:
            for first in os.scandir(exps):
                if first.is_dir():
                    for second in os.scandir(first.path):
                        if second.is_dir():
                            snap.loose[first.name + second.name] = _stat(Path(second.path))
        except OSError:
            pass
        snap.packed_stat = _stat(git / "packed-refs")
        if self._last is not None and self._last.packed_stat == snap.packed_stat:
            snap.packed = self._last.packed
        else:
            snap.packed = _packed_exps(git / "packed-refs")
        head_text = _read(own / "HEAD")
        branch = head_text.removeprefix("ref:").strip() if head_text.startswith("ref:") else ""
        snap.head = (head_text, _stat(git / branch) if branch else None, snap.packed_stat)
        if self._last is not None and self._last.head == snap.head:
            snap.head_sha = self._last.head_sha
        else:
            snap.head_sha = _resolve(git, head_text)
        snap.notes = _stat(git / "refs" / "notes" / "xp")
        xp_dir = project.xp_dir
        snap.queue = (_stat(xp_dir / "queue.db"), _stat(xp_dir / "queue.db-wal"))
        snap.live = _live_files(project)
        return snap

    def _workspace(self, root: Path) -> tuple[tuple[str, Stat], ...]:
        """Stats of every dvc.yaml and dvc.lock of the project and the pipeline's params and metrics files.

        The list is read again when a dvc.yaml changes (the root one, or one found last time).
        """
        known = [rel for rel in self._files[1] if rel.rsplit("/", 1)[-1] == "dvc.yaml"] or ["dvc.yaml"]
        pipeline_stat = tuple(_stat(root / rel) for rel in dict.fromkeys(["dvc.yaml", *known]))
        if pipeline_stat != self._files[0]:
            self._files = (pipeline_stat, _watched_files(root))
        return tuple((rel, _stat(root / rel)) for rel in self._files[1])

    def _compare(self, old: _Snapshot, new: _Snapshot) -> bool:
        """Records what changed as pending notifications; True when anything did."""
        changed = False
        if old.git_dir != new.git_dir or old.head != new.head or old.notes != new.notes:
            self._pending_all = True
            changed = True
        for baseline in set(old.loose) | set(new.loose):
            if old.loose.get(baseline) != new.loose.get(baseline):
                self._pending.add(baseline)
                changed = True
        for baseline in set(old.packed) | set(new.packed):
            if old.packed.get(baseline) != new.packed.get(baseline):
                self._pending.add(baseline)
                changed = True
        if old.workspace != new.workspace:
            changed = True
            if new.head_sha:
                self._pending.add(new.head_sha)
            else:
                self._pending_all = True
        for ref, (path, stat) in new.live.items():
            if stat is not None and old.live.get(ref, (None, None))[1] != stat:
                self._live_pending[ref] = path
        if old.queue != new.queue or old.git_dir != new.git_dir:
            changed = True
            self._queue_changed()
        return changed

    def _queue_changed(self) -> None:
        """Reads the queue's entries; a change of any entry's status is worth a notification."""
        try:
            from pyhelper.core.project import find_project
            from pyhelper.core.queue.db import QueueDb

            project = find_project(self._root())
            if not (project.xp_dir / "queue.db").is_file():
                return
            db = QueueDb(project)
            try:
                entries = db.entries()
            finally:
                db.close()
        except Exception:  # A database being created or migrated: the next pass reads it.
            return
        self._queue_seen(entries)

    def _queue_seen(self, entries: list) -> bool:
        """Notes the entries' statuses; a change of any is due as `xp/queueChanged` (True then)."""
        digest = tuple((e.id, e.status) for e in entries)
        if digest == self._queue_digest:
            return False
        self._queue_digest = digest
        self._queue_pending = (sum(e.status == "running" for e in entries),
                               sum(e.status == "queued" for e in entries))
        return True

    def _redis_changed(self) -> None:
        """Reads the entries of a queue on RQ/Redis (when `.xp/config` selects one) like `_queue_changed`."""
        try:
            from pyhelper.core.project import find_project
            from pyhelper.core.queue.backend import config_path, redis_queue

            project = find_project(self._root())
            config = _stat(config_path(project))
            if config != self._redis_config:  # Configured, changed or removed: connect anew.
                self._redis_config = config
                if self._redis is not None:
                    self._redis.close()
                self._redis = redis_queue(project) if config is not None else None
            if self._redis is None:
                return
            entries = self._redis.entries()
        except Exception:  # Redis down or a config being written: the next pass asks again.
            return
        if self._queue_seen(entries):
            self.generation += 1

    # -- telling ------------------------------------------------------------------------------
    def _flush(self) -> None:
        now = time.monotonic()
        method = protocol.EXPERIMENTS_CHANGED
        if (self._pending_all or self._pending) and now - self._sent_at.get(method, 0.0) >= self.min_gap:
            baselines = [] if self._pending_all else sorted(self._pending)
            self._pending_all = False
            self._pending = set()
            self._sent_at[method] = now
            self._send(method, protocol.ExperimentsChangedParams(baselines=baselines))
        method = protocol.QUEUE_CHANGED
        if self._queue_pending is not None and now - self._sent_at.get(method, 0.0) >= self.min_gap:
            running, queued = self._queue_pending
            self._queue_pending = None
            self._sent_at[method] = now
            self._send(method, protocol.QueueChangedParams(running=running, queued=queued))
        for ref, path in list(self._live_pending.items()):
            key = f"{protocol.LIVE_METRICS_UPDATED} {ref}"
            if now - self._sent_at.get(key, 0.0) < self.min_gap:
                continue
            del self._live_pending[ref]
            params = _live_params(ref, path)
            if params is not None:
                self._sent_at[key] = now
                self._send(protocol.LIVE_METRICS_UPDATED, params)


def _live_files(project: Any) -> dict[str, tuple[Path, Stat]]:
    """Each running experiment's `dvclive/metrics.json` (DVCLive's default folder) and its stat."""
    if not (project.xp_dir / "live").is_dir():
        return {}
    from pyhelper.core.experiments.checkpoint import live_runs

    found = {}
    for ref, run in live_runs(project).items():
        if isinstance(run.get("root"), str):
            path = Path(run["root"]) / "dvclive" / "metrics.json"
            found[ref] = (path, _stat(path))
    return found


def _live_params(ref: str, path: Path) -> protocol.LiveMetricsUpdatedParams | None:
    """The notification for a run's metrics file, or None when it cannot be read (being replaced)."""
    import json

    from pyhelper.core.git.refs import ExpRef
    from pyhelper.core.values.params import flatten

    parsed = ExpRef.parse(ref)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if parsed is None or not isinstance(data, dict):
        return None
    step = data.pop("step", None)
    return protocol.LiveMetricsUpdatedParams(
        experiment=parsed.name, baseline=parsed.baseline, step=step if isinstance(step, int) else None,
        metrics=flatten(data))


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def _packed_exps(path: Path) -> dict[str, frozenset[tuple[str, str]]]:
    """Experiment refs listed in packed-refs, by baseline."""
    from pyhelper.core.git.refs import ExpRef

    found: dict[str, set[tuple[str, str]]] = {}
    try:
        text = path.read_text()
    except OSError:
        return {}
    for line in text.splitlines():
        sha, _, name = line.partition(" ")
        if name.startswith("refs/exps/"):
            ref = ExpRef.parse(name)
            if ref is not None:
                found.setdefault(ref.baseline, set()).add((ref.name, sha))
    return {k: frozenset(v) for k, v in found.items()}


def _resolve(git: Path, head_text: str) -> str:
    """The commit HEAD names ('' when unborn)."""
    if not head_text.startswith("ref:"):
        return head_text
    ref = head_text.removeprefix("ref:").strip()
    loose = _read(git / ref)
    if loose:
        return loose
    try:
        for line in (git / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split(" ", 1)[0]
    except OSError:
        pass
    return ""


def _watched_files(root: Path) -> tuple[str, ...]:
    """dvc.yaml, dvc.lock, and the params and metrics files the pipeline names."""
    files = ["dvc.yaml", "dvc.lock", "params.yaml"]
    try:
        from pyhelper.core.pipeline.dvcfile import read_pipeline
        from pyhelper.core.values.metrics import metrics_files, params_keys

        pipeline = read_pipeline(root, sub="")
        files += list(pipeline.files) + pipeline.lock_files() + list(params_keys(pipeline)) + metrics_files(pipeline)
    except Exception:  # A broken dvc.yaml: watch the defaults until it is fixed.
        pass
    return tuple(dict.fromkeys(files))
