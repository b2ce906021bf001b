"""`xp exp save`: record the workspace as an experiment of HEAD, without running anything.

Also the one place an experiment commit is written (`record`), which `exp run` uses after
reproducing. HEAD, the index and branches are never touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pyhelper.core.experiments import names, notes
from pyhelper.core.gitrepo import exp_refs, head_commit, open_repo, signature, snapshot_tree
from pyhelper.core.project import Project
from pyhelper.core.refs import ExpRef, check_name
from pyhelper.errors import BadInput

if TYPE_CHECKING:
    import pygit2

    from pyhelper.core.tmp_workspace import TmpWorkspace


@dataclass(frozen=True)
class Experiment:
    """A recorded experiment."""

    ref: ExpRef
    rev: str
    """The experiment commit's hex id."""

    @property
    def name(self) -> str:
        """The experiment's name."""
        return self.ref.name


def taken_names(repo: pygit2.Repository, baseline: str) -> set[str]:
    """Names already used by experiments of this baseline."""
    return {ref.name for ref, _ in exp_refs(repo) if ref.baseline == baseline}


def choose_name(repo: pygit2.Repository, baseline: str, name: str | None, *, force: bool) -> str:
    """The given name (validated, and free unless `force`) or a generated one."""
    taken = taken_names(repo, baseline)
    if name is None:
        return names.generate(taken)
    check_name(name)
    if name in taken and not force:
        raise BadInput(
            f"an experiment named '{name}' already exists for baseline {baseline[:7]}",
            hint="choose another name with -n, or pass -f to replace it",
        )
    return name


def record(project: Project, *, name: str | None, message: str | None, force: bool,
           tags: tuple[str, ...] = (), note: str = "", source: TmpWorkspace | None = None,
           parent: str | None = None) -> Experiment:
    """Commits the workspace (or the private work tree `source`) as an experiment of HEAD.

    `parent` is the run's newest checkpoint, when it made any: the experiment continues its chain.
    """
    repo = open_repo(project)
    head = head_commit(repo, project)
    baseline = str(head.id)
    chosen = choose_name(repo, baseline, name, force=force)
    if source is None:
        tree = snapshot_tree(repo, project.root, head.tree)
    else:
        tree = snapshot_tree(source.repo, source.root, head.tree)
    sig = signature(repo)
    commit = repo.create_commit(None, sig, sig, message or f"xp: experiment {chosen}", tree,
                               [repo[parent].id if parent else head.id])
    ref = ExpRef(baseline, chosen)
    repo.references.create(str(ref), commit, force=True)
    if tags or note:
        notes.write(repo, str(commit), notes.Annotations(tags=tuple(tags), note=note))
    return Experiment(ref, str(commit))


def save(project: Project, *, name: str | None = None, message: str | None = None, force: bool = False,
         tags: tuple[str, ...] = (), note: str = "") -> Experiment:
    """Records the workspace as it is (tracked changes, deletions, untracked files) as an experiment."""
    from pyhelper.core.repro import workspace_lock

    with workspace_lock(project):  # Never a half-finished workspace of a running `exp run`.
        return record(project, name=name, message=message, force=force, tags=tags, note=note)
