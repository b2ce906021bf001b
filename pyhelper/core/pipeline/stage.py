"""The value types of a pipeline: stages, their outputs and params dependencies."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyhelper.core.pipeline.dvcdata import DataFile


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
    dvcfile: str = "dvc.yaml"
    """The dvc.yaml declaring the stage, relative to the repository root (posix)."""
    local_name: str = ""
    """The stage's name inside its dvc.yaml and dvc.lock (empty: the same as `name`)."""

    @property
    def key(self) -> str:
        """The stage's name inside its own dvc.yaml and dvc.lock (`train`, `build@cpu`)."""
        return self.local_name or self.name

    @property
    def lock_file(self) -> str:
        """The dvc.lock beside the stage's dvc.yaml, relative to the repository root."""
        return posixpath.join(posixpath.dirname(self.dvcfile), "dvc.lock")

    @property
    def commands(self) -> tuple[str, ...]:
        """The commands to run, in order."""
        return (self.cmd,) if isinstance(self.cmd, str) else self.cmd

    def repo_path(self, path: str) -> str:
        """A path written in this stage (relative to its wdir) as a repository-relative path."""
        return posixpath.normpath(posixpath.join(self.wdir, path))


@dataclass(frozen=True)
class Pipeline:
    """Everything the project's dvc.yaml files declare (and, when collected, its `.dvc` files)."""

    stages: dict[str, Stage]
    """Stages by address (`train` in the root dvc.yaml, `sub/dvc.yaml:train` elsewhere), in file order."""
    metrics: tuple[str, ...] = ()
    """Top-level `metrics` files (repository-relative)."""
    params: tuple[str, ...] = ()
    """Top-level `params` files (repository-relative)."""
    plots: tuple[Any, ...] = ()
    """Top-level `plots` definitions, as written (of the root dvc.yaml; see `plots_by_file`)."""
    files: tuple[str, ...] = ("dvc.yaml",)
    """The dvc.yaml files read, relative to the repository root."""
    data: tuple[DataFile, ...] = ()
    """The `.dvc` files of the project, when collected."""
    plots_by_file: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    """Top-level `plots` of every dvc.yaml: (its folder, its definitions as written)."""
    sub: str = ""
    """The DVC project's folder inside the repository ('' when it is the repository root)."""

    def address(self, dvcfile: str, name: str) -> str:
        """How DVC addresses a stage: `name` in the project's own dvc.yaml, else `path/dvc.yaml:name`."""
        rel = dvcfile[len(self.sub) + 1:] if self.sub else dvcfile
        return name if rel == "dvc.yaml" else f"{rel}:{name}"

    def lock_files(self) -> list[str]:
        """The dvc.lock beside each dvc.yaml, relative to the repository root."""
        return [posixpath.join(posixpath.dirname(f), "dvc.lock") for f in self.files]


def is_url(dep: str) -> bool:
    """True for a dependency written as a URL (`https://…`, `s3://…`), not a path in the project."""
    head, sep, _ = dep.partition("://")
    return bool(sep) and head.replace("+", "").replace("-", "").replace(".", "").isalnum()
