"""Plot data files (CSV, TSV, JSON, YAML) as lists of records, read from the workspace or a commit.

A `Snapshot` is one revision's files: the workspace on disk or a commit's tree (read with pygit2,
which the experiment paths load anyway). An output that git does not track (`cache: true`) is read
from the object cache through that revision's dvc.lock, as `xp exp show` reads metrics.
"""

from __future__ import annotations

import csv
import io
import json
import posixpath
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyhelper.core.git.gitcore import lookup_blob, lookup_tree
from pyhelper.core.project import Project
from pyhelper.errors import BadInput

if TYPE_CHECKING:
    import pygit2

SUFFIXES = (".csv", ".tsv", ".json", ".yaml", ".yml")
IMAGE_SUFFIXES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
                  ".svg": "image/svg+xml", ".webp": "image/webp"}
"""Image files a plot shows as they are (DVC's image plots), with the MIME type of their data: URL."""
PLOTTABLE = SUFFIXES + tuple(IMAGE_SUFFIXES)


def is_image(path: str) -> bool:
    """True when `path` is an image file, shown as is rather than parsed into records."""
    return posixpath.splitext(path)[1].lower() in IMAGE_SUFFIXES


def _number(text: str) -> Any:
    """A CSV cell as int or float when it is one, else the text itself."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _column(values: list[str | None]) -> list[Any]:
    """A CSV column converted whole (ints, else floats, else cell by cell): per-cell tries cost 3× more."""
    try:
        return [int(v) for v in values]  # type: ignore[arg-type]  # A None cell: TypeError, caught.
    except (ValueError, TypeError):
        pass
    try:
        return [float(v) for v in values]  # type: ignore[arg-type]  # A None cell: TypeError, caught.
    except (ValueError, TypeError):
        return [None if v is None else _number(v) for v in values]


def _table(rows: list[list[str]]) -> dict[str, list[Any]]:
    """Columns of a CSV/TSV file's rows (the first is the header); a short row lacks its last fields (None)."""
    if not rows:
        return {}
    header, body = rows[0], [r for r in rows[1:] if r]
    if body and min(map(len, body)) >= len(header):
        # Every row is whole: transpose in C rather than cell by cell. Cells past the header's (in every
        # row, or in some) have no column name and are dropped, so neither zip is strict.
        return {name: _column(list(values)) for name, values in zip(header, zip(*body, strict=False), strict=False)}
    return {name: _column([r[i] if i < len(r) else None for r in body]) for i, name in enumerate(header)}


def parse_series(raw: bytes, path: str) -> dict[str, list[Any]]:
    """A plot file as columns of equal length (None where a record lacks the field); `BadInput` naming
    the file when it holds no list of records. Columns, not records: a 1,000-step file is a few lists."""
    suffix = posixpath.splitext(path)[1].lower()
    text = raw.decode("utf-8", errors="replace")
    if suffix in (".csv", ".tsv"):
        return _table(list(csv.reader(io.StringIO(text), delimiter="\t" if suffix == ".tsv" else ",")))
    if suffix == ".json":
        from pyhelper.core.bounds import Exceeded, check_depth, too_deep_error

        try:
            data = json.loads(text) if text.strip() else []
            check_depth(data)
        except json.JSONDecodeError as exc:
            raise BadInput(f"not valid JSON: {exc.msg}", hint="fix the file or the stage that writes it",
                           path=path, line=exc.lineno) from None
        except (RecursionError, Exceeded):
            deep = too_deep_error()
            raise BadInput(deep.problem, hint=deep.hint, path=path) from None
    elif suffix in (".yaml", ".yml"):
        from pyhelper.core.yamlio.yamlfile import parse_yaml

        data = parse_yaml(text, path=path) or []
    else:
        raise BadInput(f"cannot plot a '{suffix or path}' file", hint=f"plot a file ending in {', '.join(SUFFIXES)}",
                       path=path)
    # DVC accepts a list of records, or a mapping holding one list of records.
    if isinstance(data, dict) and len(data) == 1 and isinstance(next(iter(data.values())), list):
        data = next(iter(data.values()))
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise BadInput("a plot file must hold a list of records (or `{name: [records]}`)",
                       hint="write e.g. [{\"step\": 0, \"loss\": 1.2}, ...]", path=path)
    fields = dict.fromkeys(key for item in data for key in item)  # In order of first appearance.
    return {str(key): [item.get(key) for item in data] for key in fields}


