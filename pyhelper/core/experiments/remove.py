"""`xp exp remove`: delete experiments (their refs and notes); commits become unreachable."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyhelper.core.experiments import notes
from pyhelper.core.experiments.resolve import find
from pyhelper.core.experiments.save import Experiment
from pyhelper.core.git.gitcore import native
from pyhelper.core.git.gitrepo import exp_refs, open_repo
from pyhelper.core.project import Project
from pyhelper.errors import BadInput, UnknownRevision

if TYPE_CHECKING:
    import pygit2


def remove(project: Project, specs: list[str], *, rev: str | None = None, all_experiments: bool = False,
           num: int = 1, keep: bool = False, force: bool = False) -> list[Experiment]:
    """Removes the named experiments, or every experiment of a baseline (`rev`, with `num` commits back
    from it), or all of them; with `keep`, every experiment except the named ones (DVC's `--keep`).

    An experiment whose run is still going (it would come back at its next checkpoint) is refused when
    named, and left out (said in a Notice) when selected in bulk; `force` removes it anyway."""
    chosen = _chosen(project, specs, rev=rev, all_experiments=all_experiments, num=num, keep=keep)
    if not force:
        chosen = _not_running(project, chosen, named=bool(specs) and not keep)
    removed = _delete(open_repo(project), chosen)
    from pyhelper.core.queue.backend import read_config

    if not read_config(project).is_redis:  # Entries on Redis are the shared queue's: left to `queue remove`.
        from pyhelper.core.queue.manage import forget

        forget(project, [(e.ref.baseline, e.ref.name) for e in removed])
    return removed


def _not_running(project: Project, chosen: list[Experiment], *, named: bool) -> list[Experiment]:
    """`chosen` without the experiments a live run is recording now."""
    import warnings

    from pyhelper.core.experiments.checkpoint import live_runs
    from pyhelper.errors import Notice

    running = live_runs(project)
    busy = [e for e in chosen if str(e.ref) in running]
    if not busy:
        return chosen
    if named:
        pid = running[str(busy[0].ref)].get("pid", "?")
        raise BadInput(f"experiment '{busy[0].name}' is running now (pid {pid}): removed, it would come back at its "
                       "next checkpoint", hint="stop it first (Ctrl-C, or `xp queue kill NAME`), or pass --force")
    warnings.warn(Notice(f"left out {len(busy)} running experiment(s): {', '.join(e.name for e in busy[:10])} "
                         "(stop them first, or pass --force)"), stacklevel=3)
    return [e for e in chosen if str(e.ref) not in running]


def _chosen(project: Project, specs: list[str], *, rev: str | None, all_experiments: bool, num: int,
            keep: bool) -> list[Experiment]:
    """The experiments the arguments select."""
    git = native()

    if keep:
        if not specs:
            raise BadInput("--keep needs the names of the experiments to keep", hint="xp exp remove --keep NAME…")
        repo = open_repo(project)
        refs = exp_refs(repo)
        kept = {find(repo, spec, refs=refs).ref for spec in specs}
        return [Experiment(ref, sha) for ref, sha in refs if ref not in kept]
    if num < 1:
        raise BadInput(f"-n must be at least 1 (got {num})", hint="pass -n 1 for the baseline alone")
    if sum((bool(specs), rev is not None, all_experiments)) > 1:
        raise BadInput("choose what to remove one way: names, --rev REV or -A",
                       hint="run one `xp exp remove` per selection")
    repo = open_repo(project)
    if all_experiments:
        chosen = [Experiment(ref, sha) for ref, sha in exp_refs(repo)]
    elif rev is not None:
        try:
            commit = repo.revparse_single(rev).peel(git.Commit)
        except (KeyError, ValueError, git.GitError):
            raise UnknownRevision(f"unknown revision '{rev}'", hint="use a commit id, a branch or tag name") from None
        baselines = set()
        for _ in range(num):
            baselines.add(str(commit.id))
            if not commit.parents:
                break
            commit = commit.parents[0]
        chosen = [Experiment(ref, sha) for ref, sha in exp_refs(repo) if ref.baseline in baselines]
    elif specs:
        # All found before any is removed; a name given twice is removed once.
        refs = exp_refs(repo)
        chosen = list(dict.fromkeys(find(repo, spec, refs=refs) for spec in specs))
    else:
        raise BadInput("nothing to remove", hint="name experiments, or pass --rev REV or -A")
    return chosen


def _delete(repo: pygit2.Repository, chosen: list[Experiment]) -> list[Experiment]:
    """Deletes the experiments' refs; their notes go with the last ref to their commit."""
    for experiment in chosen:
        repo.references.delete(str(experiment.ref))
    still_used = {sha for _, sha in exp_refs(repo)}
    for rev_id in dict.fromkeys(e.rev for e in chosen):
        if rev_id not in still_used:
            notes.write(repo, rev_id, notes.Annotations())  # Its tags and note go with it.
    return chosen
