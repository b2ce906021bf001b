"""`xp exp run`: set params, reproduce, and record the result as an experiment of HEAD.

The run happens in the workspace (which then holds the results) under the workspace lock, so two
runs never share a workspace. HEAD, the index and branches are never touched; a failed or
interrupted run records nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from pyhelper.core import graph
from pyhelper.core.dvcfile import read_pipeline
from pyhelper.core.experiments.save import Experiment, choose_name, record
from pyhelper.core.gitrepo import head_commit, open_repo
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
    use_run_cache: bool = True,
    on_event: Callable[[ReproEvent], None] = lambda event: None,
) -> ExpRunResult:
    """Runs an experiment in the workspace; see the module docstring."""
    with workspace_lock(project):
        repo = open_repo(project)
        head = head_commit(repo, project)
        chosen = choose_name(repo, str(head.id), name, force=force)  # Refuse a clash before running.
        project.require_pipeline()
        edit = set_params(project.root, list(set_values)) if set_values else None
        try:
            graph.order(read_pipeline(project.root), project.root, targets)
        except XpError:
            if edit is not None:
                edit.undo()
            raise
        try:
            result = reproduce(project, targets, force=force, use_run_cache=use_run_cache, on_event=on_event)
        except StageFailed as exc:
            exc.hint = ("no experiment was recorded; the workspace keeps the partial results "
                        "(`xp status` and `git status` show them); fix the stage and run again")
            raise
        experiment = record(project, name=chosen, message=message, force=True)
        return ExpRunResult(experiment, result)
