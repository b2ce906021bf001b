"""`xp runs restore ID`: put a recorded run's outputs and params back into the workspace.

Nothing is lost: a file is overwritten only when its current content can be recovered (it is in
the object cache, or git has it committed); otherwise the restore refuses, unless forced, and
changes nothing.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from pyhelper.core.pipeline.lockfile import LockEntry, write_stage
from pyhelper.core.pipeline.run_cache import RunCache, RunRecord
from pyhelper.core.pipeline.stage_state import ParamsReader, compute_state
from pyhelper.core.project import Project
from pyhelper.core.storage.cache import Cache
from pyhelper.core.storage.hashing import StatIndex
from pyhelper.core.values.params import get_value, load_params
from pyhelper.core.values.params_edit import Override, apply_overrides
from pyhelper.errors import BadInput, WouldOverwrite


@dataclass(frozen=True)
class Restored:
    """What a restore changed."""

    run: RunRecord
    outputs: tuple[str, ...]
    """Repository paths of the outputs put in place."""
    params: tuple[str, ...]
    """`file:key` of each params value set."""
    lock_updated: bool
    """True when the stage's dvc.lock entry now matches the restored run."""


def restore_run(project: Project, run_id: str, *, force: bool = False) -> Restored:
    """Restores the run's outputs and params; see the module docstring for the safety rule."""
    root = project.root
    xp = project.ensure_xp_dir()
    runs = RunCache(xp / "runs.db")
    index = StatIndex(xp / "index.db")
    cache = Cache(project.cache_dir, index)
    try:
        record = runs.get(run_id)
        outputs = [(f"{record.wdir}/{o.path}".removeprefix("./"), o) for o in record.outs]
        # An object known to have rotted raises `CorruptObject` here, before anything is written; one whose
        # stat hides it is caught as it is checked out (the md5 of what is written), before it is used.
        from pyhelper.core.remotes.transfer import fetch_missing

        fetch_missing(project, [o.hash for _, o in outputs])  # What this cache lacks, from the default remote.
        missing = [path for path, o in outputs if not cache.present(o.hash, root / path)]
        if missing:
            raise BadInput(f"run {record.id} cannot be restored: its output(s) {', '.join(missing)} "
                           "are no longer in the cache", hint="run the stage again with `xp repro`")
        overrides = _param_changes(root, record)
        if not force:
            _refuse_unrecoverable(project, cache, index, [p for p, _ in outputs], [f for f, _ in overrides])
        for path, out in outputs:
            cache.checkout(out.hash, root / path)
        by_file: dict[str, list[Override]] = {}
        for file, override in overrides:
            by_file.setdefault(file, []).append(override)
        for file, items in by_file.items():
            apply_overrides(root / file, items, display=file)
        lock_updated = _update_lock(project, record, index)
        return Restored(record, tuple(p for p, _ in outputs),
                        tuple(f"{f}:{o.key.removeprefix('+')}" for f, o in overrides), lock_updated)
    finally:
        index.close()
        runs.close()


def _param_changes(root: Path, record: RunRecord) -> list[tuple[str, Override]]:
    """The (repository file, override) pairs that set params back to the run's values."""
    changes = []
    for file, values in record.params.items():
        repo_file = f"{record.wdir}/{file}".removeprefix("./")
        current = load_params(root / repo_file, display=repo_file)
        for key, value in values.items():
            try:
                now = get_value(current, key)
            except KeyError:
                now = object()
            if now != value:
                changes.append((repo_file, Override(repo_file, "+" + key, value)))
    return changes


def _refuse_unrecoverable(project: Project, cache: Cache, index: StatIndex,
                          outputs: list[str], params_files: list[str]) -> None:
    """Raises WouldOverwrite when a file to be replaced holds work that nothing else keeps."""
    at_risk = []
    for path in outputs:
        info = index.hash_path(project.root / path)
        if info is not None and not cache.has(info) and _git_changed(project, path):
            at_risk.append(path)
    at_risk.extend(p for p in dict.fromkeys(params_files) if _git_changed(project, p))
    if at_risk:
        raise WouldOverwrite(
            f"restoring would overwrite uncommitted changes in: {', '.join(at_risk)}",
            hint="commit or stash them first, or pass --force to overwrite them",
        )


def _git_changed(project: Project, path: str) -> bool:
    """True when git has no committed copy of the file as it is now (modified or untracked)."""
    result = subprocess.run(["git", "status", "--porcelain", "--ignored", "--", path], cwd=project.root,
                            capture_output=True, text=True)
    return bool(result.stdout.strip())


def _update_lock(project: Project, record: RunRecord, index: StatIndex) -> bool:
    """Writes the run into dvc.lock when the stage's current deps are the ones it ran with."""
    pipeline = project.pipeline()
    stage = pipeline.stages.get(record.stage)
    if stage is None or stage.cmd != record.cmd:
        return False
    state = compute_state(stage, project.root, None, index, ParamsReader(project.root))
    if {p: h.checksum or h.md5 for p, h in state.deps.items()} != record.deps:
        return False
    outs = {o.path: o.hash for o in record.outs}
    write_stage(project.root, stage, LockEntry(stage.cmd, state.deps, state.params, outs))
    return True
