"""`xp status`: which stages and `.dvc` files are out of date and why, without running anything.

Two views of the same check: xp's reasons (one sentence each, upstream changes followed through
the graph) and DVC's own shape (`dvc status --json`: per stage or `.dvc` file, `changed deps`,
`changed outs`, `always changed`, `changed command`, each stage judged on its own), so scripts
written against DVC read xp's JSON unchanged. A missing input is reported, never fatal: a fresh
clone without its data still gets an answer.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyhelper.core.pipeline import graph
from pyhelper.core.pipeline.dvcdata import DataFile
from pyhelper.core.pipeline.lockfile import LockEntry, read_locks
from pyhelper.core.pipeline.stage import Stage, is_url
from pyhelper.core.pipeline.stage_state import ParamsReader, compute_state, is_callback
from pyhelper.core.project import Project
from pyhelper.core.storage.cache import Cache
from pyhelper.core.storage.hashing import HashInfo, StatIndex, same_content
from pyhelper.errors import XpError

Change = str | dict[str, dict[str, Any]]
"""One item of DVC's status list: `always changed`, `changed command`, or
{"changed deps"|"changed outs": {path: state}}."""


@dataclass(frozen=True)
class StageStatus:
    """One stage (or `.dvc` file) and why it is out of date (no reasons: up to date)."""

    stage: str
    """The stage's address (`train`, `sub/dvc.yaml:train`) or the `.dvc` file's path."""
    reasons: tuple[str, ...]
    frozen: bool = False
    changes: tuple[Change, ...] = ()
    """DVC's view of the same stage (`dvc status --json`'s list for it)."""
    kind: str = "stage"
    """`stage` or `data` (a `.dvc` file)."""


def status(project: Project, targets: list[str] | None = None, *, with_deps: bool = False,
           recursive: bool = False) -> list[StageStatus]:
    """Every considered stage, upstream first, then the `.dvc` files, with the reasons each would run.

    As DVC: without targets, every stage; with targets, those alone (`with_deps`: and what they
    depend on; `recursive`: targets are folders).
    """
    root = project.root
    project.require_pipeline()
    pipeline = project.pipeline()
    selection = graph.Selection(single_item=not with_deps, recursive=recursive)
    stages = graph.select(pipeline, root, targets, selection, check=False)
    data = graph.data_targets(pipeline, targets)
    lock = read_locks(root, pipeline)
    index = StatIndex(project.ensure_xp_dir() / "index.db")
    index.use_dvcignore(project.project_root)
    cache = Cache(project.cache_dir, index)
    params = ParamsReader(root)
    view = _DvcView(root, project.sub, index, cache)
    out: list[StageStatus] = []
    stale: set[str] = set()
    try:
        for stage in stages:
            entry = lock.get(stage.name)
            changes = tuple(view.stage(stage, entry))
            if stage.frozen:
                out.append(StageStatus(stage.name, (), frozen=True, changes=changes))
                continue
            try:
                state = compute_state(stage, root, entry, index, params, will_produce=stale)
                reasons = list(state.reasons)
                changed = state.changed
            except XpError as exc:
                reasons, changed = [exc.one_line()], True
            if changed:
                stale.update(stage.repo_path(o.path) for o in stage.outs)
            out.append(StageStatus(stage.name, tuple(reasons), changes=changes))
        for file in data:
            changes = tuple(view.data(file))
            why = tuple(f"{path} {state}" for item in changes if isinstance(item, dict)
                        for section in item.values() for path, state in section.items())
            out.append(StageStatus(view.rel(file.path), why, frozen=file.frozen, changes=changes, kind="data"))
    finally:
        index.close()
    return out


def as_dvc_json(result: list[StageStatus]) -> dict[str, list[Change]]:
    """`dvc status --json`: only what changed, by stage address or `.dvc` file."""
    return {item.stage: list(item.changes) for item in result if item.changes}


class _DvcView:
    """A stage's status computed as DVC 3.67's `Stage.status()` computes it."""

    def __init__(self, root: Path, sub: str, index: StatIndex, cache: Cache):
        self.root = root
        self.sub = sub
        self.index = index
        self.cache = cache
        self._params: dict[str, dict[str, Any] | None] = {}

    def rel(self, repo_path: str) -> str:
        """A repository path as DVC prints it: relative to the project's folder, or absolute when outside."""
        if posixpath.isabs(repo_path) or repo_path == ".." or repo_path.startswith("../"):
            import os

            return os.path.normpath(os.path.join(self.root, repo_path))
        return posixpath.relpath(repo_path, self.sub) if self.sub else repo_path

    def stage(self, stage: Stage, entry: LockEntry | None) -> list[Change]:
        ret: list[Change] = []
        if not stage.frozen:
            deps: dict[str, Any] = {}
            for dep in stage.deps:
                path = stage.repo_path(dep)
                recorded = entry.deps.get(dep) if entry else None
                if is_url(dep):
                    from pyhelper.core.storage.urls import check

                    found = check(dep).info
                    if found is None:
                        deps[dep] = "deleted"
                    elif recorded is None or recorded.checksum != found.checksum:
                        deps[dep] = "modified"
                    continue
                now = self.index.hash_path(self.root / path)
                if now is None:
                    deps[self.rel(path)] = "deleted"
                elif not same_content(now, recorded, self.root / path):
                    deps[self.rel(path)] = "modified"
            for params in stage.params:
                self._params_status(stage, params.file, params.keys, entry, deps)
            if deps:
                ret.append({"changed deps": deps})
        outs: dict[str, Any] = {}
        for out in stage.outs:
            path = stage.repo_path(out.path)
            recorded = entry.outs.get(out.path) if entry else None
            state = self._out_state(path, recorded, out.cache)
            if state:
                outs[self.rel(path)] = state
        if outs:
            ret.append({"changed outs": outs})
        if stage.always_changed or is_callback(stage):
            ret.append("always changed")
        if entry is not None and entry.cmd != stage.cmd:
            ret.append("changed command")
        return ret

    def data(self, file: DataFile) -> list[Change]:
        outs: dict[str, Any] = {}
        for out in file.outs:
            state = self._out_state(out.path, out.hash, out.cache)
            if state:
                outs[self.rel(out.path)] = state
        return [{"changed outs": outs}] if outs else []

    def _out_state(self, path: str, recorded: HashInfo | None, use_cache: bool) -> str | None:
        if recorded is not None and use_cache and not self.cache.has(recorded):
            return "not in cache"
        now = self.index.hash_path(self.root / path)
        if now is None:
            return "deleted"
        if not same_content(now, recorded, self.root / path):
            return "modified"
        return None

    def _params_status(self, stage: Stage, file: str, keys: tuple[str, ...], entry: LockEntry | None,
                       into: dict[str, Any]) -> None:
        from pyhelper.core.values.params import get_value, load_params

        path = stage.repo_path(file)
        if path not in self._params:
            try:
                self._params[path] = load_params(self.root / path, display=path) \
                    if (self.root / path).is_file() else None
            except XpError:
                self._params[path] = None
        data = self._params[path]
        shown = self.rel(path)
        if data is None:
            into[shown] = "deleted"
            return
        recorded = entry.params.get(file) if entry else None
        if recorded is None:
            into[shown] = "new"
            return
        names = list(keys) or list(dict.fromkeys([*data.keys(), *recorded.keys()]))
        found: dict[str, str] = {}
        for name in names:
            try:
                value = get_value(data, name) if keys else data[name]
            except KeyError:
                found[name] = "deleted"
                continue
            if name not in recorded:
                found[name] = "new"
            elif _normal(value) != _normal(recorded[name]):
                found[name] = "modified"
        if found:
            into[shown] = found


def _normal(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_normal(v) for v in value]
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    return value
