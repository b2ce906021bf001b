"""`xp exp remove`: delete experiments (their refs and notes); commits become unreachable."""

from __future__ import annotations

from pyhelper.core.experiments import notes
from pyhelper.core.experiments.resolve import find
from pyhelper.core.experiments.save import Experiment
from pyhelper.core.gitcore import native
from pyhelper.core.gitrepo import exp_refs, open_repo
from pyhelper.core.project import Project
from pyhelper.errors import BadInput, UnknownRevision


def remove(project: Project, specs: list[str], *, rev: str | None = None, all_experiments: bool = False) -> list[Experiment]:
    """Removes the named experiments, or every experiment of a baseline (`rev`), or all of them."""
    git = native()

    if sum((bool(specs), rev is not None, all_experiments)) > 1:
        raise BadInput("choose what to remove one way: names, --rev REV or -A",
                       hint="run one `xp exp remove` per selection")
    repo = open_repo(project)
    if all_experiments:
        chosen = [Experiment(ref, sha) for ref, sha in exp_refs(repo)]
    elif rev is not None:
        try:
            baseline = str(repo.revparse_single(rev).peel(git.Commit).id)
        except (KeyError, ValueError, git.GitError):
            raise UnknownRevision(f"unknown revision '{rev}'", hint="use a commit id, a branch or tag name") from None
        chosen = [Experiment(ref, sha) for ref, sha in exp_refs(repo) if ref.baseline == baseline]
    elif specs:
        # All found before any is removed; a name given twice is removed once.
        refs = exp_refs(repo)
        chosen = list(dict.fromkeys(find(repo, spec, refs=refs) for spec in specs))
    else:
        raise BadInput("nothing to remove", hint="name experiments, or pass --rev REV or -A")
    for experiment in chosen:
        repo.references.delete(str(experiment.ref))
    still_used = {sha for _, sha in exp_refs(repo)}
    for rev_id in dict.fromkeys(e.rev for e in chosen):
        if rev_id not in still_used:
            notes.write(repo, rev_id, notes.Annotations())  # Its tags and note go with it.
    return chosen
