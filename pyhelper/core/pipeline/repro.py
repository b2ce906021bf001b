"""`xp repro`: bring the pipeline up to date, running only what changed, reusing past runs.

For each stage, upstream first: skip it when it matches dvc.lock; otherwise restore its outputs
from the run-cache when the same command already ran with the same deps and params; otherwise
run it. A stage's lock entry is written only after its command succeeded and its outputs are
cached, so a failure leaves the lock (and every cached output) as it was.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pyhelper.core.pipeline import graph
from pyhelper.core.pipeline.lockfile import LockEntry, prune_locks, read_locks, write_stage
from pyhelper.core.pipeline.run_cache import RecordedOut, RunCache, signature
from pyhelper.core.pipeline.stage import Stage
from pyhelper.core.pipeline.stage_state import ParamsReader, StageState, compute_state
from pyhelper.core.processes import stop_group
from pyhelper.core.project import Project, workspace_lock
from pyhelper.core.storage.cache import Cache, remove
from pyhelper.core.storage.gitignore import ensure_ignored
from pyhelper.core.storage.hashing import HashInfo, StatIndex
from pyhelper.errors import PipelineError, StageFailed, XpError

TAIL_LINES = 20


EventKind = Literal["skipped", "frozen", "blocked", "running", "command", "started", "output", "restored",
                    "would_run", "done", "failed", "checkout", "checkpoint"]
"""What a `ReproEvent` says happened (an `if event.kind == …` chain is checked against this list)."""


@dataclass(frozen=True)
class ReproEvent:
    """Something a person watching a repro wants to know, as data (the CLI prints it)."""

    kind: EventKind
    """skipped | frozen | running | command | started (text: the command's pid, which leads its own
    process group) | output | restored | would_run | done | checkpoint (text: `NAME@STEP rev`; sent
    from another thread, by an experiment run's checkpoint recorder)"""
    stage: str
    text: str = ""


@dataclass(frozen=True)
class ReproResult:
    """Which stages ran, came from the run-cache, were up to date, or would run (dry)."""

    ran: tuple[str, ...]
    restored: tuple[str, ...]
    skipped: tuple[str, ...]
    would_run: tuple[str, ...]


class Workspace:
    """The state one operation shares: stat index, cache, run-cache, lock, params."""

    def __init__(self, project: Project):
        self.project = project
        xp = project.ensure_xp_dir()
        self.index = StatIndex(xp / "index.db")
        self.index.use_dvcignore(project.project_root)
        self.cache = Cache(project.cache_dir, self.index)
        self.runs = RunCache(xp / "runs.db")
        self.params = ParamsReader(project.root)
        self.env: dict[str, str] = {}
        """Added to the environment of every command (e.g. where checkpoints go)."""
        self.pipeline: Any = None
        """The collected pipeline of this operation."""

    def close(self) -> None:
        """Commits the stat index and closes the databases."""
        self.index.close()
        self.runs.close()


def repro(
    project: Project,
    targets: list[str] | None = None,
    *,
    force: bool = False,
    dry: bool = False,
    use_run_cache: bool = True,
    on_event: Callable[[ReproEvent], None] = lambda event: None,
    options: ReproOptions | None = None,
) -> ReproResult:
    """Reproduces the targets (default: every stage) and what they depend on."""
    with workspace_lock(project):
        return reproduce(project, targets, force=force, dry=dry, use_run_cache=use_run_cache, on_event=on_event,
                         options=options)


def reproduce(
    project: Project,
    targets: list[str] | None = None,
    *,
    force: bool = False,
    dry: bool = False,
    use_run_cache: bool = True,
    on_event: Callable[[ReproEvent], None] = lambda event: None,
    env: dict[str, str] | None = None,
    options: ReproOptions | None = None,
) -> ReproResult:
    """`repro` for a caller that already holds the workspace lock; `env` is added to the commands' environment."""
    options = options or ReproOptions()
    root = project.root
    project.require_pipeline()
    pipeline = project.pipeline()
    stages = graph.select(pipeline, root, targets, options.selection)
    graph.check_data_overlaps(pipeline, root)
    # As DVC: --force runs every stage considered (the targets and what they depend on, or the selection).
    forced = {s.name for s in stages} if force else set()
    ws = Workspace(project)
    ws.env = dict(env or {})
    ws.pipeline = pipeline
    try:
        return _run_all(ws, stages, forced, dry, use_run_cache, on_event, options)
    finally:
        ws.close()


@dataclass(frozen=True)
class ReproOptions:
    """DVC's `repro` options beyond force/dry/run-cache."""

    selection: graph.Selection = graph.Selection()
    keep_going: bool = False
    """A failed stage stops only the stages depending on it; the others still run (exit 1 at the end)."""
    ignore_errors: bool = False
    """A failed stage stops nothing: the stages after it run too (exit 1 at the end)."""
    force_downstream: bool = False
    """Every stage downstream of one that ran runs too, changed or not."""
    allow_missing: bool = False
    """A stage whose only change is missing data (not pulled) is skipped, not run."""


def _run_all(ws: Workspace, stages: list[Stage], forced: set[str], dry: bool, use_run_cache: bool,
             on_event: Callable[[ReproEvent], None], options: ReproOptions = ReproOptions()) -> ReproResult:
    root = ws.project.root
    pipeline = ws.pipeline
    lock = read_locks(root, pipeline)
    ran, restored, skipped, would_run = [], [], [], []
    produced_in_dry: set[str] = set()
    blocked: dict[str, PipelineError] = {}
    """Stages that cannot run (a dependency is missing), with why; their downstream stages wait too."""
    failed: dict[str, StageFailed] = {}
    edges = graph.upstream(pipeline, root)
    forced = set(forced)
    for stage in stages:
        if stage.frozen:
            on_event(ReproEvent("frozen", stage.name, "frozen, not checked"))
            skipped.append(stage.name)
            continue
        broken = [p for p in edges.get(stage.name, ()) if p in failed]
        if broken and not options.ignore_errors:
            failed[stage.name] = failed[broken[0]]
            on_event(ReproEvent("blocked", stage.name, f"waits for stage '{broken[0]}', which failed"))
            continue
        if options.force_downstream and any(p in ran or p in restored or p in would_run
                                            for p in edges.get(stage.name, ())):
            forced.add(stage.name)
        waiting = [p for p in edges.get(stage.name, ()) if p in blocked]
        if waiting:
            blocked[stage.name] = blocked[waiting[0]]
            on_event(ReproEvent("blocked", stage.name, f"waits for stage '{waiting[0]}', which cannot run"))
            continue
        _checkout_tracked(ws, stage, on_event)
        entry = lock.get(stage.name)
        state = compute_state(stage, root, entry, ws.index, ws.params, will_produce=produced_in_dry)
        if state.missing:
            blocked[stage.name] = graph.missing_dep_error(pipeline, root, stage, state.missing[0])
            on_event(ReproEvent("blocked", stage.name, blocked[stage.name].message))
            continue
        upstream_would_run = dry and any(d for d in produced_in_dry if _feeds(stage, d))
        if options.allow_missing and state.changed and stage.name not in forced and all(
                r.endswith(" is missing") for r in state.reasons):
            on_event(ReproEvent("skipped", stage.name, "only data is missing (--allow-missing)"))
            skipped.append(stage.name)
            continue
        if not state.changed and stage.name not in forced and not upstream_would_run:
            _save_outs(ws, stage, state)
            on_event(ReproEvent("skipped", stage.name, "didn't change"))
            skipped.append(stage.name)
            continue
        reasons = state.reasons or ("forced",)
        if dry:
            on_event(ReproEvent("would_run", stage.name, "; ".join(reasons)))
            would_run.append(stage.name)
            produced_in_dry.update(stage.repo_path(o.path) for o in stage.outs)
            continue
        if stage.name not in forced and use_run_cache and _restore_from_run_cache(ws, stage, state, entry, on_event):
            restored.append(stage.name)
            continue
        try:
            _run_stage(ws, stage, state, on_event, entry)
        except StageFailed as exc:
            if not (options.keep_going or options.ignore_errors):
                raise
            failed[stage.name] = exc
            on_event(ReproEvent("failed", stage.name, exc.message))
            continue
        ran.append(stage.name)
    if not dry and (ran or restored):
        # Drop entries of stages that are gone, in the locks that were written.
        prune_locks(root, pipeline, {pipeline.stages[name].dvcfile for name in (*ran, *restored)})
    if failed:
        first_failed = next(iter(failed.values()))
        names = ", ".join(f"'{n}'" for n in failed)
        summary = f" (not done: {names}; {len(ran)} ran, {len(restored)} restored)"
        head, sep, tail = first_failed.message.partition("; last lines")
        first_failed.message = head + summary + sep + tail
        raise first_failed
    if blocked:
        first = next(iter(blocked.values()))
        names = ", ".join(f"'{n}'" for n in blocked)
        done = f" ({len(ran)} ran, {len(restored)} restored, {len(skipped)} up to date)" if not dry else ""
        raise PipelineError(f"{first.message}: cannot run {names}{done}", hint=first.hint,
                            path=first.path, line=first.line)
    return ReproResult(tuple(ran), tuple(restored), tuple(skipped), tuple(would_run))


def cache_tracked_data(project: Project) -> list[str]:
    """Stores `.dvc`-tracked data that is in the workspace, as recorded, in the cache when the cache lacks it
    (before a private copy or a queued run needs it from there); returns the paths stored."""
    pipeline = project.pipeline()
    if not pipeline.data:
        return []
    stored: list[str] = []
    index = StatIndex(project.ensure_xp_dir() / "index.db")
    cache = Cache(project.cache_dir, index)
    try:
        for file in pipeline.data:
            for out in file.outs:
                if out.hash is None or not out.cache or cache.has(out.hash):
                    continue
                target = project.root / out.path
                now = index.hash_path(target)
                # Only an exact md5 (a DVC 2 record's md5-dos2unix names other bytes than the file's).
                if now is not None and now.md5 == out.hash.md5:
                    cache.save(target, now)
                    stored.append(out.path)
    finally:
        index.close()
    return stored


def _checkout_tracked(ws: Workspace, stage: Stage, on_event: Callable[[ReproEvent], None]) -> None:
    """Puts `.dvc`-tracked data a stage depends on in place from the cache when it is missing (as
    `dvc checkout` would); data that is not in the cache either stays missing (see `missing_dep_error`)."""
    for dep in stage.deps:
        path = stage.repo_path(dep)
        tracked = graph.tracking_file(ws.pipeline, path)
        if tracked is None:
            continue
        file, out = tracked
        target = ws.project.root / out.path
        if out.hash is None or target.exists():
            continue
        if not ws.cache.has(out.hash):  # After a clone: from the default remote, as `dvc pull` would.
            from pyhelper.core.remotes.transfer import fetch_missing

            fetched = fetch_missing(ws.project, [out.hash])
            if not ws.cache.has(out.hash):
                continue
            on_event(ReproEvent("checkout", stage.name, f"{out.path}: fetched {fetched.moved if fetched else 0} "
                                                        "object(s) from the default remote"))
        ws.cache.checkout(out.hash, target)
        on_event(ReproEvent("checkout", stage.name, f"{out.path} from the cache (tracked by {file.path})"))


def _feeds(stage: Stage, produced: str) -> bool:
    """True when one of the stage's deps is (inside) a path an upstream stage would produce."""
    return any(
        (dep := stage.repo_path(d)) == produced or dep.startswith(produced + "/") or produced.startswith(dep + "/")
        for d in stage.deps
    )


def _restore_from_run_cache(ws: Workspace, stage: Stage, state: StageState, entry: LockEntry | None,
                            on_event: Callable[[ReproEvent], None]) -> bool:
    """Puts a past run's outputs in place when one had the same signature; False when none did."""
    if not stage.outs or stage.always_changed or any(o.persist for o in stage.outs):
        return False
    from pyhelper.core.pipeline.dvc_run_cache import Entry, adopt, lookup

    # Each candidate's outputs, with the DVC entry it came from (None: xp's own record, or the lock).
    candidates: list[tuple[dict[str, HashInfo], Entry | None]] = []
    deps = {p: h.checksum or h.md5 for p, h in state.deps.items()}
    for record in ws.runs.lookup(signature(stage.cmd, deps, state.params)):
        if {o.path for o in record.outs} == {o.path for o in stage.outs}:
            candidates.append(({o.path: o.hash for o in record.outs}, None))
    if entry is not None and state.inputs_match(entry) and set(entry.outs) == {o.path for o in stage.outs}:
        candidates.append((entry.outs, None))  # The lock's own outputs (e.g. written by DVC) count too.
    # DVC's entries under the stage's key (`dvc repro`'s runs here, a teammate's from `fetch --run-cache`).
    candidates.extend((e.lock.outs, e) for e in lookup(ws.project, stage, state.deps, state.params))
    for outs, dvc_entry in candidates:
        if all(ws.cache.has(info) for info in outs.values()):
            if dvc_entry is not None:  # Remembered in xp's run-cache too, for `xp runs list`.
                adopt(ws.runs, dvc_entry, stage, time.time())
            _keep_outs(ws, stage, state)
            for out in stage.outs:
                ws.cache.checkout(outs[out.path], ws.project.root / stage.repo_path(out.path))
            ensure_ignored(ws.project.root, _cached_paths(ws.project.root, stage))
            write_stage(ws.project.root, stage, LockEntry(stage.cmd, state.deps, state.params, outs))
            on_event(ReproEvent("restored", stage.name, "restored from run-cache"))
            return True
    return False


def _save_outs(ws: Workspace, stage: Stage, state: StageState) -> None:
    """Makes sure an up-to-date stage's outputs are in the cache (e.g. after a DVC run)."""
    for out in stage.outs:
        info = state.outs.get(out.path)
        if info is not None and out.cache and not ws.cache.has(info):
            ws.cache.save(ws.project.root / stage.repo_path(out.path), info)


def _keep_outs(ws: Workspace, stage: Stage, state: StageState) -> None:
    """Saves whatever outputs are in the workspace into the cache before they are replaced.

    So an output edited by hand, or produced by a run xp never recorded, is never lost.
    """
    for out in stage.outs:
        info = state.outs.get(out.path)
        if info is not None and not out.persist and not ws.cache.has(info):
            ws.cache.save(ws.project.root / stage.repo_path(out.path), info)


def _keep_legacy(found: dict[str, HashInfo], recorded: dict[str, HashInfo], stage: Stage,
                 root: Path) -> dict[str, HashInfo]:
    """DVC 2's records of unchanged paths kept as they were (DVC 3 only rewrites a path whose content changed)."""
    from pyhelper.core.storage.hashing import same_content

    kept = dict(found)
    for path, info in found.items():
        old = recorded.get(path)
        if old is not None and old.legacy and same_content(info, old, root / stage.repo_path(path)):
            kept[path] = old
    return kept


def _run_stage(ws: Workspace, stage: Stage, state: StageState, on_event: Callable[[ReproEvent], None],
               entry: LockEntry | None = None) -> None:
    """Runs the stage's commands, then caches its outputs and records the run."""
    root = ws.project.root
    on_event(ReproEvent("running", stage.name, "; ".join(state.reasons or ("forced",))))
    _keep_outs(ws, stage, state)
    for out in stage.outs:
        if not out.persist:
            remove(root / stage.repo_path(out.path))
    started = time.monotonic()
    env = dict(os.environ)
    # The stage's `python` is the one xp runs under (as in an activated virtual environment).
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    env.update(ws.env)
    cwd = root / stage.wdir
    for command in stage.commands:
        on_event(ReproEvent("command", stage.name, command))
        _run_command(stage.name, command, cwd, env, on_event)
    duration = time.monotonic() - started
    ws.params.forget()
    after = compute_state(stage, root, None, ws.index, ws.params)
    outs: dict[str, HashInfo] = {}
    recorded: list[RecordedOut] = []
    for out in stage.outs:
        info = after.outs.get(out.path)
        if info is None:
            raise PipelineError(
                f"stage '{stage.name}' did not produce its output '{stage.repo_path(out.path)}'",
                hint=f"make the command write it, or remove it from the stage's outputs in {stage.dvcfile}",
                path=stage.dvcfile,
            )
        # Every output goes into the cache (even `cache: false` ones, which git tracks) so that
        # the run-cache can restore the whole run later.
        ws.cache.save(root / stage.repo_path(out.path), info)
        outs[out.path] = info
        recorded.append(RecordedOut(out.path, out.kind, out.cache, info))
    ensure_ignored(root, _cached_paths(root, stage))
    if entry is not None:
        deps = _keep_legacy(after.deps, entry.deps, stage, root)
        outs = _keep_legacy(outs, entry.outs, stage, root)
    else:
        deps = after.deps
    write_stage(ws.project.root, stage, LockEntry(stage.cmd, deps, after.params, outs))
    ws.runs.record(
        stage=stage.name, cmd=stage.cmd, wdir=stage.wdir,
        deps={p: h.checksum or h.md5 for p, h in after.deps.items()}, params=after.params,
        outs=recorded, duration=duration, metrics=_metrics_of(root, stage),
        dep_meta={p: _meta(h) for p, h in after.deps.items()},
    )
    on_event(ReproEvent("done", stage.name, f"{duration:.2f}s"))


def _meta(info: HashInfo) -> dict[str, Any]:
    """What dvc.lock records of a dependency beside its md5 (for the run-cache entry DVC reads)."""
    meta: dict[str, Any] = {"size": info.size}
    if info.nfiles is not None:
        meta["nfiles"] = info.nfiles
    if info.isexec and not info.isdir:
        meta["isexec"] = True
    return meta


def _run_command(name: str, command: str, cwd: Path, env: dict[str, str],
                 on_event: Callable[[ReproEvent], None]) -> None:
    """Runs one shell command, streaming its output; raises StageFailed on a non-zero exit."""
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    # The command gets a process group of its own, so stopping xp (Ctrl-C, SIGTERM) can stop
    # everything the command started, not just its shell.
    proc = subprocess.Popen(
        command, shell=True, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL, bufsize=1, text=True, errors="replace", start_new_session=True,
    )
    on_event(ReproEvent("started", name, str(proc.pid)))
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.rstrip("\n")
            tail.append(line)
            on_event(ReproEvent("output", name, line))
        code = proc.wait()
    except BaseException:
        stop_group(proc)
        raise
    if code != 0:
        raise StageFailed(name, code, list(tail))




def _metrics_of(root: Path, stage: Stage) -> dict[str, Any]:
    """The flattened values of the stage's metrics files (unreadable files are left out)."""
    from pyhelper.core.values.metrics import read_metrics_file

    values: dict[str, Any] = {}
    for out in stage.outs:
        if out.kind != "metrics":
            continue
        path = stage.repo_path(out.path)
        try:
            for key, value in read_metrics_file(root / path, display=path).items():
                values[f"{path}:{key}"] = value
        except XpError:
            continue
    return values


def _cached_paths(root: Path, stage: Stage) -> list[Path]:
    """The stage's cached outputs as absolute paths: the ones git must ignore."""
    return [root / stage.repo_path(out.path) for out in stage.outs if out.cache]
