"""`xp status`: which stages are out of date and why, without running anything."""

from __future__ import annotations

from dataclasses import dataclass

from pyhelper.core import graph
from pyhelper.core.dvcfile import read_pipeline
from pyhelper.core.hashing import StatIndex
from pyhelper.core.lockfile import read_lock
from pyhelper.core.project import Project
from pyhelper.core.stage_state import ParamsReader, compute_state


@dataclass(frozen=True)
class StageStatus:
    """One stage and why it is out of date (no reasons: up to date)."""

    stage: str
    reasons: tuple[str, ...]
    frozen: bool = False


def status(project: Project, targets: list[str] | None = None) -> list[StageStatus]:
    """Every considered stage, upstream first, with the reasons it would run."""
    root = project.root
    project.require_pipeline()
    pipeline = read_pipeline(root)
    stages = graph.order(pipeline, root, targets)
    lock = read_lock(project.lock_path)
    index = StatIndex(project.ensure_xp_dir() / "index.db")
    params = ParamsReader(root)
    out: list[StageStatus] = []
    stale: set[str] = set()
    try:
        for stage in stages:
            if stage.frozen:
                out.append(StageStatus(stage.name, (), frozen=True))
                continue
            state = compute_state(stage, root, lock.get(stage.name), index, params, will_produce=stale)
            reasons = list(state.reasons)
            if state.changed:
                stale.update(stage.repo_path(o.path) for o in stage.outs)
            out.append(StageStatus(stage.name, tuple(reasons)))
    finally:
        index.close()
    return out
