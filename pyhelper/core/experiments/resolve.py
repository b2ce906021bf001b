"""Finding an experiment from what a person types: its name, a prefix of its commit id, or NAME@STEP."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyhelper.core.experiments.save import Experiment
from pyhelper.core.git.gitrepo import exp_refs
from pyhelper.errors import UnknownExperiment, did_you_mean

if TYPE_CHECKING:
    import pygit2

    from pyhelper.core.git.refs import ExpRef


def find(repo: pygit2.Repository, spec: str, *, refs: list[tuple[ExpRef, str]] | None = None) -> Experiment:
    """The experiment named `spec` (preferring HEAD's baseline when names repeat), or with that id.

    `NAME@STEP` names a checkpoint of experiment NAME (unless an experiment is called that). A caller
    resolving many names passes `refs` (from `exp_refs`) once: listing a thousand refs costs ~40 ms.
    """
    refs = exp_refs(repo) if refs is None else refs
    by_name = [(ref, rev) for ref, rev in refs if ref.name == spec]
    if not by_name and "@" in spec and spec.rpartition("@")[2].isdigit():
        from pyhelper.core.experiments.checkpoint import find_step

        ref, checkpoint = find_step(repo, spec)
        return Experiment(ref, checkpoint.rev)
    if len(by_name) > 1 and not repo.head_is_unborn:
        head = str(repo.head.target)
        of_head = [(ref, rev) for ref, rev in by_name if ref.baseline == head]
        by_name = of_head or by_name
    if len(by_name) == 1:
        return Experiment(*by_name[0])
    if len(by_name) > 1:
        baselines = ", ".join(ref.baseline[:7] for ref, _ in by_name)
        raise UnknownExperiment(f"'{spec}' names experiments of several baselines ({baselines})",
                                hint="check out the baseline you mean, or give the experiment's commit id")
    if len(spec) >= 4 and all(c in "0123456789abcdef" for c in spec.lower()):
        by_id = [(ref, rev) for ref, rev in refs if rev.startswith(spec.lower())]
        if len(by_id) == 1:
            return Experiment(*by_id[0])
    suggestion = did_you_mean(spec, sorted({ref.name for ref, _ in refs}))
    raise UnknownExperiment(f"no experiment named '{spec}'",
                            hint=suggestion or "list experiments with `xp exp list` or `xp exp show`")
