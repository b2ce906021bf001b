"""The value types of a pipeline: stages, their outputs and params dependencies."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Out:
    """An output of a stage (`outs`, `metrics` or `plots`)."""

    path: str
    """The path as written in dvc.yaml, relative to the stage's wdir."""
    kind: str
    """`outs`, `metrics` or `plots`: the section the output was declared in."""
    cache: bool = True
    """Whether the output is stored in the object cache (otherwise git tracks it)."""
    persist: bool = False
    """Whether the output is kept (not removed) before the stage's command runs."""
    plot: dict[str, Any] = field(default_factory=dict)
    """Plot properties (`x`, `y`, `template`, titles) for outputs declared under `plots`."""


@dataclass(frozen=True)
class ParamsDep:
    """The params a stage reads from one params file."""

    file: str
    """The params file as written in dvc.yaml, relative to the stage's wdir."""
    keys: tuple[str, ...]
    """Dotted keys; empty when the stage depends on the whole file."""


@dataclass(frozen=True)
class Stage:
    """One stage of the pipeline, after `foreach`/`matrix` expansion and interpolation."""

    name: str
    cmd: str | tuple[str, ...]
    """One shell command, or several run one after the other (a list in dvc.yaml)."""
    wdir: str = "."
    """The working directory, relative to the repository root (posix)."""
    deps: tuple[str, ...] = ()
    params: tuple[ParamsDep, ...] = ()
    outs: tuple[Out, ...] = ()
    always_changed: bool = False
    frozen: bool = False
    line: int | None = None
    """The line of the stage's definition in dvc.yaml (for error messages)."""

    @property
    def commands(self) -> tuple[str, ...]:
        """The commands to run, in order."""
        return (self.cmd,) if isinstance(self.cmd, str) else self.cmd

    def repo_path(self, path: str) -> str:
        """A path written in this stage (relative to its wdir) as a repository-relative path."""
        return posixpath.normpath(posixpath.join(self.wdir, path))


@dataclass(frozen=True)
class Pipeline:
    """Everything dvc.yaml declares."""

    stages: dict[str, Stage]
    """Stages by name, in file order."""
    metrics: tuple[str, ...] = ()
    """Top-level `metrics` files (repository-relative)."""
    params: tuple[str, ...] = ()
    """Top-level `params` files (repository-relative)."""
    plots: tuple[Any, ...] = ()
    """Top-level `plots` definitions, as written."""
