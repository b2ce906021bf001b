"""The pipeline's plots definitions, as DVC 3 reads them from dvc.yaml.

Two places declare plots: the top-level `plots:` list and each stage's `plots:` outputs. A
top-level entry is a path (`- eval/roc.json`), a path with properties
(`- dvclive/plots/metrics: {x: step}`), or a named plot whose `y` maps files to fields
(`- roc: {x: fpr, y: {eval/train.json: tpr, eval/test.json: tpr}}`). A path may be a folder: each
file under it becomes a plot of its own (that happens per revision, in `collect.py`).
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Any

from pyhelper.core.inside import not_plain, plain_path
from pyhelper.core.pipeline.stage import Pipeline
from pyhelper.errors import PipelineError

TEMPLATES = ("linear", "scatter", "smooth", "confusion", "confusion_normalized", "bar", "bar_horizontal",
             "bar_horizontal_sorted")
"""Templates a definition may name (DVC 3's own set; its `simple` is drawn as `linear`)."""
ALIASES = {"simple": "linear"}
"""DVC template names xp draws with one of its own."""
PROPS = ("x", "y", "template", "title", "x_label", "y_label", "header", "cache", "persist")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".svg")


@dataclass(frozen=True)
class Source:
    """One file (or folder) a plot reads, and the fields of it that are drawn as y."""

    path: str
    """Repository-relative path of a file or a folder of files."""
    y: tuple[str, ...] = ()
    """Fields drawn as y; empty means the file's last column (DVC's default)."""
    x: str | None = None
    """The x field of this file; None means the definition's `x`, or the row number (`step`)."""


@dataclass(frozen=True)
class PlotDef:
    """A plot as declared: what it is called, what it reads and how it is drawn."""

    id: str
    sources: tuple[Source, ...]
    template: str = "linear"
    title: str = ""
    x_label: str = ""
    y_label: str = ""


def template_of(name: Any, where: str) -> str:
    """xp's template for a definition's `template:` value; `PipelineError` naming the choices otherwise."""
    if name is None:
        return "linear"
    template = ALIASES.get(str(name), str(name))
    if template not in TEMPLATES:
        raise PipelineError(f"unknown plot template '{template}' in {where}",
                            hint=f"use one of: {', '.join(TEMPLATES)}", path="dvc.yaml")
    return template


def _fields(value: Any) -> tuple[str, ...]:
    """A `y:` value written as one field or a list of fields."""
    if value is None:
        return ()
    if isinstance(value, (list, tuple)):
        return tuple(str(v) for v in value)
    return (str(value),)


def _x_for(x: Any, path: str) -> str | None:
    """The x field of `path` from an `x:` written as a field or as {file: field}."""
    if isinstance(x, dict):
        found = x.get(path)
        if found is None and len(x) == 1:
            found = next(iter(x.values()))
        return None if found is None else str(found)
    return None if x is None else str(x)


def _top_entry(item: Any, folder: str = ".") -> PlotDef:
    """One entry of the top-level `plots:` list of the dvc.yaml in `folder` (its paths are relative to it)."""
    def join(path: str) -> str:
        return posixpath.normpath(posixpath.join(folder, path))

    if isinstance(item, str) and item:
        return PlotDef(id=join(item), sources=(Source(join(item)),))
    if not (isinstance(item, dict) and len(item) == 1):
        raise PipelineError("an entry of the top-level `plots` is neither a path nor `name: {properties}`",
                            hint="write `- path/to/file.csv` or `- name: {x: field, y: {file: field}}`",
                            path="dvc.yaml")
    (key, props), = item.items()
    key = str(key)
    props = props or {}
    where = f"plot '{key}'"
    if not isinstance(props, dict):
        raise PipelineError(f"the properties of {where} in the top-level `plots` must be a mapping",
                            hint="write e.g. `- dvclive/plots/metrics: {x: step}`", path="dvc.yaml")
    for name in props:
        if name not in PROPS:
            raise PipelineError(f"unknown property `{name}` of {where} in the top-level `plots`",
                                hint=f"use one of: {', '.join(PROPS[:6])}", path="dvc.yaml")
    template = template_of(props.get("template"), where)
    y = props.get("y")
    if isinstance(y, dict):
        sources = tuple(Source(join(str(path)), _fields(fields), _x_for(props.get("x"), str(path)))
                        for path, fields in y.items())
    else:
        path = join(key)
        sources = (Source(path, _fields(y), _x_for(props.get("x"), key)),)
        key = path
    return PlotDef(id=key, sources=sources, template=template, title=str(props.get("title") or ""),
                   x_label=str(props.get("x_label") or ""), y_label=str(props.get("y_label") or ""))


def definitions(pipeline: Pipeline) -> list[PlotDef]:
    """Every plot the pipeline declares: top-level entries first, then stage outputs, by id."""
    found: dict[str, PlotDef] = {}
    by_file = pipeline.plots_by_file or ((".", pipeline.plots),)
    for folder, items in by_file:
        for item in items:
            plot = _top_entry(item, folder)
            found.setdefault(plot.id, plot)
    for stage in pipeline.stages.values():
        for out in stage.outs:
            if out.kind != "plots":
                continue
            path = stage.repo_path(out.path)
            props = out.plot
            where = f"plot '{out.path}' of stage '{stage.name}'"
            plot = PlotDef(id=path, sources=(Source(path, _fields(props.get("y")), _x_for(props.get("x"), path)),),
                           template=template_of(props.get("template"), where), title=str(props.get("title") or ""),
                           x_label=str(props.get("x_label") or ""), y_label=str(props.get("y_label") or ""))
            found.setdefault(plot.id, plot)
    for plot in found.values():
        for source in plot.sources:
            if not plain_path(source.path):
                # Drawn into a report or a panel, the file's contents would leave the machine's other files
                # open to whoever wrote dvc.yaml (a pulled experiment's); DVC never reads them either.
                raise PipelineError(f"plot '{plot.id}' reads '{source.path}', which is {not_plain(source.path)}",
                                    hint="xp draws plots only from files inside the repository (as DVC does): "
                                         "move the file into it, or remove the plot from dvc.yaml",
                                    path="dvc.yaml")
    return list(found.values())
