"""Several experiments (or revisions) side by side: every param and metric as a row, one column each.

The Compare panel draws this table; the first column is the baseline the others are measured
against (the panel computes deltas from it). A key missing in one column is None there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pyhelper.core.project import Project
from pyhelper.errors import BadInput

MAX_COLUMNS = 20
"""More columns than this stop being readable side by side (and run out of distinct colours)."""


@dataclass(frozen=True)
class Column:
    """One compared experiment or revision."""

    label: str
    rev: str
    kind: str
    """workspace | commit | experiment"""


@dataclass(frozen=True)
class CompareRow:
    """One param or metric across the columns."""

    section: str
    """params | metrics"""
    path: str
    key: str
    values: tuple[Any, ...]
    """One value per column (None where the key is absent)."""
    changed: bool
    """Whether any column's value differs from the first column's."""


@dataclass(frozen=True)
class Comparison:
    """The table, and the files that could not be read (`label: file: why`)."""

    columns: tuple[Column, ...]
    rows: tuple[CompareRow, ...]
    errors: tuple[str, ...] = ()


def compare(project: Project, names: list[str]) -> Comparison:
    """Params and metrics of 2 to 20 experiments, revisions or 'workspace', in the order given."""
    from pyhelper.core.plots.across import values
    from pyhelper.core.plots.collect import open_git, select

    if not 2 <= len(names) <= MAX_COLUMNS:
        raise BadInput(f"compare 2 to {MAX_COLUMNS} experiments (got {len(names)})",
                       hint="pick at least two experiments, at most twenty")
    repo = open_git(project)
    revisions = select(project, repo, names)
    if len(revisions) < 2:
        raise BadInput(f"{', '.join(names)} name the same revision", hint="pick two different experiments")
    records = values(project, repo, revisions)
    rows: list[CompareRow] = []
    for section in ("params", "metrics"):
        keys = list(dict.fromkeys((path, key) for r in records for path, found in r[section].items() for key in found))
        for path, key in keys:
            column = tuple(r[section].get(path, {}).get(key) for r in records)
            rows.append(CompareRow(section, path, key, column, any(v != column[0] for v in column[1:])))
    errors = tuple(f"{r['rev']}: {path}: {why}" for r in records for path, why in r.get("errors", {}).items())
    columns = tuple(Column(r.label, r.rev, r.kind) for r in revisions)
    return Comparison(columns=columns, rows=tuple(rows), errors=errors)