class _Parsed:
    """Plot files parsed, by git blob id: a commit's file never changes, so it is parsed once.

    Bounded by values held (not files): the server keeps it between requests, where a Plots panel
    redraws every few hundred ms while an experiment runs, reading the other revisions' files again.
    """

    LIMIT = 500_000
    """Values (cells) kept at most: ~15 MB of Python floats; 10 plots × 20 experiments × 1,000 steps is 400,000."""

    def __init__(self) -> None:
        from collections import OrderedDict

        self.items: OrderedDict[tuple[str, str], tuple[dict[str, list[Any]], int]] = OrderedDict()
        self.size = 0

    def get(self, key: tuple[str, str]) -> dict[str, list[Any]] | None:
        """The columns parsed for `key` (newest use last), or None."""
        found = self.items.get(key)
        if found is None:
            return None
        self.items.move_to_end(key)
        return found[0]

    def put(self, key: tuple[str, str], columns: dict[str, list[Any]]) -> None:
        """Keeps `columns` (never to be changed by the caller), dropping the least recently used past LIMIT."""
        size = sum(len(values) for values in columns.values())
        if size > self.LIMIT or key in self.items:
            return
        self.items[key] = (columns, size)
        self.size += size
        while self.size > self.LIMIT:
            _, (_, dropped) = self.items.popitem(last=False)
            self.size -= dropped


PARSED = _Parsed()
"""The process's parsed plot files (see `Snapshot.series`)."""


