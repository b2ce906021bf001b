"""Experiment requests: show (sorted, filtered, paged), diff, apply, branch, rename, remove, tag, note,
and the params/metrics of one revision. Each is a thin adapter over `pyhelper.core.experiments`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pyhelper.errors import BadInput
from pyhelper.server import convert
from pyhelper.server import protocol as p
from pyhelper.server.errors import translated
from pyhelper.server.limits import MAX_PAGE, cut, cut_values

if TYPE_CHECKING:
    from pyhelper.server.server import XpServer


def _cursor(text: str | None) -> int:
    """The row offset a cursor stands for."""
    if not text:
        return 0
    try:
        offset = int(text.removeprefix("rows:"))
    except ValueError:
        offset = -1
    if not text.startswith("rows:") or offset < 0:
        raise BadInput(f"'{text}' is not a cursor this server gave", hint="pass the nextCursor of the previous page")
    return offset


def show_experiments(ls: XpServer, params: p.ShowExperimentsParams) -> p.ShowExperimentsResult:
    """`xp exp show` with the CLI's sort and filter, one page at a time."""
    from pyhelper.core.experiments import query

    if params.limit is not None and not 1 <= params.limit <= MAX_PAGE:
        raise BadInput(f"limit must be between 1 and {MAX_PAGE:,} (got {params.limit:,})",
                       hint=f"ask for pages of at most {MAX_PAGE:,} rows and follow nextCursor")
    limit = params.limit or MAX_PAGE
    offset = _cursor(params.cursor)
    project = ls.project()
    generation = ls.watcher.poll()
    if params.checkpoints_of is not None:
        rows = ls.table.checkpoint_rows(project, generation, params.checkpoints_of,
                                        baseline=params.revs[0] if params.revs else None)
        return p.ShowExperimentsResult(rows=[convert.row(r) for r in rows[:MAX_PAGE]], next_cursor=None)
    rows = ls.table.rows(project, generation, revs=params.revs, all_branches=params.all_branches,
                         checkpoints=params.checkpoints)
    if params.filter or params.sort_by:
        rows = query.select_rows(rows, filter=params.filter, sort_by=params.sort_by,
                                 descending=params.sort_order == "desc")
    end = min(len(rows), offset + limit)
    page = rows[offset:end]
    return p.ShowExperimentsResult(rows=ls.table.wire(page, convert.row),
                                   next_cursor=f"rows:{end}" if end < len(rows) else None)


def apply_experiment(ls: XpServer, params: p.ApplyExperimentParams) -> p.ApplyExperimentResult:
    """`xp exp apply`."""
    from pyhelper.core.experiments.apply import apply
    from pyhelper.server import progress

    token = params.work_done_token
    if token is None:
        return p.ApplyExperimentResult(applied=apply(ls.project(), params.name, force=params.force).experiment.name)
    progress.begin(ls, token, f"xp: applying {params.name}")
    message = "failed"
    try:
        result = apply(ls.project(), params.name, force=params.force,
                       progress=progress.counting(ls, token, "Fetching outputs"))
        message = f"applied {result.experiment.name}"
    finally:
        progress.end(ls, token, message)
    return p.ApplyExperimentResult(applied=result.experiment.name)


def branch_experiment(ls: XpServer, params: p.BranchExperimentParams) -> p.BranchExperimentResult:
    """`xp exp branch`."""
    from pyhelper.core.experiments.branch import branch

    branch(ls.project(), params.name, params.branch)
    return p.BranchExperimentResult(branch=params.branch)


def remove_experiments(ls: XpServer, params: p.RemoveExperimentsParams) -> p.RemoveExperimentsResult:
    """`xp exp remove NAME…`."""
    from pyhelper.core.experiments.remove import remove

    if not params.names:
        raise BadInput("name the experiments to remove", hint="pass names: [...]")
    removed = remove(ls.project(), list(params.names))
    return p.RemoveExperimentsResult(removed=[e.name for e in removed])


