"""`xp exp show`: every experiment of the chosen baselines with its params and metrics.

Reads refs and blobs straight from the object database and never checks anything out. Each
distinct blob is parsed once (cached by blob id), so experiments that share files share the
work. A file that cannot be parsed in one experiment becomes an error on that row only.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from pyhelper.core.experiments import notes
from pyhelper.core.git.gitcore import lookup_blob, lookup_commit, native
from pyhelper.core.git.gitrepo import exp_refs, head_commit, open_repo
from pyhelper.core.inside import plain_path
from pyhelper.core.project import Project
from pyhelper.errors import BadInput, StateError, UnknownExperiment, UnknownRevision, XpError

if TYPE_CHECKING:
    import pygit2

    from pyhelper.core.experiments.checkpoint import Checkpoint
    from pyhelper.core.git.refs import ExpRef
    from pyhelper.core.pipeline.collect import Collected, TreeFiles
    from pyhelper.core.queue.db import Entry
    from pyhelper.core.storage.cache import Cache

WORKSPACE = "workspace"
RowKind = Literal["workspace", "baseline", "experiment", "queued", "running", "failed", "checkpoint"]
"""What a row of the experiments table is."""
EXPERIMENT_KINDS: tuple[RowKind, ...] = ("experiment", "queued", "running", "failed")
"""Row kinds listed under a baseline."""
QUEUE_STATUSES = ("running", "queued", "failed")
"""Queue entries shown as rows (successful ones are experiments; cancelled ones are gone)."""


@dataclass(frozen=True)
class Row:
    """One line of the experiments table."""

    kind: RowKind
    """workspace | baseline | experiment | queued | running | failed (these three: queue entries
    without a recorded experiment; their params are the entry's, their metrics empty) | checkpoint
    (listed under its experiment)"""
    name: str
    rev: str
    """Commit id ('workspace' for the workspace)."""
    baseline: str
    created: float | None
    status: str
    message: str = ""
    tags: tuple[str, ...] = ()
    note: str = ""
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Params file → flattened key → value."""
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Metrics file → flattened key → value."""
    deps: dict[str, str] = field(default_factory=dict)
    """Dependency path → md5 (from dvc.lock)."""
    errors: dict[str, str] = field(default_factory=dict)
    """File → why it could not be read in this row."""
    step: int | None = None
    """A checkpoint's step; for an experiment with checkpoints, its newest checkpoint's step."""
    starred: bool = False
    """Starred by a person (`xp exp star`, git notes)."""


@dataclass(frozen=True)
class _Layout:
    """Which files hold params (and which keys) and metrics, per pipeline version."""

    params: dict[str, tuple[str, ...]]
    metrics: tuple[str, ...]
    error: str = ""
    locks: tuple[str, ...] = ("dvc.lock",)
    """The dvc.lock beside each dvc.yaml (repository paths)."""
    pipeline: Any = field(default=None, compare=False)
    """The parsed pipeline (shared by every revision with the same pipeline files)."""

    def metrics_of(self, stage: str) -> tuple[str, ...]:
        """The metrics files a checkpoint of `stage` logged: that stage's own, and those no stage writes.

        A checkpoint's tree is the work tree in the middle of the run: the stages after `stage`
        have not run yet, so the metrics files they write still hold the baseline's (or an earlier
        experiment's) numbers. Those would read as this checkpoint's and are left out.
        """
        if self.pipeline is None:
            return self.metrics
        owners = {s.repo_path(o.path): s.name for s in self.pipeline.stages.values() for o in s.outs
                  if o.kind == "metrics"}
        return tuple(path for path in self.metrics if owners.get(path, stage) == stage)


class RowReader:
    """Parses files of commits and the workspace, each distinct blob once."""

    def __init__(self, project: Project, repo: pygit2.Repository | None, *, param_deps: bool = False):
        self.project = project
        self._repo = repo
        self.param_deps = param_deps
        """Only the params stages depend on; otherwise every key of the project's params.yaml too, as DVC."""
        self._parsed: dict[tuple[str, str], Any] = {}
        self._layouts: dict[tuple[str, ...], _Layout] = {}
        self._cache: Cache | None = None
        self._tree_files: TreeFiles | None = None
        self._ws_files: tuple[list[int | None], Collected] | None = None

    @property
    def repo(self) -> pygit2.Repository:
        """The repository; a reader without one (a project with no commit yet) reads only the workspace."""
        assert self._repo is not None, "a commit's files read without a repository"
        return self._repo

    def _blob(self, tree: pygit2.Tree | None, path: str, *, anywhere: bool = False) -> tuple[str, bytes] | None:
        """(blob id, bytes) of a file in a tree, or of the workspace file when `tree` is None.

        A path dvc.yaml names outside the repository (or in `.git/`, `.xp/`) is never read (None, as DVC
        does), unless `anywhere`: the workspace's own `vars` files, which DVC reads wherever they are.
        """
        if not anywhere and not plain_path(path):
            return None
        if tree is None:
            try:
                data = (self.project.root / path).read_bytes()
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                return None
            return "ws:" + path + ":" + str(hash(data)), data
        try:
            entry = tree[path]
        except KeyError:
            return None
        if entry.type_str != "blob":
            return None
        oid = str(entry.id)
        key = ("raw", oid)
        if key not in self._parsed:
            self._parsed[key] = lookup_blob(self.repo, entry.id).data
        return oid, self._parsed[key]

    def _parse(self, kind: str, blob: tuple[str, bytes], path: str, parse: Callable[[bytes, str], Any]) -> Any:
        key = (kind, blob[0])
        if key not in self._parsed:
            try:
                self._parsed[key] = parse(blob[1], path)
            except XpError as exc:
                self._parsed[key] = exc
        found = self._parsed[key]
        if isinstance(found, XpError):
            raise found
        return found

    def workspace_files(self) -> Collected:
        """The workspace's dvc.yaml and .dvc files, collected once per reader and
        again only when a dvc.yaml of the root changed (a long-lived server reader sees new files)."""
        import posixpath

        from pyhelper.core.pipeline.collect import collect

        # The stats that change when a dvc.yaml or a folder is added or removed where pipelines live.
        known = self._ws_files[1].pipelines if self._ws_files is not None else ()
        folders = {self.project.sub or "."} | {posixpath.dirname(f) or "." for f in known}
        folders |= {posixpath.dirname(f) or "." for f in folders}
        stamp: list[int | None] = []
        for rel in sorted(folders) + [posixpath.join(self.project.sub or ".", "dvc.yaml")]:
            try:
                stamp.append((self.project.root / rel).stat().st_mtime_ns)
            except OSError:
                stamp.append(None)
        if self._ws_files is None or self._ws_files[0] != stamp:
            self._ws_files = (stamp, collect(self.project.root, self.project.sub))
        return self._ws_files[1]

    def pipeline_files(self, tree: pygit2.Tree | None) -> tuple[str, ...]:
        """The project's dvc.yaml files in a tree, or in the workspace when `tree` is None."""
        if tree is None:
            return self.workspace_files().pipelines
        if self._tree_files is None:
            from pyhelper.core.pipeline.collect import TreeFiles

            self._tree_files = TreeFiles(self.repo, self.project.sub)
        return self._tree_files.pipelines(tree)

    def layout(self, tree: pygit2.Tree | None) -> _Layout:
        """Params and metrics files of the pipeline in this tree."""
        from pyhelper.core.values.metrics import metrics_files, params_keys

        files = self.pipeline_files(tree)
        blobs = [(f, b) for f in files if (b := self._blob(tree, f)) is not None]
        if not blobs:
            return _Layout({}, ())
        key: tuple[str, ...] = tuple(b[0] for _, b in blobs)
        default = posixpath.join(self.project.sub, "params.yaml") if self.project.sub else "params.yaml"
        whole_default = not self.param_deps and self._blob(tree, default) is not None
        key += ("whole-params",) if whole_default else ()
        for file, blob in blobs:
            if b"${" in blob[1]:
                vars_blob = self._blob(tree, posixpath.join(posixpath.dirname(file), "params.yaml"))
                key += (vars_blob[0] if vars_blob else "",)
        if key not in self._layouts:
            from pyhelper.core.pipeline.dvcfile import parse_pipeline

            def read(rel: str) -> str | None:
                found = self._blob(tree, rel, anywhere=True)  # In a commit's tree, only the tree is found.
                return found[1].decode("utf-8", errors="replace") if found else None

            try:
                pipeline = parse_pipeline(read, files=[f for f, _ in blobs], sub=self.project.sub)
                params = params_keys(pipeline)
                if whole_default:
                    params = {default: (), **{k: v for k, v in params.items() if k != default}}
                self._layouts[key] = _Layout(params, tuple(metrics_files(pipeline)),
                                             locks=tuple(pipeline.lock_files()), pipeline=pipeline)
            except XpError as exc:
                self._layouts[key] = _Layout({}, (), str(exc))
        return self._layouts[key]

    def params(self, tree: pygit2.Tree | None, layout: _Layout, errors: dict[str, str]) -> dict[str, dict[str, Any]]:
        from pyhelper.core.values.metrics import not_read
        from pyhelper.core.values.params import flatten, get_value, parse_params

        out: dict[str, dict[str, Any]] = {}
        for path, keys in layout.params.items():
            if not_read(path):
                errors[path] = not_read(path)
                continue
            blob = self._blob(tree, path)
            if blob is None:
                errors[path] = "missing"
                continue
            try:
                data = self._parse("params", blob, path, lambda raw, p: parse_params(
                    raw.decode("utf-8", errors="replace"), suffix=posixpath.splitext(p)[1].lower(), display=p))
            except XpError as exc:
                errors[path] = str(exc)
                continue
            if not keys:
                out[path] = flatten(data)
                continue
            values: dict[str, Any] = {}
            for k in keys:
                try:
                    found = get_value(data, k)
                except KeyError:
                    continue
                values.update(flatten(found, k) if isinstance(found, dict) and found else {k: found})
            out[path] = values
        return out

    def lock(self, tree: pygit2.Tree | None, locks: tuple[str, ...] = ("dvc.lock",)) -> dict[str, Any]:
        """Lock entries of a tree from each of `locks` (empty when absent or unreadable), keyed by
        `file:stage` for the locks of subfolder pipelines."""
        from pyhelper.core.pipeline.lockfile import parse_lock

        found: dict[str, Any] = {}
        for lock in locks:
            blob = self._blob(tree, lock)
            if blob is None:
                continue
            try:
                entries = self._parse("lock", blob, lock, lambda raw, p: parse_lock(raw.decode("utf-8"), display=p))
            except XpError:
                continue
            prefix = "" if lock == locks[0] else f"{lock}:"
            found.update({prefix + name: entry for name, entry in entries.items()})
        return found

    def metrics(self, tree: pygit2.Tree | None, layout: _Layout, lock: Callable[[], dict[str, Any]],
                errors: dict[str, str]) -> dict[str, dict[str, Any]]:
        from pyhelper.core.values.metrics import not_read, parse_metrics

        out: dict[str, dict[str, Any]] = {}
        cached: dict[str, str] | None = None
        for path in layout.metrics:
            if not_read(path):
                errors[path] = not_read(path)
                continue
            blob = self._blob(tree, path)
            if blob is None and tree is not None:
                if cached is None:
                    cached = {out_path: info.md5 for entry in lock().values() for out_path, info in entry.outs.items()}
                md5 = cached.get(path)
                data = self._cache_object(md5) if md5 else None
                blob = ("md5:" + md5, data) if md5 and data is not None else None
            if blob is None:
                errors[path] = "missing"
                continue
            try:
                out[path] = self._parse("metrics", blob, path, lambda raw, p: parse_metrics(raw, path=p))
            except XpError as exc:
                errors[path] = str(exc)
        return out

    def _cache_object(self, md5: str) -> bytes | None:
        if self._cache is None:
            from pyhelper.core.storage.cache import Cache

            self._cache = Cache(self.project.cache_dir)
        return self._cache.read(md5)

    def row(self, *, kind: RowKind, name: str, rev: str, baseline: str, created: float | None, status: str,
            tree: pygit2.Tree | None, message: str = "", annotations: notes.Annotations | None = None,
            with_deps: bool = False, with_metrics: bool = True, checkpoint_of: str | None = None) -> Row:
        """One row; `checkpoint_of` names the stage whose checkpoint `tree` is (its metrics: that stage's)."""
        errors: dict[str, str] = {}
        layout = self.layout(tree)
        if checkpoint_of is not None and layout.pipeline is not None:
            layout = replace(layout, metrics=layout.metrics_of(checkpoint_of))
        if layout.error:
            errors["dvc.yaml"] = layout.error
        deps: dict[str, str] = {}
        if with_deps:
            for entry in self.lock(tree, layout.locks).values():
                deps.update({path: info.md5 for path, info in entry.deps.items()})
        annotations = annotations or notes.Annotations()
        return Row(
            kind=kind, name=name, rev=rev, baseline=baseline, created=created, status=status, message=message,
            tags=annotations.tags, note=annotations.note, starred=annotations.starred,
            params=self.params(tree, layout, errors),
            metrics=self.metrics(tree, layout, lambda: self.lock(tree, layout.locks), errors) if with_metrics else {},
            deps=deps, errors=errors,
        )


def _baselines(repo: pygit2.Repository, project: Project, *, all_branches: bool, all_commits: bool,
               num: int, revs: list[str], all_tags: bool = False) -> list[tuple[str, pygit2.Commit]]:
    """(label, commit) of each baseline to show, HEAD first."""
    git = native()
    head = head_commit(repo, project)
    chosen: list[tuple[str, pygit2.Commit]] = []
    label = repo.head.shorthand if not repo.head_is_detached else str(head.id)[:7]
    if revs:
        for rev in revs:
            try:
                commit = repo.revparse_single(rev).peel(git.Commit)
            except (KeyError, ValueError, git.GitError):
                raise UnknownRevision(f"unknown revision '{rev}'",
                                      hint="use a commit id, a branch or tag name, or HEAD~N") from None
            chosen.append((rev, commit))
        return chosen
    if not (all_tags and not all_branches and not all_commits and num == 1):  # -T alone: the tags (DVC's rule).
        chosen.append((label, head))
    if num > 1:
        commit = head
        for _ in range(num - 1):
            if not commit.parents:
                break
            commit = commit.parents[0]
            chosen.append((str(commit.id)[:7], commit))
    if all_branches:
        for branch in repo.branches.local:
            commit = repo.branches.local[branch].peel(git.Commit)
            chosen.append((branch, commit))
    if all_tags:
        tags = sorted(r.name for r in repo.references.iterator() if r.name.startswith("refs/tags/"))
        for name in tags:
            try:
                chosen.append((name[len("refs/tags/"):], repo.revparse_single(name).peel(git.Commit)))
            except (KeyError, ValueError, git.GitError):
                continue  # A tag of something other than a commit.
    if all_commits:
        for commit in repo.walk(head.id, git.GIT_SORT_TIME):
            chosen.append((str(commit.id)[:7], commit))
    seen: set[str] = set()
    unique = []
    for item in chosen:
        if str(item[1].id) not in seen:
            seen.add(str(item[1].id))
            unique.append(item)
    return unique


def show(project: Project, *, all_branches: bool = False, all_commits: bool = False, num: int = 1,
         revs: list[str] | None = None, with_deps: bool = False, include_workspace: bool = True,
         include_queue: bool = True, reader: RowReader | None = None, checkpoints: bool = True,
         param_deps: bool = False, all_tags: bool = False) -> list[Row]:
    """Rows grouped by baseline: the workspace (for HEAD), each baseline, then its experiments by time,
    then its running, queued and failed queue entries in queue order.

    A long-lived caller (the language server) passes its own `reader`, so blobs parsed by one
    call are not parsed again by the next. Each experiment's checkpoints (newest first) follow it,
    unless `checkpoints` is False. A queue entry whose experiment already has checkpoints is that
    experiment's row (running, or failed at its step), not a row of its own.
    """
    from pyhelper.core.experiments.checkpoint import live_runs
    if num < 1:
        raise BadInput(f"-n must be at least 1 (got {num})", hint="pass -n 1 for HEAD only")
    repo = reader.repo if reader is not None else open_repo(project)
    reader = reader or RowReader(project, repo, param_deps=param_deps)
    annotations = notes.read_all(repo)
    baselines = _baselines(repo, project, all_branches=all_branches, all_commits=all_commits, num=num,
                           revs=revs or [], all_tags=all_tags)
    by_baseline: dict[str, list[tuple[ExpRef, str]]] = {}
    for ref, rev in exp_refs(repo):
        by_baseline.setdefault(ref.baseline, []).append((ref, rev))
    queued, queue_error = _queue_entries(project) if include_queue else ({}, "")
    head = str(repo.head.target)
    running = live_runs(project)
    rows: list[Row] = []
    for label, commit in baselines:
        baseline = str(commit.id)
        if include_workspace and baseline == head and not revs:
            rows.append(reader.row(kind="workspace", name=WORKSPACE, rev=WORKSPACE, baseline=baseline,
                                   created=None, status="", tree=None, with_deps=with_deps))
        rows.append(reader.row(kind="baseline", name=label, rev=baseline, baseline=baseline,
                               created=float(commit.commit_time), status="", tree=commit.tree,
                               message=commit.message.strip(), annotations=annotations.get(baseline),
                               with_deps=with_deps))
        if queue_error and baseline == head:
            rows[-1].errors[".xp/queue.db"] = queue_error
        exps = []
        for ref, rev in by_baseline.get(baseline, []):
            try:
                exp_commit = lookup_commit(repo, rev)
                row = reader.row(kind="experiment", name=ref.name, rev=rev, baseline=baseline,
                                 created=float(exp_commit.commit_time), status="success", tree=exp_commit.tree,
                                 message=exp_commit.message.strip(), annotations=annotations.get(rev),
                                 with_deps=with_deps)
                exps.append(_with_checkpoints(reader, ref, row, running.get(str(ref)), checkpoints, with_deps))
            except missing_object_errors():
                # A commit (or a checkpoint below it, or a file of its tree) deleted or pruned by `git gc`:
                # this experiment's row says so, and the others are read as usual.
                exps.append([_broken_row(ref.name, rev, baseline)])
        exps.sort(key=lambda group: (group[0].created or 0, group[0].name))
        rows.extend(row for group in exps for row in group)
        unfinished = {group[0].name: group[0] for group in exps if group[0].status in ("running", "failed")}
        for entry in queued.get(baseline, []):
            if entry.name in unfinished:
                if entry.status == "running" and unfinished[entry.name].status == "failed":
                    # A run on another machine (the Redis queue): no live file here, its entry says it runs.
                    at = next(i for i, r in enumerate(rows) if r is unfinished[entry.name])
                    rows[at] = unfinished[entry.name] = replace(rows[at], status="running")
                if entry.error:
                    unfinished[entry.name].errors["queue"] = entry.error
                continue
            entry_commit = repo.get(entry.rev)
            kind: RowKind = ("running" if entry.status == "running" else "queued" if entry.status == "queued"
                             else "failed")
            row = reader.row(kind=kind, name=entry.name, rev=entry.rev, baseline=baseline,
                             created=entry.created, status=entry.status,
                             tree=entry_commit.tree if entry_commit is not None else None,
                             message=entry.message, with_deps=with_deps, with_metrics=False)
            if entry.error:
                row.errors["queue"] = entry.error
            rows.append(row)
    return rows


def missing_object_errors() -> tuple[type[Exception], ...]:
    """What pygit2 raises when an object is not in the object database: KeyError (`repo[id]`), GitError
    (`commit.tree`, "Unable to read tree")."""
    return (KeyError, native().GitError)


def missing_objects(name: str, rev: str) -> StateError:
    """The error for an experiment whose commit, a checkpoint below it or a file of its tree is gone from git."""
    return StateError(f"experiment '{name}' ({rev[:7]}) is broken: objects of its commit are missing from "
                      "git's object database (deleted, or pruned by `git gc`)",
                      hint=f"remove it with `xp exp remove {name}`")


def _broken_row(name: str, rev: str, baseline: str) -> Row:
    """The row of an experiment that cannot be read: its name and commit, and the error naming the fix."""
    error = missing_objects(name, rev).one_line()
    return Row(kind="experiment", name=name, rev=rev, baseline=baseline, created=None, status="broken",
               errors={"git": error})


def _with_checkpoints(reader: RowReader, ref: ExpRef, row: Row, running: dict[str, Any] | None, listed: bool,
                      with_deps: bool) -> list[Row]:
    """The experiment's row (running, or failed at its step, while its ref is on a checkpoint) and its checkpoints'.

    A running experiment's metrics are read from its work tree, so they are those of its newest step
    (which `pyhelper.live` writes at every step), not only of its newest checkpoint.
    """
    import dataclasses
    from pathlib import Path

    from pyhelper.core.experiments.checkpoint import chain

    found = chain(reader.repo, ref, row.rev)
    if not found:
        return [row]
    unfinished = found[0].rev == row.rev
    status = ("running" if running else "failed") if unfinished else row.status
    out = [dataclasses.replace(row, status=status, step=found[0].step)]
    if unfinished and running and Path(str(running.get("root"))).is_dir():
        live = RowReader(reader.project.in_workspace(Path(running["root"])), reader.repo)
        current = live.row(kind=row.kind, name=row.name, rev=row.rev, baseline=row.baseline, created=row.created,
                           status=status, tree=None, with_deps=with_deps)
        out[0] = dataclasses.replace(out[0], metrics=current.metrics, errors=current.errors)
    if listed:
        out.extend(_checkpoint_rows(reader, found, row.baseline, with_deps))
    return out


def _checkpoint_rows(reader: RowReader, found: list[Checkpoint], baseline: str, with_deps: bool) -> list[Row]:
    """A row per checkpoint of a chain (newest first), each with the params and metrics of its commit."""
    import dataclasses

    rows = []
    for checkpoint in found:
        commit = lookup_commit(reader.repo, checkpoint.rev)
        rows.append(dataclasses.replace(reader.row(
            kind="checkpoint", name=checkpoint.name, rev=checkpoint.rev, baseline=baseline,
            created=float(commit.commit_time), status="", tree=commit.tree,
            message=commit.message.strip().split("\n", 1)[0], with_deps=with_deps, checkpoint_of=checkpoint.stage),
            step=checkpoint.step))
    return rows


def checkpoint_rows(reader: RowReader, name: str, baseline: str | None = None) -> list[Row]:
    """The checkpoint rows (newest first) of experiment `name` (of `baseline` when given); [] when it has none.

    What the editor asks for when an experiment is expanded, so a table of a thousand experiments
    with twenty checkpoints each is not twenty thousand rows up front.
    """
    from pyhelper.core.experiments.checkpoint import chain

    if baseline is not None:
        git = native()
        try:
            baseline = str(reader.repo.revparse_single(baseline).peel(git.Commit).id)
        except (KeyError, ValueError, git.GitError):
            raise UnknownRevision(f"unknown baseline '{baseline}'", hint="pass a commit, branch or tag") from None
    for ref, rev in exp_refs(reader.repo):
        if ref.name == name and (baseline is None or ref.baseline == baseline):
            try:
                return _checkpoint_rows(reader, chain(reader.repo, ref, rev), ref.baseline, False)
            except missing_object_errors():
                raise missing_objects(name, rev) from None
    raise UnknownExperiment(f"no experiment '{name}'" + (f" of baseline {baseline[:7]}" if baseline else ""),
                            hint="list experiments with `xp exp show`")


def _queue_entries(project: Project) -> tuple[dict[str, list[Entry]], str]:
    """Running, queued and failed queue entries by baseline, and why the queue could not be read."""
    try:
        entries: Sequence[Entry] | None = None
        if (project.xp_dir / "config").is_file():  # Perhaps the queue on Redis (imported only then).
            from pyhelper.core.queue.redis_backend import configured_entries

            entries = configured_entries(project)
        if entries is None:
            if not (project.xp_dir / "queue.db").exists():
                return {}, ""  # Nothing was ever queued: no database is created just to show nothing.
            from pyhelper.core.queue.manage import state

            entries = state(project).entries
    except XpError as exc:
        return {}, f"{exc}" + (f" — {exc.hint}" if exc.hint else "")
    by_baseline: dict[str, list[Entry]] = {}
    for status in QUEUE_STATUSES:
        for entry in entries:
            if entry.status == status:
                by_baseline.setdefault(entry.baseline, []).append(entry)
    return by_baseline, ""