class Snapshot:
    """The files of one revision: a work tree on disk (`tree` None) or a commit's tree."""

    def __init__(self, project: Project, repo: pygit2.Repository | None, tree: pygit2.Tree | None, *,
                 root: Path | None = None):
        self.project = project
        self.repo = repo
        self.tree = tree
        self.root = root or project.root
        """The work tree read when `tree` is None: the workspace, or a running experiment's private copy."""
        self._lock: dict[str, str] | None = None

    def pipeline_files(self) -> tuple[str, ...]:
        """The project's dvc.yaml files in this revision (every one, as DVC collects them)."""
        if self.tree is None:
            from pyhelper.core.pipeline.collect import collect

            return collect(self.root, self.project.sub).pipelines or ("dvc.yaml",)
        from pyhelper.core.pipeline.collect import TreeFiles

        assert self.repo is not None
        return TreeFiles(self.repo, self.project.sub).pipelines(self.tree) or ("dvc.yaml",)

    def read(self, path: str) -> bytes | None:
        """A file's bytes, or None when the revision has no such file."""
        if self.tree is None:
            try:
                return (self.root / path).read_bytes()
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                return None
        try:
            entry = self.tree[path]
        except KeyError:
            return self._from_cache(path)
        if entry.type_str != "blob":
            return None
        assert self.repo is not None
        return lookup_blob(self.repo, entry.id).data

    def series(self, path: str) -> dict[str, list[Any]] | None:
        """A plot file as columns (`parse_series`), or None when the revision has no such file.

        A file of a commit's tree is parsed once per process (by blob id); the columns returned are
        shared, so callers must not change them.
        """
        blob = self._blob_id(path)
        key = (blob, posixpath.splitext(path)[1].lower()) if blob else None
        if key is not None and (columns := PARSED.get(key)) is not None:
            return columns
        raw = self.read(path)
        if raw is None:
            return None
        columns = parse_series(raw, path)
        if key is not None:
            PARSED.put(key, columns)
        return columns

    def _blob_id(self, path: str) -> str | None:
        """The git blob id of a file of a commit's tree; None in a work tree or for a cached output."""
        if self.tree is None:
            return None
        try:
            entry = self.tree[path]
        except KeyError:
            return None
        return str(entry.id) if entry.type_str == "blob" else None

    def text(self, path: str) -> str | None:
        """A text file (for the pipeline parser), or None."""
        raw = self.read(path)
        return None if raw is None else raw.decode("utf-8", errors="replace")

    def files(self, path: str) -> list[str]:
        """`path` itself when it is a file; the plot files under it (sorted) when a folder; else []."""
        if self.tree is None:
            full = self.root / path
            if full.is_file():
                return [path]
            if full.is_dir():
                return sorted(p.relative_to(self.root).as_posix() for p in full.rglob("*")
                              if p.is_file() and p.suffix.lower() in PLOTTABLE)
            return self._cached_files(path)
        try:
            entry = self.tree[path]
        except KeyError:
            return self._cached_files(path)
        if entry.type_str == "blob":
            return [path]
        assert self.repo is not None
        return sorted(_walk(self.repo, lookup_tree(self.repo, entry.id), path))

    def _cached_md5(self, path: str) -> str | None:
        if self._lock is None:
            from pyhelper.core.pipeline.lockfile import parse_lock

            self._lock = {}
            if path.rsplit("/", 1)[-1] == "dvc.lock":
                return None
            # Every dvc.lock of the revision: an output's path is relative to its lock's folder (a stage's
            # wdir other than that folder is rare enough to leave to the workspace).
            for dvcfile in self.pipeline_files():
                folder = posixpath.dirname(dvcfile)
                raw = self.read(posixpath.join(folder, "dvc.lock"))
                if not raw:
                    continue
                try:
                    lock = parse_lock(raw.decode("utf-8"))
                except Exception:  # An unreadable dvc.lock just means nothing comes from the cache.
                    continue
                for entry in lock.values():
                    for out, info in entry.outs.items():
                        self._lock[posixpath.normpath(posixpath.join(folder, out))] = info.md5
        return self._lock.get(path)

    def _cached_files(self, path: str) -> list[str]:
        """An output git does not track: `path` itself, or the plot files of its cached folder."""
        md5 = self._cached_md5(path)
        if not md5:
            return []
        if not md5.endswith(".dir"):
            return [path]
        return sorted(f"{path}/{rel}" for rel in self._manifest(md5)
                      if posixpath.splitext(rel)[1].lower() in PLOTTABLE)

    def _manifest(self, md5: str) -> dict[str, str]:
        from pyhelper.core.storage.cache import Cache

        return dict(Cache(self.project.cache_dir).manifest(md5) or [])

    def _from_cache(self, path: str) -> bytes | None:
        """A file of an untracked output: the output itself, or a file inside a cached folder."""
        from pyhelper.core.storage.cache import Cache

        md5 = self._cached_md5(path)
        if md5 is None:
            # A file inside a folder output: its md5 is in the folder's manifest.
            for out, out_md5 in (self._lock or {}).items():
                if out_md5.endswith(".dir") and path.startswith(out + "/"):
                    md5 = self._manifest(out_md5).get(path[len(out) + 1:])
                    break
        if not md5 or md5.endswith(".dir"):
            return None
        return Cache(self.project.cache_dir).read(md5)


def _walk(repo: pygit2.Repository, tree: pygit2.Tree, prefix: str) -> list[str]:
    """Plot files under a tree, as repository-relative paths."""
    out = []
    for entry in tree:
        name = entry.name or ""  # Always set on a tree's entries.
        path = f"{prefix}/{name}"
        if entry.type_str == "tree":
            out.extend(_walk(repo, lookup_tree(repo, entry.id), path))
        elif posixpath.splitext(name)[1].lower() in PLOTTABLE:
            out.append(path)
    return out

