"""The server's warm experiments table: `core.experiments.show` rows, kept until something changes.

Parsed blobs stay in one long-lived `RowReader` (each blob is parsed once for the life of the
server); the rows of the last query are reused while the watcher's generation (a counter bumped
on every change it sees on disk) stays the same.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pyhelper.core.experiments.show import Row, RowReader, show
from pyhelper.core.project import Project


class Table:
    """Rows of the chosen baselines, cached by (project, options, generation)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._root: tuple[Path, int | None] | None = None
        self._reader: RowReader | None = None
        self._cache: dict[tuple[Any, ...], list[Row]] = {}
        self._wire: dict[int, Any] = {}
        """id(row) → its wire form, for the rows cached now (cleared with them, so ids stay unique)."""
        self._generation = -1

    def rows(self, project: Project, generation: int, *, revs: list[str] | None = None,
             all_branches: bool = False, checkpoints: bool = True) -> list[Row]:
        """The table as `xp exp show` builds it (workspace, baselines, experiments by time)."""
        key = (tuple(revs or ()), all_branches, checkpoints)
        with self._lock:
            reader = self._open(project, generation)
            if key not in self._cache:
                self._cache[key] = show(project, revs=list(revs or []), all_branches=all_branches,
                                        reader=reader, checkpoints=checkpoints)
            return self._cache[key]

    def checkpoint_rows(self, project: Project, generation: int, name: str, *, baseline: str | None) -> list[Row]:
        """One experiment's checkpoint rows, newest first (asked for when the editor expands it)."""
        from pyhelper.core.experiments.show import checkpoint_rows

        with self._lock:
            return checkpoint_rows(self._open(project, generation), name, baseline)

    def _open(self, project: Project, generation: int) -> RowReader:
        """The reader of `project`'s repository, its cached rows dropped when the generation moved on."""
        identity: tuple[Path, int | None]
        try:
            identity = (project.root, project.git_dir.stat().st_ino)
        except OSError:
            identity = (project.root, None)
        # A repository removed and made again at the same place is a new one: reopen it.
        if self._root != identity or self._reader is None:
            from pyhelper.core.git.gitrepo import open_repo

            self._root = identity
            self._reader = RowReader(project, open_repo(project))
            self._cache.clear()
            self._wire.clear()
        if generation != self._generation:
            self._cache.clear()
            self._wire.clear()
            self._generation = generation
        return self._reader

    def wire(self, rows: list[Row], convert: Callable[[Row], Any]) -> list[Any]:
        """`convert(row)` of each row, remembered while the rows are cached."""
        with self._lock:
            out = []
            for row in rows:
                found = self._wire.get(id(row))
                if found is None:
                    found = self._wire[id(row)] = convert(row)
                out.append(found)
            return out

    @property
    def reader(self) -> RowReader:
        """The long-lived reader (after a first `rows` call)."""
        assert self._reader is not None, "rows() opens the reader"
        return self._reader

    def forget(self) -> None:
        """Drops everything (the repository was replaced or removed)."""
        with self._lock:
            self._reader = None
            self._root = None
            self._cache.clear()
            self._wire.clear()
