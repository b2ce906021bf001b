"""`xp exp branch NAME BRANCH`: make an experiment persistent as a git branch (HEAD stays)."""

from __future__ import annotations

from pyhelper.core.experiments.resolve import find
from pyhelper.core.experiments.save import Experiment
from pyhelper.core.experiments.show import missing_object_errors, missing_objects
from pyhelper.core.git.gitcore import lookup_commit, native
from pyhelper.core.git.gitrepo import open_repo
from pyhelper.core.project import Project
from pyhelper.errors import BadInput


def branch(project: Project, spec: str, name: str) -> Experiment:
    """Creates branch `name` at the experiment's commit; an existing branch is an error."""
    git = native()

    repo = open_repo(project)
    experiment = find(repo, spec)
    if name in repo.branches.local:
        raise BadInput(f"a branch named '{name}' already exists", hint="choose another branch name")
    try:
        commit = lookup_commit(repo, experiment.rev)
        commit.tree  # noqa: B018  (a branch of a commit whose files are gone could never be checked out)
    except missing_object_errors():
        raise missing_objects(experiment.name, experiment.rev) from None
    try:
        repo.branches.local.create(name, commit)
    except (ValueError, git.GitError) as exc:
        raise BadInput(f"'{name}' is not a valid branch name ({exc})",
                       hint="use letters, digits, '-', '_', '/' and '.'") from None
    return experiment
