"""`xp exp run`: set params, reproduce, and record the result as an experiment of HEAD.

Without `temp` the run happens in the workspace (which then holds the results) under the
workspace lock, so two runs never share a workspace. With `temp` it happens in a private work
tree under `.xp/tmp/` holding the workspace as it is (untracked files included), and the
workspace is left exactly as it was. HEAD, the index and branches are never touched; a failed
or interrupted run records nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from pyhelper.core import graph, tmp_workspace
from pyhelper.core.dvcfile import read_pipeline
from pyhelper.core.experiments.save import Experiment, choose_name, record
from pyhelper.core.gitrepo import head_commit, open_repo, snapshot_tree
from pyhelper.core.params_edit import set_params
from pyhelper.core.project import Project
from pyhelper.core.repro import ReproEvent, ReproResult, reproduce, workspace_lock
from pyhelper.errors import StageFailed, XpError


@dataclass(frozen=True)
class ExpRunResult:
    """The experiment recorded and what the reproduction did."""

    experiment: Experiment
    repro: ReproResult


def run(
    project: Project,
    *,
    set_values: list[str] = (),
    name: str | None = None,
    message: str | None = None,
    targets: list[str] | None = None,
    force: bool = False,
    temp: bool = False,
    use_run_cache: bool = True,
    on_event: Callable[[ReproEvent], None] = lambda event: None,
) -> ExpRunResult:
    """Runs an experiment; see the module docstring."""
    repo = open_repo(project)
    head = head_commit(repo, project)
    chosen = choose_name(repo, str(head.id), name, force=force)  # Refuse a clash before running.
    project.require_pipeline()
    if not temp:
        with workspace_lock(project):
            result = _reproduce(project, set_values, targets, force, use_run_cache, on_event,
                                failed_hint="no experiment was recorded; the workspace keeps the partial "
                                            "results (`xp status` and `git status` show them)")
            return ExpRunResult(record(project, name=chosen, message=message, force=True), result)
    private = tmp_workspace.create(project, repo, head, snapshot_tree(repo, project.root, head.tree))
    try:
        with workspace_lock(private.project):
            where = project.rel(private.root)
            result = _reproduce(private.project, set_values, targets, force, use_run_cache, on_event,
                                failed_hint=f"no experiment was recorded; the partial results are kept in "
                                            f"{where} (`xp exp clean` removes them)")
            experiment = record(project, name=chosen, message=message, force=True, source=private)
    except StageFailed:
        raise  # Keep the private work tree for a look at what went wrong.
    except BaseException:
        tmp_workspace.remove(private)
        raise
    tmp_workspace.remove(private)
    return ExpRunResult(experiment, result)


def _reproduce(view: Project, set_values: list[str], targets: list[str] | None, force: bool,
               use_run_cache: bool, on_event: Callable[[ReproEvent], None], *, failed_hint: str) -> ReproResult:
    """Sets the params (undone if the pipeline turns out invalid) and reproduces in `view`."""
    edit = set_params(view.root, list(set_values)) if set_values else None
    try:
        graph.order(read_pipeline(view.root), view.root, targets)
    except XpError:
        if edit is not None:
            edit.undo()
        raise
    try:
        return reproduce(view, targets, force=force, use_run_cache=use_run_cache, on_event=on_event)
    except StageFailed as exc:
        exc.hint = failed_hint + "; fix the stage and run again"
        raise
