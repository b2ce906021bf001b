"""Metrics and params across revisions: `xp metrics show`, `xp metrics diff`, `xp params diff`.

Which files hold metrics and params comes from dvc.yaml (stage `metrics`/`params` and the
top-level sections); one outside the repository is never read (`not_read`). A file's content at a
revision comes from git, or — for an output git does not track — from the object cache through that
revision's dvc.lock. A file that cannot be read or parsed becomes an error on its own row; the rest
of the table is still shown.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeGuard

from pyhelper.core.pipeline.stage import Pipeline
from pyhelper.core.project import Project
from pyhelper.core.values.params import flatten, get_value, parse_params
from pyhelper.core.values.revisions import WORKSPACE, Revisions
from pyhelper.errors import BadInput, XpError


@dataclass(frozen=True)
class FileValues:
    """The values found in one file at one revision (or why there are none)."""

    path: str
    values: dict[str, Any]
    error: str = ""
    raw: Any = None
    """The file's values as DVC shows them (nested; numbers, strings and booleans; lists dropped), for
    metrics files; None for params files and files that could not be read."""


@dataclass(frozen=True)
class DiffRow:
    """One key compared between two revisions."""

    path: str
    key: str
    old: Any
    new: Any
    change: float | None
    """new - old for numbers; None otherwise."""


@dataclass(frozen=True)
class Diff:
    """Rows of a diff and the two revisions they compare."""

    a: str
    b: str
    rows: tuple[DiffRow, ...]
    errors: tuple[FileValues, ...] = ()
    old: tuple[FileValues, ...] = ()
    """Every file at `a` (what the rows were computed from)."""
    new: tuple[FileValues, ...] = ()
    """Every file at `b`."""


def read_metrics_file(path: Path, *, display: str) -> dict[str, Any]:
    """The flattened numeric (and boolean) values of a JSON/YAML/TOML metrics file on disk."""
    return parse_metrics(path.read_bytes(), path=display)


def parse_metrics(data: bytes, *, path: str) -> dict[str, Any]:
    """Flattened numeric (and boolean) values of metrics file content."""
    return _numbers(_parse_metrics_file(data, path))


def _parse_metrics_file(data: bytes, path: str) -> Any:
    suffix = Path(path).suffix.lower()
    if suffix not in (".json", ".yaml", ".yml", ".toml"):
        suffix = ".yaml"  # YAML reads JSON too.
    return parse_params(data.decode("utf-8", errors="replace"), suffix=suffix, display=path)


def _numbers(parsed: Any) -> dict[str, Any]:
    return {k: v for k, v in flatten(parsed).items() if isinstance(v, (int, float, bool))}


def dvc_values(metrics: Any) -> Any:
    """A metrics file's content as DVC 3 shows it: numbers, strings and booleans kept, nested;
    lists, nulls and empty mappings dropped (DVC's `_extract_metrics`)."""
    if isinstance(metrics, (int, float, str)):
        return metrics
    if not isinstance(metrics, dict):
        return None
    found = {}
    for key, value in metrics.items():
        kept = dvc_values(value)
        if kept not in (None, {}):
            found[key] = kept
    return found


def dvc_diff(old: list[FileValues] | tuple[FileValues, ...], new: list[FileValues] | tuple[FileValues, ...],
             *, with_unchanged: bool, raw: bool) -> dict[str, dict[str, dict[str, Any]]]:
    """`dvc params diff --json` / `dvc metrics diff --json`: file → flattened key → {old, new[, diff]}."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for before, after in zip(old, new, strict=True):
        va = _lists_as_text(flatten(before.raw) if raw and isinstance(before.raw, dict) else before.values)
        vb = _lists_as_text(flatten(after.raw) if raw and isinstance(after.raw, dict) else after.values)
        entries: dict[str, dict[str, Any]] = {}
        for key in dict.fromkeys([*va, *vb]):
            entry = dvc_diff_entry(va.get(key), vb.get(key), with_unchanged)
            if entry:
                entries[key] = entry
        if entries:
            out[before.path] = entries
    return out


def _lists_as_text(values: dict[str, Any]) -> dict[str, Any]:
    """Lists as Python writes them (`[8, 4]`), as DVC's `format_dict` turns them before diffing."""
    return {k: str(_plain(v)) if isinstance(v, list) else v for k, v in values.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def dvc_diff_entry(old: Any, new: Any, with_unchanged: bool) -> dict[str, Any]:
    """One value compared as DVC's `_diff_vals` does (a `diff` for two numbers, booleans included)."""
    if isinstance(new, list) and isinstance(old, list) and len(old) == len(new) == 1:
        return dvc_diff_entry(old[0], new[0], with_unchanged)
    if not with_unchanged and old == new:
        return {}
    entry: dict[str, Any] = {"old": old, "new": new}
    if isinstance(new, (int, float)) and isinstance(old, (int, float)):
        entry["diff"] = new - old
    return entry


class _Reader:
    """Reads tracked files at revisions, falling back to the cache through dvc.lock."""

    def __init__(self, project: Project):
        self.project = project
        self.revs = Revisions(project)
        self.pipeline: Pipeline = project.pipeline()
        self._locks: dict[str, dict[str, str]] = {}

    def resolve(self, rev: str) -> str:
        if rev != WORKSPACE:
            self.project.require_commits()
        return self.revs.resolve(rev)

    def _cached_outs(self, rev: str) -> dict[str, str]:
        """Repository path -> md5 of every output in the revision's dvc.lock."""
        if rev not in self._locks:
            from pyhelper.core.pipeline.lockfile import parse_lock

            outs: dict[str, str] = {}
            text = self.revs.read(rev, "dvc.lock")
            if text:
                try:
                    entries = parse_lock(text.decode("utf-8"))
                except XpError:
                    entries = {}
                for name, entry in entries.items():
                    stage = self.pipeline.stages.get(name)
                    for path, info in entry.outs.items():
                        outs[stage.repo_path(path) if stage else path] = info.md5
            self._locks[rev] = outs
        return self._locks[rev]

    def read(self, rev: str, path: str) -> bytes | None:
        data = self.revs.read(rev, path)
        if data is None and rev != WORKSPACE:
            md5 = self._cached_outs(rev).get(path)
            if md5 and not md5.endswith(".dir"):
                from pyhelper.core.storage.cache import Cache

                data = Cache(self.project.cache_dir).read(md5)
        return data

    def close(self) -> None:
        self.revs.close()


def metrics_files(pipeline: Pipeline) -> list[str]:
    """Every metrics file the pipeline declares (repository paths), in order."""
    files: list[str] = []
    for stage in pipeline.stages.values():
        files.extend(stage.repo_path(o.path) for o in stage.outs if o.kind == "metrics")
    files.extend(pipeline.metrics)
    return list(dict.fromkeys(files))


def params_keys(pipeline: Pipeline) -> dict[str, tuple[str, ...]]:
    """Params file (repository path) -> keys the stages read (empty tuple: the whole file)."""
    keys: dict[str, tuple[str, ...]] = {}
    for stage in pipeline.stages.values():
        for dep in stage.params:
            path = stage.repo_path(dep.file)
            if path in keys and keys[path] == ():
                continue
            keys[path] = () if not dep.keys else tuple(dict.fromkeys(keys.get(path, ()) + dep.keys))
    for path in pipeline.params:
        keys[path] = ()
    return keys


def not_read(path: str) -> str:
    """The error of a metrics or params file that dvc.yaml names outside the repository, or '' for one inside.

    Such a file is never read, in the workspace or at any revision (DVC does not read it either):
    a pulled experiment's dvc.yaml could otherwise show any file of the machine.
    """
    from pyhelper.core.inside import not_plain, plain_path

    return "" if plain_path(path) else f"'{path}' is {not_plain(path)}: xp does not read it"


def _metrics_at(reader: _Reader, rev: str, files: list[str]) -> list[FileValues]:
    out = []
    for path in files:
        if not_read(path):
            out.append(FileValues(path, {}, not_read(path)))
            continue
        data = reader.read(rev, path)
        if data is None:
            out.append(FileValues(path, {}, "missing" if rev == WORKSPACE else f"not in {rev}"))
            continue
        try:
            parsed = _parse_metrics_file(data, path)
            out.append(FileValues(path, _numbers(parsed), raw=dvc_values(parsed)))
        except BadInput as exc:
            out.append(FileValues(path, {}, str(exc)))
    return out


def _params_at(reader: _Reader, rev: str, files: dict[str, tuple[str, ...]]) -> list[FileValues]:
    out = []
    for path, keys in files.items():
        if not_read(path):
            out.append(FileValues(path, {}, not_read(path)))
            continue
        data = reader.read(rev, path)
        if data is None:
            out.append(FileValues(path, {}, "missing" if rev == WORKSPACE else f"not in {rev}"))
            continue
        try:
            parsed = parse_params(data.decode("utf-8", errors="replace"), suffix=Path(path).suffix.lower(),
                                  display=path)
        except BadInput as exc:
            out.append(FileValues(path, {}, str(exc)))
            continue
        if not keys:
            out.append(FileValues(path, flatten(parsed)))
            continue
        values: dict[str, Any] = {}
        for key in keys:
            try:
                found = get_value(parsed, key)
            except KeyError:
                continue
            values.update(flatten(found, key) if isinstance(found, dict) else {key: found})
        out.append(FileValues(path, values))
    return out


def show_metrics(project: Project, rev: str = WORKSPACE) -> list[FileValues]:
    """The metrics of every metrics file at a revision (default: the workspace)."""
    reader = _Reader(project)
    try:
        resolved = reader.resolve(rev)
        return _metrics_at(reader, resolved, metrics_files(reader.pipeline))
    finally:
        reader.close()


def diff_metrics(project: Project, a: str = "HEAD", b: str = WORKSPACE, *, all_rows: bool = False) -> Diff:
    """Metrics that differ between two revisions (all of them with `all_rows`)."""
    reader = _Reader(project)
    try:
        ra, rb = reader.resolve(a), reader.resolve(b)
        files = metrics_files(reader.pipeline)
        old, new = _metrics_at(reader, ra, files), _metrics_at(reader, rb, files)
        return replace(diff_values(a, b, old, new, all_rows), old=tuple(old), new=tuple(new))
    finally:
        reader.close()


def diff_params(project: Project, a: str = "HEAD", b: str = WORKSPACE, *, all_rows: bool = False,
                deps_only: bool = False, targets: list[str] | None = None) -> Diff:
    """Params that differ between two revisions (all of them with `all_rows`).

    As DVC: the params the stages read, and every key of the project's own `params.yaml`
    (only the stages' with `deps_only`); `targets` limits it to those params files.
    """
    import posixpath

    reader = _Reader(project)
    try:
        ra, rb = reader.resolve(a), reader.resolve(b)
        files = params_keys(reader.pipeline)
        if not deps_only:
            default = posixpath.join(project.sub, "params.yaml") if project.sub else "params.yaml"
            if reader.read(ra, default) is not None or reader.read(rb, default) is not None:
                files[default] = ()
        if targets:
            wanted = {posixpath.normpath(posixpath.join(project.sub, t)) if project.sub else posixpath.normpath(t)
                      for t in targets}
            files = {path: keys for path, keys in files.items() if path in wanted}
            for path in wanted - set(files):
                files[path] = ()
        old, new = _params_at(reader, ra, files), _params_at(reader, rb, files)
        return replace(diff_values(a, b, old, new, all_rows), old=tuple(old), new=tuple(new))
    finally:
        reader.close()


def diff_values(a: str, b: str, old: list[FileValues], new: list[FileValues], all_rows: bool) -> Diff:
    """Rows for keys whose values differ between `old` and `new` (every key with `all_rows`)."""
    rows: list[DiffRow] = []
    errors: list[FileValues] = []
    for before, after in zip(old, new, strict=True):
        for side in (before, after):
            if side.error and not side.error.startswith(("missing", "not in")):
                errors.append(side)
        for key in dict.fromkeys([*before.values, *after.values]):
            va, vb = before.values.get(key), after.values.get(key)
            if not all_rows and _same(va, vb):
                continue
            change = None
            if _number(va) and _number(vb):
                change = vb - va
            rows.append(DiffRow(before.path, key, va, vb, change))
    return Diff(a, b, tuple(rows), tuple(errors))


def _number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _same(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)
