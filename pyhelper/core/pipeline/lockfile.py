"""`dvc.lock` in DVC 3's schema 2.0: what each stage last ran with and produced.

Entries are written exactly as DVC writes them (keys, order, sorting), so `dvc status` accepts a
lock that xp wrote and the other way round.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyhelper.core.storage.atomic_write import write_atomic
from pyhelper.core.storage.hashing import HashInfo
from pyhelper.core.yamlio.yamlfile import text_of
from pyhelper.errors import PipelineError

SCHEMA = "2.0"


@dataclass(frozen=True)
class LockEntry:
    """The recorded state of one stage."""

    cmd: str | tuple[str, ...]
    deps: dict[str, HashInfo] = field(default_factory=dict)
    """Dependency path (as written in dvc.yaml) to its hash."""
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Params file to {key: value}."""
    outs: dict[str, HashInfo] = field(default_factory=dict)
    """Output path (as written in dvc.yaml) to its hash."""


def _hash_info(item: dict[str, Any]) -> HashInfo:
    return HashInfo(
        md5=str(item.get("md5", "")),
        size=int(item.get("size", 0) or 0),
        nfiles=item.get("nfiles"),
        isexec=bool(item.get("isexec", False)),
        checksum=str(item["checksum"]) if item.get("checksum") is not None else None,
        legacy=item.get("hash") != "md5",
    )


def parse_lock(text: str, *, display: str = "dvc.lock") -> dict[str, LockEntry]:
    """Parses lock text into entries by stage name."""
    from pyhelper.core.yamlio.yamlfile import parse_yaml

    data = parse_yaml(text, path=display, error=PipelineError) or {}
    if not isinstance(data, dict) or str(data.get("schema", "")) != SCHEMA:
        raise PipelineError(
            "dvc.lock is not in DVC 3's format (schema 2.0)",
            hint="delete dvc.lock and run `xp repro` to write it again",
            path=display,
            line=1,
        )
    stages = data.get("stages") or {}
    if not isinstance(stages, dict):
        raise _broken(text, display, ["stages"], "`stages` in dvc.lock must be a mapping of stage names to entries")
    entries: dict[str, LockEntry] = {}
    for name, raw in stages.items():
        if not isinstance(raw, dict):
            continue
        params = raw.get("params") or {}
        if not isinstance(params, dict) or not all(isinstance(v, dict) or v is None for v in params.values()):
            raise _broken(text, display, ["stages", name, "params"],
                          f"the params of stage '{name}' in dvc.lock must map each file to its values")
        try:
            deps = {str(d["path"]): _hash_info(d) for d in raw.get("deps") or [] if isinstance(d, dict) and "path" in d}
            outs = {str(o["path"]): _hash_info(o) for o in raw.get("outs") or [] if isinstance(o, dict) and "path" in o}
        except (TypeError, ValueError):
            raise _broken(text, display, ["stages", name],
                          f"the entry of stage '{name}' in dvc.lock is malformed") from None
        cmd = raw.get("cmd", "")
        entries[str(name)] = LockEntry(
            cmd=tuple(cmd) if isinstance(cmd, list) else str(cmd),
            deps=deps,
            params={str(f): dict(v or {}) for f, v in params.items()},
            outs=outs,
        )
    return entries


def _broken(text: str, display: str, keys: Sequence[str | int], message: str) -> PipelineError:
    """The error for a dvc.lock whose content does not have DVC's shape, at the offending entry."""
    from pyhelper.core.yamlio.yamlfile import line_of

    return PipelineError(message, hint="delete dvc.lock and run `xp repro` to write it again",
                         path=display, line=line_of(text, keys))


def read_lock(path: Path) -> dict[str, LockEntry]:
    """The lock's entries, or none when the file does not exist."""
    if not path.is_file():
        return {}
    return parse_lock(text_of(path, "dvc.lock"))


def _dump_item(path: str, info: HashInfo) -> dict[str, Any]:
    if info.checksum is not None:  # A URL dependency, as DVC writes it.
        return {"path": path, "hash": "md5", "checksum": info.checksum, "size": info.size}
    item: dict[str, Any] = {"path": path, "md5": info.md5, "size": info.size} if info.legacy else \
        {"path": path, "hash": "md5", "md5": info.md5, "size": info.size}  # DVC 2's record stays DVC 2's.
    if info.nfiles is not None:
        item["nfiles"] = info.nfiles
    if info.isexec and not info.isdir:
        item["isexec"] = True
    return item


def dump_entry(entry: LockEntry) -> dict[str, Any]:
    """One stage's lock data, keys and lists ordered as DVC orders them."""
    data: dict[str, Any] = {"cmd": list(entry.cmd) if isinstance(entry.cmd, tuple) else entry.cmd}
    if entry.deps:
        data["deps"] = [_dump_item(p, entry.deps[p]) for p in sorted(entry.deps)]
    if entry.params:
        files = sorted(entry.params, key=lambda f: (f != "params.yaml", f))
        data["params"] = {f: {k: entry.params[f][k] for k in sorted(entry.params[f])} for f in files}
    if entry.outs:
        data["outs"] = [_dump_item(p, entry.outs[p]) for p in sorted(entry.outs)]
    return data


def write_entries(path: Path, updates: dict[str, LockEntry], *, keep: list[str] | None = None) -> None:
    """Updates the given stages' entries (others stay as they are) and writes the lock atomically.

    When `keep` is given, entries for stages not in it (removed from dvc.yaml) are dropped.
    """
    from pyhelper.core.yamlio.yamlfile import dump_plain, parse_yaml

    raw: dict[str, Any] = {}
    if path.is_file():
        parsed = parse_yaml(text_of(path, "dvc.lock"), path="dvc.lock", error=PipelineError)
        if isinstance(parsed, dict) and str(parsed.get("schema", "")) == SCHEMA:
            raw = dict(parsed.get("stages") or {})
    for name, entry in updates.items():
        raw[name] = dump_entry(entry)
    if keep is not None:
        raw = {name: value for name, value in raw.items() if name in keep}
    write_atomic(path, dump_plain({"schema": SCHEMA, "stages": raw}))


def read_locks(root: Path, pipeline: Any) -> dict[str, LockEntry]:
    """Every stage's lock entry, by the stage's address: each dvc.yaml has its own dvc.lock beside it."""
    entries: dict[str, LockEntry] = {}
    for dvcfile, lock in zip(pipeline.files, pipeline.lock_files(), strict=True):
        path = root / lock
        if not path.is_file():
            continue
        for name, entry in parse_lock(text_of(path, lock), display=lock).items():
            entries[pipeline.address(dvcfile, name)] = entry
    return entries


def write_stage(root: Path, stage: Any, entry: LockEntry) -> None:
    """Writes one stage's entry into the dvc.lock beside its dvc.yaml (the other entries stay as they are)."""
    write_entries(root / stage.lock_file, {stage.key: entry})


def prune_locks(root: Path, pipeline: Any, files: set[str]) -> None:
    """Drops the entries of stages no longer declared, from the locks of the given dvc.yaml files."""
    for dvcfile in files:
        lock = root / posixpath.join(posixpath.dirname(dvcfile), "dvc.lock")
        if lock.is_file():
            keep = [s.key for s in pipeline.stages.values() if s.dvcfile == dvcfile]
            write_entries(lock, {}, keep=keep)
