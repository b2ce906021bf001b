"""DVC's run-cache entries (`runs/<key[:2]>/<key>/<value>`): made from xp's records, read into xp's run-cache.

An entry is one stage run as DVC's single-stage lock data (cmd, deps, params, outs), as YAML. Its folder is
the sha256 of that data with the outputs reduced to their paths (what a run is looked up by: DVC's
`_get_stage_hash`), its name the sha256 of the whole (both without the `size` and `nfiles` keys, at any depth,
as DVC's `dict_sha256(…, exclude=[size, nfiles])` drops them). Entries live under the cache folder
(`.dvc/cache/runs/`, as DVC keeps them) and at the root of a remote (`runs/`), so `dvc push --run-cache` and
`xp pull --run-cache` read each other's.

An entry from a remote is a teammate's data: before it is kept or used it is bounded in size, parsed within
xp's YAML limits, checked to have DVC's shape (md5s that are md5s, paths that stay inside the project), and
checked to hold exactly what its key and name say (so an entry cannot sit under another run's key and make
its outputs land elsewhere). A bad entry is skipped with a one-line reason; nothing in one becomes a command
(a run is only restored for a stage of the user's own dvc.yaml with the same command).
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyhelper.core.pipeline.lockfile import LockEntry, _dump_item, _hash_info, dump_entry
from pyhelper.core.pipeline.run_cache import RecordedOut, RunCache, RunRecord
from pyhelper.core.storage.hashing import HashInfo, is_md5
from pyhelper.errors import BadInput

if TYPE_CHECKING:
    from pyhelper.core.pipeline.stage import Pipeline, Stage
    from pyhelper.core.project import Project

MAX_ENTRY_BYTES = 2 << 20
"""The largest entry read (2 MiB; DVC's are a few hundred bytes, one of 10,000 dependencies ~1.5 MB)."""

NAME = re.compile(r"([0-9a-f]{2})/([0-9a-f]{64})/([0-9a-f]{64})")
"""An entry's path below `runs/`: `ab/<key>/<value>`, the key starting with `ab`."""

_EXCLUDED = ("size", "nfiles")


class BadEntry(Exception):
    """An entry that is not used, with why (one line)."""


@dataclass(frozen=True)
class Entry:
    """One run-cache entry: its path below `runs/`, its data, and the YAML text DVC reads."""

    name: str
    lock: LockEntry
    text: str

    @property
    def infos(self) -> list[HashInfo]:
        """The objects its outputs are (what must travel with it for a restore elsewhere)."""
        return list(self.lock.outs.values())


def _filtered(data: Any) -> Any:
    """DVC's `dict_filter`: `size` and `nfiles` dropped from every mapping, at any depth (params too)."""
    if isinstance(data, list):
        return [_filtered(item) for item in data]
    if isinstance(data, dict):
        return {k: _filtered(v) for k, v in data.items() if k not in _EXCLUDED}
    return data


def _sha256(data: Any) -> str:
    """DVC's `dict_sha256`: the sha256 of the filtered data as `json.dumps(…, sort_keys=True)`."""
    return hashlib.sha256(json.dumps(_filtered(data), sort_keys=True).encode("utf-8")).hexdigest()


def key_of(lock: dict[str, Any]) -> str:
    """The key a run is looked up by: its lock data with each output reduced to its path."""
    return _sha256({**lock, "outs": [out["path"] for out in lock.get("outs", [])]})


def value_of(lock: dict[str, Any]) -> str:
    """The entry's file name: the hash of its whole lock data."""
    return _sha256(lock)


def entry_name(lock: dict[str, Any]) -> str:
    """Where an entry with this lock data lives below `runs/`."""
    key = key_of(lock)
    return f"{key[:2]}/{key}/{value_of(lock)}"


def entry_of_record(record: RunRecord) -> Entry | None:
    """The DVC entry of one of xp's records; None for a run DVC never looks up (no outputs, no dependencies or
    params, or a URL dependency, which DVC's run-cache leaves out)."""
    from pyhelper.core.yamlio.yamlfile import dump_plain

    if not record.outs or not (record.deps or record.params):
        return None
    if any("://" in path or not is_md5(md5) for path, md5 in record.deps.items()):
        return None
    lock = LockEntry(record.cmd, {}, record.params, {o.path: o.hash for o in record.outs})
    data = dump_entry(lock)
    deps = []
    for path in sorted(record.deps):
        meta = record.dep_meta.get(path) or {}
        if isinstance(meta.get("size"), int):
            deps.append(_dump_item(path, HashInfo(md5=record.deps[path], size=meta["size"],
                                                  nfiles=meta.get("nfiles"), isexec=bool(meta.get("isexec")))))
        else:  # A record older than dep_meta: DVC's schema has `size` optional, and no hash counts it.
            deps.append({"path": path, "hash": "md5", "md5": record.deps[path]})
    if deps:
        data = {"cmd": data["cmd"], "deps": deps, **{k: v for k, v in data.items() if k != "cmd"}}
    deps_lock = LockEntry(record.cmd, {p: HashInfo(md5=m, size=0) for p, m in record.deps.items()},
                          record.params, lock.outs)
    return Entry(entry_name(data), deps_lock, dump_plain(data))


def parse_entry(name: str, raw: bytes, *, climb: int = 0) -> Entry:
    """An entry read from `runs/NAME` (a remote's, or the local folder's), every field checked; BadEntry says
    why not. `climb`: how many `..` a path may start with (the deepest stage folder of the project, since a
    path is written relative to its stage's folder)."""
    from pyhelper.core.yamlio.yamlfile import parse_yaml

    if NAME.fullmatch(name) is None or name[:2] != name[3:5]:
        raise BadEntry("its name is not DVC's `ab/<sha256>/<sha256>`")
    if len(raw) > MAX_ENTRY_BYTES:
        raise BadEntry(f"it is larger than {MAX_ENTRY_BYTES >> 20} MiB ({len(raw)} bytes)")
    try:
        text = raw.decode("utf-8")
        data = parse_yaml(text, path=f"runs/{name}")
    except UnicodeDecodeError:
        raise BadEntry("it is not UTF-8 text") from None
    except BadInput as exc:
        raise BadEntry(exc.message) from None
    lock = _checked(data, climb)
    try:
        key, value = key_of(data), value_of(data)
    except (TypeError, ValueError):
        raise BadEntry("it holds values that are not plain data") from None
    if name != f"{key[:2]}/{key}/{value}":
        raise BadEntry("it does not hold what its name says (its hashes differ)")
    return Entry(name, lock, text)


def _checked(data: Any, climb: int) -> LockEntry:
    """DVC's single-stage lock shape, with md5s and paths checked; the entry as a LockEntry."""
    if not isinstance(data, dict) or set(data) - {"cmd", "deps", "params", "outs"}:
        raise BadEntry("it is not a stage's lock data (cmd, deps, params, outs)")
    cmd = data.get("cmd")
    if not (isinstance(cmd, str) and cmd) and not (isinstance(cmd, list) and cmd and
                                                   all(isinstance(c, str) for c in cmd)):
        raise BadEntry("its `cmd` is not a command or a list of commands")
    params = data.get("params") or {}
    if not isinstance(params, dict) or not all(isinstance(f, str) and isinstance(v, dict) and
                                               all(isinstance(k, str) for k in v) for f, v in params.items()):
        raise BadEntry("its `params` do not map each params file to its values")
    found: dict[str, dict[str, HashInfo]] = {}
    for section in ("deps", "outs"):
        items = data.get(section) or []
        if not isinstance(items, list):
            raise BadEntry(f"its `{section}` is not a list")
        found[section] = {}
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("path"), str):
                raise BadEntry(f"an item of its `{section}` has no path")
            path = item["path"]
            if not _inside(path, climb):
                raise BadEntry(f"the path {path[:200]!r} in its `{section}` is outside the project")
            if not is_md5(item.get("md5")) or not all(isinstance(item.get(k, 0), int) for k in _EXCLUDED):
                raise BadEntry(f"'{path}' in its `{section}` has no md5 (or a malformed one)")
            try:
                found[section][path] = _hash_info(item)
            except (TypeError, ValueError):
                raise BadEntry(f"'{path}' in its `{section}` is malformed") from None
    if not found["outs"]:
        raise BadEntry("it has no outputs")
    for files in found.values():
        if any(info.legacy for info in files.values()):
            raise BadEntry("it records DVC 2's hashes (no `hash: md5`), which xp does not restore")
    return LockEntry(tuple(cmd) if isinstance(cmd, list) else cmd, found["deps"],
                     {f: dict(v) for f, v in params.items()}, found["outs"])


