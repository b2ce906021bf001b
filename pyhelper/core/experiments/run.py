"""`xp exp run`: set params, reproduce, and record the result as an experiment of HEAD.

Without `temp` the run happens in the workspace (which then holds the results) under the
workspace lock, so two runs never share a workspace. With `temp` it happens in a private work
tree under `.xp/tmp/` holding the workspace as it is (untracked files included), and the
workspace is left exactly as it was. HEAD, the index and branches are never touched; a failed
or interrupted run records nothing but the checkpoints its stages made (`checkpoint.py`), which
it keeps, and which `resume` continues.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pyhelper.core.experiments import names
from pyhelper.core.experiments.save import Experiment, choose_name, record, reserve
from pyhelper.core.git import tmp_workspace
from pyhelper.core.git.gitrepo import head_commit, open_repo, snapshot_tree
from pyhelper.core.git.refs import ExpRef
from pyhelper.core.pipeline import graph
from pyhelper.core.pipeline.repro import (
    ReproEvent,
    ReproOptions,
    ReproResult,
    cache_tracked_data,
    reproduce,
)
from pyhelper.core.project import Project, workspace_lock
from pyhelper.core.values.params_edit import parse_override, set_params
from pyhelper.errors import BadInput, StageFailed, XpError

if TYPE_CHECKING:
    import pygit2

    from pyhelper.core.experiments.checkpoint import Checkpoint
    from pyhelper.core.experiments.recorder import Recorder


@dataclass(frozen=True)
class ExpRunResult:
    """The experiment recorded and what the reproduction did."""

    experiment: Experiment
    repro: ReproResult
    saved_workspace: Experiment | None = None
    """With `resume` in the workspace: the experiment uncommitted work was saved as before restoring."""


def run(
    project: Project,
    *,
    set_values: Sequence[str] = (),
    name: str | None = None,
    message: str | None = None,
    targets: list[str] | None = None,
    force: bool = False,
    temp: bool = False,
    use_run_cache: bool = True,
    on_event: Callable[[ReproEvent], None] = lambda event: None,
    resume: str | None = None,
    reset: bool = False,
    options: ReproOptions | None = None,
    copy_paths: Sequence[str] = (),
) -> ExpRunResult:
    """Runs an experiment; see the module docstring.

    `resume` (`NAME` or `NAME@STEP`) restores that checkpoint's files and persisted outputs and
    continues its chain; `reset` removes persisted outputs first, so training starts over.
    """
    repo = open_repo(project)
    head = head_commit(repo, project)
    start = None
    if resume is not None:
        start = resume_point(repo, head, resume, name=name, reset=reset)
        chosen = names.check_new(repo, start.ref.name)  # As recording will check it, but before running.
    else:
        chosen = choose_name(repo, str(head.id), name, force=force)  # Refuse a clash before running.
    for assignment in set_values:
        parse_override(assignment)  # A wrong -S (a file outside the project…) is said before anything runs.
    project.require_pipeline()
    with reserve(project, str(head.id), chosen):  # A second run of this name at once is refused now.
        current = repo.references.get(str(ExpRef(str(head.id), chosen)))
        replaces = frozenset({str(current.target) if current is not None else None})
        return _run(project, repo, head, chosen, start, replaces, set_values=set_values, message=message,
                    targets=targets, force=force, temp=temp, use_run_cache=use_run_cache, on_event=on_event,
                    reset=reset, options=options, copy_paths=copy_paths)


def _run(project: Project, repo: pygit2.Repository, head: pygit2.Commit, chosen: str, start: Checkpoint | None,
         replaces: frozenset[str | None], *, set_values: Sequence[str], message: str | None,
         targets: list[str] | None, force: bool, temp: bool, use_run_cache: bool,
         on_event: Callable[[ReproEvent], None], reset: bool, options: ReproOptions | None,
         copy_paths: Sequence[str]) -> ExpRunResult:
    """`run` once the name is held: reproduce (in the workspace or a private work tree), then record on `head`."""
    from pyhelper.core.experiments import checkpoint as checkpoints
    from pyhelper.core.experiments.recorder import Recorder

    recorder = Recorder(project, project, baseline=str(head.id), name=chosen,
                        parent=start.rev if start else None, resume=start is not None)
    # Resuming means training on: the stages run even when nothing they depend on changed (as DVC 2 always
    # ran checkpoint stages), instead of "didn't change, skipping" and nothing new recorded.
    force = force or start is not None
    if not temp:
        saved = restore_workspace(project, start) if start is not None else None
        with workspace_lock(project):
            if reset:
                remove_persisted(project)
            with recorder:
                result = _reproduce(project, set_values, targets, force, use_run_cache, recorder,
                                    on_event, failed_hint="the workspace keeps the partial results "
                                                          "(`xp status` and `git status` show them)",
                                    options=options)
            return ExpRunResult(record(project, name=chosen, message=message, force=True, parent=recorder.tip,
                                       baseline=str(head.id), replaces=replaces | {recorder.tip}, reserved=True),
                                result, saved)
    tree = repo[start.rev].tree.id if start else snapshot_tree(repo, project.root, head.tree)
    cache_tracked_data(project)  # The private copy gets `.dvc`-tracked data from the cache.
    private = tmp_workspace.create(project, repo, head, tree)
    recorder.work = private.project
    try:
        _copy_paths(project, private.root, copy_paths)
        if start is not None:
            checkpoints.checkout_persisted(private.project, start, strict=True)
        if reset:
            remove_persisted(private.project)
        with workspace_lock(private.project):
            where = project.rel(private.root)
            with recorder:
                result = _reproduce(private.project, set_values, targets, force, use_run_cache, recorder,
                                    on_event, failed_hint=f"the partial results are kept in {where} "
                                                          "(`xp exp clean` removes them)", options=options)
            experiment = record(project, name=chosen, message=message, force=True, source=private,
                                parent=recorder.tip, baseline=str(head.id), replaces=replaces | {recorder.tip},
                                reserved=True)
    except StageFailed:
        raise  # Keep the private work tree for a look at what went wrong.
    except BaseException:
        tmp_workspace.remove(private)
        raise
    tmp_workspace.remove(private)
    return ExpRunResult(experiment, result)


def _copy_paths(project: Project, dest: Path, paths: Sequence[str]) -> None:
    """Copies untracked or ignored files the user names (`--copy-paths`) into a private work tree."""
    import shutil

    root = project.root.resolve()
    for rel in paths:
        source = (project.root / rel).resolve()
        if source != root and root not in source.parents:
            raise BadInput(f"--copy-paths '{rel}' is outside the project", hint="name files inside the project")
        if not source.exists():
            raise BadInput(f"--copy-paths '{rel}' does not exist", hint="check the path")
        target = dest / source.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True, symlinks=True)
        else:
            shutil.copy2(source, target)


def dry_run(project: Project, set_values: Sequence[str], targets: list[str] | None, *, force: bool,
            options: ReproOptions | None, on_event: Callable[[ReproEvent], None]) -> ReproResult:
    """`exp run --dry`: what would run with these params; nothing runs, is recorded or stays changed."""
    edit = set_params(project.project_root, list(set_values)) if set_values else None
    try:
        with workspace_lock(project):
            return reproduce(project, targets, force=force, dry=True, on_event=on_event, options=options)
    finally:
        if edit is not None:
            edit.undo()


def _reproduce(view: Project, set_values: Sequence[str], targets: list[str] | None, force: bool,
               use_run_cache: bool, recorder: Recorder, on_event: Callable[[ReproEvent], None], *,
               failed_hint: str, options: ReproOptions | None = None) -> ReproResult:
    """Sets the params (undone if the pipeline turns out invalid) and reproduces in `view`, recording checkpoints."""
    edit = set_params(view.project_root, list(set_values)) if set_values else None
    try:
        graph.select(view.pipeline(), view.root, targets, options.selection if options else graph.Selection())
    except XpError:
        if edit is not None:
            edit.undo()
        raise
    try:
        return reproduce(view, targets, force=force, use_run_cache=use_run_cache,
                         on_event=recorder.watch(on_event), env=recorder.env, options=options)
    except StageFailed as exc:
        if recorder.recorded:
            last = recorder.recorded[-1]
            kept = (f"the experiment stopped at step {last.step}: its {len(recorder.recorded)} checkpoint(s) "
                    f"are kept (continue with `xp exp run --resume {last.name}`)")
        else:
            kept = "no experiment was recorded"
        exc.hint = f"{kept}; {failed_hint}; fix the stage and run again"
        raise


def resume_point(repo: pygit2.Repository, head: pygit2.Commit, spec: str, *, name: str | None,
                 reset: bool) -> Checkpoint:
    """The checkpoint `--resume NAME[@STEP]` names, checked to belong to HEAD's commit."""
    from pyhelper.core.experiments.checkpoint import find_step

    if reset:
        raise BadInput("--reset starts over and --resume continues a checkpoint; they do not go together",
                       hint="drop one of them")
    if name is not None:
        raise BadInput("a resumed run continues its own experiment; -n does not apply",
                       hint="drop -n, or start a new experiment without --resume")
    ref, start = find_step(repo, spec)
    if ref.baseline != str(head.id):
        raise BadInput(f"checkpoint '{start.name}' is of baseline {ref.baseline[:7]}, but HEAD is {str(head.id)[:7]}",
                       hint=f"check out its baseline first (`git checkout {ref.baseline[:7]}`), then resume")
    return start


def restore_workspace(project: Project, start: Checkpoint) -> Experiment | None:
    """Brings the checkpoint's files and outputs into the workspace; work that would be lost is saved
    first, as the experiment returned."""
    from pyhelper.core.experiments.apply import apply
    from pyhelper.core.experiments.checkpoint import checkout_persisted

    checkout_persisted(project, start, strict=True)  # A missing output fails before anything is written.
    return apply(project, start.name, force=True).saved_as


def remove_persisted(view: Project) -> None:
    """Deletes the outputs declared `persist: true`, so the stage that writes them starts over."""
    from pyhelper.core.storage.cache import Cache, remove
    from pyhelper.core.storage.hashing import StatIndex

    pipeline = view.pipeline()
    index = StatIndex(view.ensure_xp_dir() / "index.db")
    cache = Cache(view.cache_dir, index)
    try:
        for stage in pipeline.stages.values():
            for out in stage.outs:
                path = view.root / stage.repo_path(out.path)
                if out.persist:
                    info = index.hash_path(path)
                    if info is not None and out.cache and not cache.has(info):
                        cache.save(path, info)  # Started over, but never lost.
                    remove(path)
    finally:
        index.close()
