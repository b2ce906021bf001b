"""`xp exp diff [A] [B]`: params and metrics of two experiments (or revisions) side by side."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pyhelper.core.experiments.resolve import find
from pyhelper.core.experiments.show import WORKSPACE, Row, RowReader, missing_object_errors, missing_objects
from pyhelper.core.git.gitcore import lookup_commit, native
from pyhelper.core.git.gitrepo import open_repo
from pyhelper.core.project import Project
from pyhelper.core.values.metrics import Diff, FileValues, diff_values
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
    errors: tuple[tuple[str, str], ...] = ()
    """(A or B, why one of its files could not be read): those values show as missing."""


def row_for(project: Project, repo: pygit2.Repository, reader: RowReader, spec: str) -> Row:
    """The row of an experiment name, a git revision, or the workspace."""
    return _row_and_params_files(project, repo, reader, spec)[0]


def _row_and_params_files(project: Project, repo: pygit2.Repository, reader: RowReader,
                          spec: str) -> tuple[Row, set[str]]:
    """The row of `spec` and which of its files hold params (so file errors land in the right section)."""
    git = native()

    if spec == WORKSPACE:
        row = reader.row(kind="workspace", name=WORKSPACE, rev=WORKSPACE, baseline="", created=None,
                         status="", tree=None)
        return row, set(reader.layout(None).params)
    try:
        experiment = find(repo, spec)
        try:
            commit = lookup_commit(repo, experiment.rev)
            row = reader.row(kind="experiment", name=experiment.name, rev=experiment.rev,
                             baseline=experiment.ref.baseline, created=float(commit.commit_time),
                             status="success", tree=commit.tree)
        except missing_object_errors():
            raise missing_objects(experiment.name, experiment.rev) from None
    except UnknownExperiment as not_an_experiment:
        try:
            commit = repo.revparse_single(spec).peel(git.Commit)
        except (KeyError, ValueError, git.GitError):
            if spec == "HEAD":
                project.require_commits()
            raise UnknownRevision(f"'{spec}' is neither an experiment nor a git revision",
                                  hint=not_an_experiment.hint) from None
        row = reader.row(kind="baseline", name=spec, rev=str(commit.id), baseline=str(commit.id),
                         created=float(commit.commit_time), status="", tree=commit.tree)
    return row, set(reader.layout(commit.tree).params)


def _values(section: dict[str, dict[str, Any]], errors: dict[str, str]) -> list[FileValues]:
    files = list(dict.fromkeys([*section, *errors]))
    return [FileValues(f, section.get(f, {}), errors.get(f, "")) for f in files]


def _aligned(a: list[FileValues], b: list[FileValues]) -> tuple[list[FileValues], list[FileValues]]:
    """Both sides with the same files in the same order (a file missing on one side is empty)."""
    files = list(dict.fromkeys([f.path for f in a] + [f.path for f in b]))
    index_a, index_b = {f.path: f for f in a}, {f.path: f for f in b}
    return ([index_a.get(f, FileValues(f, {})) for f in files], [index_b.get(f, FileValues(f, {})) for f in files])


def diff(project: Project, a: str = "HEAD", b: str = WORKSPACE, *, all_rows: bool = False,
         param_deps: bool = False) -> ExpDiff:
    """Params and metrics that differ between A and B (all of them with `all_rows`; `param_deps`:
    only the params stages depend on, not every key of params.yaml)."""
    repo = open_repo(project)
    reader = RowReader(project, repo, param_deps=param_deps)
    (row_a, params_a), (row_b, params_b) = (_row_and_params_files(project, repo, reader, spec) for spec in (a, b))

    def split(row: Row, params_files: set[str]) -> tuple[dict[str, str], dict[str, str]]:
        errors = row.errors  # A broken dvc.yaml is reported with the metrics.
        return ({f: e for f, e in errors.items() if f in params_files},
                {f: e for f, e in errors.items() if f not in params_files})

    (params_err_a, metrics_err_a), (params_err_b, metrics_err_b) = split(row_a, params_a), split(row_b, params_b)
    params = _aligned(_values(row_a.params, params_err_a), _values(row_b.params, params_err_b))
    metrics = _aligned(_values(row_a.metrics, metrics_err_a), _values(row_b.metrics, metrics_err_b))
    errors = tuple((spec, error) for spec, row in ((a, row_a), (b, row_b))
                   for error in row.errors.values() if not error.startswith("missing"))
    return ExpDiff(a, b, diff_values(a, b, *params, all_rows), diff_values(a, b, *metrics, all_rows), errors)