def _inside(path: str, climb: int) -> bool:
    """True when a path written in a stage (relative to its folder) can name something inside the project:
    relative, no NUL, not a URL, at most `climb` leading `..`, never into `.git/` or `.xp/`."""
    from pyhelper.core.inside import plain_path

    if not path or path.startswith("/") or "\0" in path or "://" in path or "\\" in path:
        return False
    normal = posixpath.normpath(path)
    up = 0
    while normal == ".." or normal.startswith("../"):
        up += 1
        normal = normal[3:] if normal != ".." else ""
    return up <= climb and plain_path(normal or "x")


def depth(pipeline: Pipeline) -> int:
    """How deep the project's deepest stage folder is (how far its paths may climb with `..`)."""
    return max((len(posixpath.normpath(s.wdir).split("/")) for s in pipeline.stages.values()
                if posixpath.normpath(s.wdir) != "."), default=0)


def runs_dir(project: Project) -> Path:
    """The local entries' folder: `runs/` in the cache folder, where DVC keeps its own (`.dvc/cache/runs`)."""
    return project.cache_dir / "runs"


def local_names(project: Project) -> set[str]:
    """The names of the entries in the local folder (files of any other shape are not entries)."""
    root = runs_dir(project)
    names: set[str] = set()
    try:
        prefixes = os.listdir(root)
    except OSError:
        return names
    for prefix in prefixes:
        try:
            keys = os.listdir(root / prefix)
        except OSError:
            continue
        for key in keys:
            try:
                values = os.listdir(root / prefix / key)
            except OSError:
                continue
            names.update(name for value in values if NAME.fullmatch(name := f"{prefix}/{key}/{value}"))
    return names