def diff_experiments(ls: XpServer, params: p.DiffExperimentsParams) -> p.DiffExperimentsResult:
    """`xp exp diff A B`."""
    from pyhelper.core.experiments.diff import diff

    result = diff(ls.project(), params.a, params.b, all_rows=params.all)

    def rows(section) -> list[p.DiffRow]:
        return [p.DiffRow(path=r.path, key=r.key, old=cut_values(r.old), new=cut_values(r.new), change=r.change)
                for r in section.rows]

    return p.DiffExperimentsResult(params=rows(result.params), metrics=rows(result.metrics),
                                   errors=[cut(f"{side}: {error}") for side, error in result.errors])


def rename_experiment(ls: XpServer, params: p.RenameExperimentParams) -> p.RenameExperimentResult:
    """`xp exp rename`."""
    from pyhelper.core.experiments.rename import rename

    exp = rename(ls.project(), params.name, params.new_name, force=params.force)
    return p.RenameExperimentResult(name=exp.name)


def tag_experiment(ls: XpServer, params: p.TagExperimentParams) -> p.TagExperimentResult:
    """`xp exp tag`."""
    from pyhelper.core.experiments.annotate import tag

    if not params.tags:
        raise BadInput("name at least one tag", hint="pass tags: [\"best\"]")
    result = tag(ls.project(), params.name, list(params.tags), remove=params.remove)
    return p.TagExperimentResult(tags=list(result.tags))


def star_experiment(ls: XpServer, params: p.StarExperimentParams) -> p.StarExperimentResult:
    """`xp exp star` (`--remove` when `starred` is false)."""
    from pyhelper.core.experiments.annotate import star

    return p.StarExperimentResult(starred=star(ls.project(), params.name, starred=params.starred).starred)


def note_experiment(ls: XpServer, params: p.NoteExperimentParams) -> p.NoteExperimentResult:
    """`xp exp note`."""
    from pyhelper.core.experiments.annotate import set_note

    result = set_note(ls.project(), params.name, params.text)
    return p.NoteExperimentResult(note=result.note)


def show_revision(ls: XpServer, params: p.ShowRevisionParams) -> p.ShowRevisionResult:
    """Params and metrics of one experiment, revision or the workspace."""
    from pyhelper.core.experiments.diff import row_for

    project = ls.project()
    generation = ls.watcher.poll()
    ls.table.rows(project, generation)  # Opens (or reuses) the warm reader.
    reader = ls.table.reader
    return p.ShowRevisionResult(row=convert.row(row_for(project, reader.repo, reader, params.rev)))


def show_status(ls: XpServer, params: p.ShowStatusParams) -> p.ShowStatusResult:
    """`xp status`: which stages are out of date, and why."""
    from pyhelper.core.pipeline.status import status

    result = status(ls.project(), list(params.targets) or None)
    return p.ShowStatusResult(stages=[p.StageStatus(stage=s.stage, changed=bool(s.reasons), frozen=s.frozen,
                                                    reasons=list(s.reasons)) for s in result])


HANDLERS: dict[str, Callable[..., Any]] = {
    p.SHOW_EXPERIMENTS: show_experiments,
    p.APPLY_EXPERIMENT: apply_experiment,
    p.BRANCH_EXPERIMENT: branch_experiment,
    p.REMOVE_EXPERIMENTS: remove_experiments,
    p.DIFF_EXPERIMENTS: diff_experiments,
    p.RENAME_EXPERIMENT: rename_experiment,
    p.TAG_EXPERIMENT: tag_experiment,
    p.NOTE_EXPERIMENT: note_experiment,
    p.STAR_EXPERIMENT: star_experiment,
    p.SHOW_REVISION: show_revision,
    p.SHOW_STATUS: show_status,
}


def register(server: XpServer) -> None:
    """Registers the experiment requests, each run on a worker thread."""
    for method, handler in HANDLERS.items():
        server.feature(method)(server.thread()(translated(handler)))
