"""`xp exp rename OLD NEW`: give an experiment another name (its tags and notes follow it)."""

from __future__ import annotations

from pyhelper.core.experiments import notes
from pyhelper.core.experiments.names import check_new
from pyhelper.core.experiments.resolve import find
from pyhelper.core.experiments.save import Experiment
from pyhelper.core.git.gitrepo import exp_refs, open_repo
from pyhelper.core.git.refs import ExpRef
from pyhelper.core.project import Project
from pyhelper.errors import BadInput


def rename(project: Project, spec: str, new_name: str, *, force: bool = False) -> Experiment:
    """Moves the experiment's ref to the new name within its baseline."""
    repo = open_repo(project)
    experiment = find(repo, spec)
    check_new(repo, new_name)
    new_ref = ExpRef(experiment.ref.baseline, new_name)
    if new_ref == experiment.ref:
        return experiment  # Renaming to its own name: nothing to do (and nothing may be deleted).
    replaced = None
    if str(new_ref) in repo.references:
        if not force:
            raise BadInput(f"an experiment named '{new_name}' already exists for baseline "
                           f"{experiment.ref.baseline[:7]}", hint="choose another name, or pass -f to replace it")
        replaced = str(repo.references[str(new_ref)].target)
    repo.references.create(str(new_ref), experiment.rev, force=True)
    repo.references.delete(str(experiment.ref))
    if replaced is not None and replaced != experiment.rev and replaced not in {rev for _, rev in exp_refs(repo)}:
        notes.write(repo, replaced, notes.Annotations())  # The replaced experiment's notes go with it.
    return Experiment(new_ref, experiment.rev)
