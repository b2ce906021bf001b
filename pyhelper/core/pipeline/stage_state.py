"""What a stage's dependencies, params and outputs are now, and why the stage is out of date.

A stage is up to date when its command, dependency hashes, params values and output hashes all
match its dvc.lock entry (DVC 3's rule). Hashes come through the stat index, so checking an
unchanged pipeline hashes nothing.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyhelper.core.pipeline.lockfile import LockEntry
from pyhelper.core.pipeline.stage import Stage, is_url
from pyhelper.core.storage.hashing import HashInfo, StatIndex, same_content
from pyhelper.core.values.params import get_value, load_params, missing_key_error


@dataclass(frozen=True)
class StageState:
    """A stage's current inputs and outputs, and the reasons it must run (empty: up to date)."""

    stage: Stage
    deps: dict[str, HashInfo]
    """Dependency path (as written) to its current hash."""
    params: dict[str, dict[str, Any]]
    """Params file (as written) to the current values of the keys the stage reads."""
    outs: dict[str, HashInfo | None]
    """Output path (as written) to its current hash, None when missing."""
    reasons: tuple[str, ...]
    missing: tuple[str, ...] = ()
    """Dependencies (as written) that do not exist and that no upstream stage will produce."""

    @property
    def changed(self) -> bool:
        """True when the stage must run (or be restored)."""
        return bool(self.reasons)

    def inputs_match(self, entry: LockEntry | None) -> bool:
        """True when command, deps and params equal the lock entry's (outputs aside)."""
        return (
            entry is not None
            and entry.cmd == self.stage.cmd
            and ({p: h.checksum or h.md5 for p, h in self.deps.items()}
                 == {p: h.checksum or h.md5 for p, h in entry.deps.items()})
            and _normal(self.params) == _normal(entry.params)
        )


class ParamsReader:
    """Loads each params file once per operation."""

    def __init__(self, root: Path):
        self.root = root
        self._files: dict[str, dict[str, Any]] = {}

    def values(self, stage: Stage) -> dict[str, dict[str, Any]]:
        """The values of every params key the stage reads, by file (as written in dvc.yaml)."""
        out: dict[str, dict[str, Any]] = {}
        for dep in stage.params:
            repo_path = stage.repo_path(dep.file)
            if repo_path not in self._files:
                self._files[repo_path] = load_params(self.root / repo_path, display=repo_path)
            data = self._files[repo_path]
            if not dep.keys:
                out[dep.file] = dict(data)
                continue
            values: dict[str, Any] = {}
            for key in dep.keys:
                try:
                    values[key] = get_value(data, key)
                except KeyError:
                    error = missing_key_error(key, data, display=repo_path)
                    error.message += f" (stage '{stage.name}' in dvc.yaml depends on it)"
                    raise error from None
            out[dep.file] = values
        return out

    def forget(self) -> None:
        """Drops loaded files (after a command may have changed them)."""
        self._files.clear()


def compute_state(
    stage: Stage,
    root: Path,
    entry: LockEntry | None,
    index: StatIndex,
    params: ParamsReader,
    *,
    will_produce: AbstractSet[str] = frozenset(),
) -> StageState:
    """Hashes the stage's deps and outs and compares everything with its lock entry.

    `will_produce` holds repository paths that an upstream stage would create (in a dry run), so a
    dependency missing for that reason is "changed", not an error.
    """
    deps: dict[str, HashInfo] = {}
    reasons: list[str] = []
    missing: list[str] = []
    for dep in stage.deps:
        if is_url(dep):
            from pyhelper.core.storage.urls import check

            found = check(dep)  # Never hashed as a local path: one HEAD request (see `urls`).
            if found.info is None:
                reasons.append(f"dependency '{dep}' could not be checked: {found.problem}")
                missing.append(dep)
            else:
                deps[dep] = found.info
            continue
        repo_path = stage.repo_path(dep)
        info = index.hash_path(root / repo_path)
        if info is None:
            if any(repo_path == p or repo_path.startswith(p + "/") for p in will_produce):
                reasons.append(f"dependency '{dep}' will be produced by an upstream stage")
                continue
            reasons.append(f"dependency '{repo_path}' is missing")
            missing.append(dep)
            continue
        deps[dep] = info
    values = params.values(stage)
    outs = {out.path: index.hash_path(root / stage.repo_path(out.path)) for out in stage.outs}

    if stage.always_changed:
        reasons.append("always_changed is set")
    elif is_callback(stage):
        reasons.append("always changed: the stage has no dependencies and no outputs")
    if entry is None:
        reasons.append("not in dvc.lock yet")
    else:
        if entry.cmd != stage.cmd:
            reasons.append("command changed")
        for path in sorted(set(deps) | set(entry.deps)):
            if path in missing:
                continue
            if path not in entry.deps:
                reasons.append(f"dependency '{path}' is new")
            elif path not in deps:
                reasons.append(f"dependency '{path}' was removed")
            elif deps[path].checksum is not None or entry.deps[path].checksum is not None:
                if deps[path].checksum != entry.deps[path].checksum:
                    reasons.append(f"dependency '{path}' modified")
            elif not same_content(deps[path], entry.deps[path], root / stage.repo_path(path)):
                reasons.append(f"dependency '{path}' modified")
        for file in sorted(set(values) | set(entry.params)):
            now, then = values.get(file, {}), entry.params.get(file, {})
            for key in sorted(set(now) | set(then)):
                if key not in then:
                    reasons.append(f"param '{key}' ({file}) is new")
                elif key not in now:
                    reasons.append(f"param '{key}' ({file}) was removed")
                elif _normal(now[key]) != _normal(then[key]):
                    reasons.append(f"param '{key}' ({file}) modified")
        for path in sorted(set(outs) | set(entry.outs)):
            if path not in entry.outs:
                reasons.append(f"output '{path}' is new")
            elif path not in outs:
                reasons.append(f"output '{path}' was removed from dvc.yaml")
            elif outs[path] is None:
                reasons.append(f"output '{path}' is missing")
            elif not same_content(outs[path], entry.outs[path], root / stage.repo_path(path)):
                reasons.append(f"output '{path}' modified")
    return StageState(stage=stage, deps=deps, params=values, outs=outs, reasons=tuple(reasons),
                      missing=tuple(missing))



def is_callback(stage: Stage) -> bool:
    """DVC's callback stage: a command with no deps, params or outputs runs every time."""
    return not stage.deps and not stage.params and not stage.outs


def _normal(value: Any) -> Any:
    """Values compared as DVC compares them (a tuple equals the list it came from)."""
    if isinstance(value, tuple):
        return [_normal(v) for v in value]
    if isinstance(value, list):
        return [_normal(v) for v in value]
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    return value

