"""`xp exp diff [A] [B]`: params and metrics of two experiments (or revisions) side by side."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pyhelper.core.experiments.resolve import find
from pyhelper.core.experiments.show import WORKSPACE, Row, RowReader
from pyhelper.core.gitrepo import open_repo
from pyhelper.core.metrics import Diff, FileValues, diff_values
from pyhelper.core.project import Project
from pyhelper.errors import UnknownExperiment, UnknownRevision

if TYPE_CHECKING:
    import pygit2


@dataclass(frozen=True)
class ExpDiff:
    """What differs between two experiments."""

    a: str
    b: str
    params: Diff
    metrics: Diff


def row_for(project: Project, repo: pygit2.Repository, reader: RowReader, spec: str) -> Row:
    """The row of an experiment name, a git revision, or the workspace."""
    import pygit2

    if spec == WORKSPACE:
        return reader.row(kind="workspace", name=WORKSPACE, rev=WORKSPACE, baseline="", created=None,
                          status="", tree=None)
    try:
        experiment = find(repo, spec)
        commit = repo[experiment.rev]
        return reader.row(kind="experiment", name=experiment.name, rev=experiment.rev,
                          baseline=experiment.ref.baseline, created=float(commit.commit_time),
                          status="success", tree=commit.tree)
    except UnknownExperiment as not_an_experiment:
        try:
            commit = repo.revparse_single(spec).peel(pygit2.Commit)
        except (KeyError, ValueError, pygit2.GitError):
            if spec == "HEAD":
                project.require_commits()
            raise UnknownRevision(f"'{spec}' is neither an experiment nor a git revision",
                                  hint=not_an_experiment.hint) from None
        return reader.row(kind="baseline", name=spec, rev=str(commit.id), baseline=str(commit.id),
                          created=float(commit.commit_time), status="", tree=commit.tree)


def _values(section: dict[str, dict], errors: dict[str, str]) -> list[FileValues]:
    files = list(dict.fromkeys([*section, *errors]))
    return [FileValues(f, section.get(f, {}), errors.get(f, "")) for f in files]


def _aligned(a: list[FileValues], b: list[FileValues]) -> tuple[list[FileValues], list[FileValues]]:
    """Both sides with the same files in the same order (a file missing on one side is empty)."""
    files = list(dict.fromkeys([f.path for f in a] + [f.path for f in b]))
    index_a, index_b = {f.path: f for f in a}, {f.path: f for f in b}
    return ([index_a.get(f, FileValues(f, {})) for f in files], [index_b.get(f, FileValues(f, {})) for f in files])


def diff(project: Project, a: str = "HEAD", b: str = WORKSPACE, *, all_rows: bool = False) -> ExpDiff:
    """Params and metrics that differ between A and B (all of them with `all_rows`)."""
    repo = open_repo(project)
    reader = RowReader(project, repo)
    row_a, row_b = row_for(project, repo, reader, a), row_for(project, repo, reader, b)
    params = _aligned(_values(row_a.params, {}), _values(row_b.params, {}))
    metrics = _aligned(_values(row_a.metrics, row_a.errors), _values(row_b.metrics, row_b.errors))
    return ExpDiff(a, b, diff_values(a, b, *params, all_rows), diff_values(a, b, *metrics, all_rows))