def read_local(project: Project, name: str, climb: int) -> Entry:
    """A local entry, checked as a remote's (DVC or an older xp may have put it there); BadEntry says why not."""
    path = runs_dir(project) / name
    try:
        if path.stat().st_size > MAX_ENTRY_BYTES:
            raise BadEntry(f"it is larger than {MAX_ENTRY_BYTES >> 20} MiB")
        raw = path.read_bytes()
    except OSError as exc:
        raise BadEntry(f"it cannot be read ({exc.strerror or exc})") from None
    return parse_entry(name, raw, climb=climb)


def write_local(project: Project, entry: Entry) -> None:
    """Keeps a checked entry in the local folder (atomically), where `dvc repro` finds it too."""
    from pyhelper.core.storage.atomic_write import write_atomic

    path = runs_dir(project) / entry.name
    if not path.exists():
        write_atomic(path, entry.text)


def local_entries(project: Project, runs: RunCache) -> tuple[list[Entry], list[tuple[str, str]]]:
    """Every entry this machine has: its xp records' and the local folder's (DVC's own runs too), each once;
    and the local files that are not usable entries, as (name, why)."""
    entries: dict[str, Entry] = {}
    for record in runs.list():
        entry = entry_of_record(record)
        if entry is not None:
            entries.setdefault(entry.name, entry)
    bad: list[tuple[str, str]] = []
    climb = depth(project.pipeline())
    for name in sorted(local_names(project) - set(entries)):
        try:
            entries[name] = read_local(project, name, climb)
        except BadEntry as exc:
            bad.append((name, str(exc)))
    return list(entries.values()), bad


def stages_of(entry: Entry, pipeline: Pipeline) -> list[Stage]:
    """The stages of the project this entry is a run of: same command, dependencies and outputs, every path
    inside the project from the stage's folder."""
    from pyhelper.core.inside import plain_path
    from pyhelper.core.pipeline.stage import is_url

    found = []
    for stage in pipeline.stages.values():
        if stage.cmd != entry.lock.cmd or set(entry.lock.outs) != {o.path for o in stage.outs}:
            continue
        if set(entry.lock.deps) != {d for d in stage.deps if not is_url(d)} or any(is_url(d) for d in stage.deps):
            continue
        if all(plain_path(stage.repo_path(p)) for p in (*entry.lock.deps, *entry.lock.outs)):
            found.append(stage)
    return found


def adopt(runs: RunCache, entry: Entry, stage: Stage, created: float) -> RunRecord:
    """Records an entry as a run of `stage` in xp's run-cache (a run recorded here already is kept as it is)."""
    kinds = {out.path: out for out in stage.outs}
    outs = [RecordedOut(path, kinds[path].kind, kinds[path].cache, info) for path, info in entry.lock.outs.items()]
    meta = {p: {"size": h.size, **({"nfiles": h.nfiles} if h.nfiles is not None else {})}
            for p, h in entry.lock.deps.items()}
    return runs.record(stage=stage.name, cmd=entry.lock.cmd, wdir=stage.wdir,
                       deps={p: h.md5 for p, h in entry.lock.deps.items()}, params=entry.lock.params, outs=outs,
                       duration=0.0, metrics={}, dep_meta=meta, created=created, replace=False)


def lookup(project: Project, stage: Stage, deps: dict[str, HashInfo], params: dict[str, dict[str, Any]]
           ) -> list[Entry]:
    """DVC's own lookup: the entries under the key of this stage as it is now (its command, dependencies'
    hashes, params and output paths), newest first, those that name exactly its outputs; bad ones left out.
    This finds what `dvc repro` ran here and what a fetch brought for another value of an interpolated command."""
    from pyhelper.core.pipeline.stage import is_url

    if not stage.outs or not (deps or params) or any(is_url(d) for d in stage.deps):
        return []
    data = dump_entry(LockEntry(stage.cmd, deps, params, {}))
    data["outs"] = [{"path": path} for path in sorted(o.path for o in stage.outs)]
    try:
        key = key_of(data)
    except (TypeError, ValueError):
        return []
    folder = runs_dir(project) / key[:2] / key
    try:
        values = sorted(((os.stat(folder / v).st_mtime, v) for v in os.listdir(folder)), reverse=True)
    except OSError:
        return []
    found = []
    climb = None
    for _, value in values:
        if climb is None:
            climb = depth(project.pipeline())
        try:
            entry = read_local(project, f"{key[:2]}/{key}/{value}", climb)
        except BadEntry:
            continue
        if set(entry.lock.outs) == {o.path for o in stage.outs} and entry.lock.cmd == stage.cmd:
            found.append(entry)
    return found
