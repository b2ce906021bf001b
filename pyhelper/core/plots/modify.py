"""`xp plots modify TARGET`: a stage output's plot properties set or unset in its dvc.yaml, as DVC does it.

DVC 3.67.1 re-serialises the whole stage (its to_pipeline_file: outputs sorted by path, each with its
flags in a fixed order, the target moved under `plots:`), applies that onto the file as ruamel.yaml
loaded it (apply_diff: what is unchanged keeps its comments and order; a list whose items changed
place is replaced) and dumps the file with ruamel's defaults. xp takes the same steps, so both tools
write the same bytes. The whole project is parsed with the new text before anything is written,
and the file is replaced in one rename: a refused edit leaves it as it was.
"""

from __future__ import annotations

import io
import posixpath
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyhelper.core.project import Project
from pyhelper.errors import BadInput, PipelineError

PLOT_PROPS = ("template", "x", "y", "x_label", "y_label", "title", "header")
ANNOTATION = ("desc", "type", "labels", "meta")
"""An output's annotation keys, in the order DVC writes them."""


@dataclass(frozen=True)
class Modified:
    """What `modify` changed: the stage and the file it lives in."""

    stage: str
    dvcfile: str


def modify(project: Project, target: str, *, props: dict[str, Any], unset: list[str] | None, cwd: Path) -> Modified:
    """Sets `props` and removes `unset` on the plot of the stage output at `target` (a path from `cwd`)."""
    from pyhelper.core.plots.dvc_render import load_template
    from pyhelper.core.storage.atomic_write import write_atomic

    dvc_dir = project.root / project.sub / ".dvc"
    if props.get("template"):
        load_template(str(props["template"]), dvc_dir / "plots" if dvc_dir.is_dir() else None, cwd)
    pipeline = project.pipeline()
    path = _repo_path(project, target, cwd)
    found = [(stage, out) for stage in pipeline.stages.values() for out in stage.outs
             if stage.repo_path(out.path) == path]
    if not found:
        raise _not_an_output(project, pipeline, target, path)
    stage, out = found[0]
    rel = stage.dvcfile
    file = project.root / rel
    text = _read(file, rel)
    yaml = _dvc_yaml()
    data = yaml.load(text)
    entry = (data.get("stages") or {}).get(stage.key) if isinstance(data, Mapping) else None
    if not isinstance(entry, Mapping) or "${" in yaml_text(entry):
        # DVC refuses too ("cannot dump a parametrized stage"): the file holds a template, not this stage.
        raise PipelineError(f"stage '{stage.name}' in {rel} is made by foreach/matrix or uses ${{}}: "
                            f"plots modify cannot write its plots", path=rel, line=stage.line,
                            hint=f"edit the plot's properties under the stage's `plots:` in {rel} by hand")
    outputs = _outputs(entry)
    flags = next(f for p, _, f in outputs if posixpath.normpath(p) == posixpath.normpath(out.path))
    plot = flags.setdefault("__plot__", None)
    if not plot and unset is not None:
        raise BadInput(f"'{target}' is not a known plot: --unset has nothing to remove",
                       hint=f"make it one first with `xp plots modify {target} -x FIELD` (any property)")
    plot = dict(plot) if isinstance(plot, dict) else {}
    missing = [name for name in unset or [] if name not in plot]
    if missing:
        raise BadInput(f"display properties {missing} not found in plot '{target}'",
                       hint=f"{rel} sets {', '.join(plot) or 'none'} for it; unset only those")
    for name in unset or []:
        plot.pop(name)
    plot.update(props)
    flags["__plot__"] = plot or True
    new_entry = _serialise(entry, outputs)
    _apply_diff(new_entry, entry)
    stream = io.StringIO()
    yaml.dump(data, stream)
    new_text = stream.getvalue()
    _check(project, rel, new_text)
    write_atomic(file, new_text)
    return Modified(stage=stage.name, dvcfile=rel)


def yaml_text(value: Any) -> str:
    """Every string inside a loaded YAML value, joined (to look for `${`)."""
    if isinstance(value, Mapping):
        return " ".join(f"{k} {yaml_text(v)}" for k, v in value.items())
    if isinstance(value, list):
        return " ".join(yaml_text(v) for v in value)
    return str(value)


def _repo_path(project: Project, target: str, cwd: Path) -> str:
    import os

    full = Path(os.path.normpath(cwd / target))
    try:
        return full.relative_to(project.root).as_posix()
    except ValueError:
        raise BadInput(f"'{target}' is outside the repository",
                       hint="name a stage's output inside the project") from None


def _not_an_output(project: Project, pipeline: Any, target: str, path: str) -> BadInput:
    from pyhelper.core.plots.definitions import definitions

    try:
        top = [d for d in definitions(pipeline) if d.id == path or any(s.path == path for s in d.sources)]
    except BadInput:
        top = []
    if top:
        return BadInput(f"'{target}' is a top-level plot of dvc.yaml, not a stage's output: `plots modify` "
                        "changes only stages' plots (as DVC's)",
                        hint=f"edit its properties under the top-level `plots:` by hand (its entry '{top[0].id}')")
    if any(d.path == path for d in pipeline.data):
        return BadInput(f"'{target}' is tracked by a .dvc file, not a stage's output",
                        hint="plots modify changes the plots of stages in dvc.yaml")
    outs = sorted(stage.repo_path(o.path) for stage in pipeline.stages.values() for o in stage.outs)
    from pyhelper.errors import did_you_mean

    return BadInput(f"Unable to find DVC file with output '{target}'",
                    hint=did_you_mean(path, outs) or f"name one of the stages' outputs: {', '.join(outs) or 'none'}")


def _read(file: Path, rel: str) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        line = file.read_bytes()[:exc.start].count(b"\n") + 1
        raise PipelineError(f"{rel} is not UTF-8 text (byte {exc.start + 1})", path=rel, line=line,
                            hint="save the file as UTF-8, then run plots modify again") from None


def _dvc_yaml() -> Any:
    """ruamel.yaml as DVC loads dvc.yaml for an update and dumps it (round trip, block style)."""
    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.default_flow_style = False
    return yaml


def _outputs(entry: Mapping[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(path, section, flags) of every output of a stage's entry; flags hold the plot under "__plot__"."""
    found = []
    for section in ("outs", "metrics", "plots"):
        for item in entry.get(section) or []:
            if isinstance(item, Mapping):
                ((path, raw),) = item.items()
                raw = dict(raw or {})
            else:
                path, raw = item, {}
            flags = {key: raw[key] for key in raw if key not in PLOT_PROPS}
            if section == "plots":
                props = {key: raw[key] for key in raw if key in PLOT_PROPS}
                flags["__plot__"] = props or True
            elif section == "metrics":
                flags["__metric__"] = True
            found.append((str(path), section, flags))
    return found


def _serialise_out(path: str, flags: dict[str, Any]) -> Any:
    """DVC's _serialize_out: the path, or {path: flags} in DVC's order (annotation, cache, persist, plot…)."""
    ordered: dict[str, Any] = {key: flags[key] for key in ANNOTATION if flags.get(key)}
    if flags.get("cache", True) is False:
        ordered["cache"] = False
    if flags.get("persist"):
        ordered["persist"] = True
    plot = flags.get("__plot__")
    if isinstance(plot, dict):
        ordered.update(plot)
    if flags.get("remote"):
        ordered["remote"] = flags["remote"]
    if flags.get("push", True) is False:
        ordered["push"] = False
    return {path: ordered} if ordered else path


def _serialise(entry: Mapping[str, Any], outputs: list[tuple[str, str, dict[str, Any]]]) -> dict[str, Any]:
    """DVC's to_pipeline_file for one stage, from its entry as written."""
    sections: dict[str, list[Any]] = {"outs": [], "metrics": [], "plots": []}
    for path, _, flags in sorted(outputs, key=lambda item: item[0]):
        section = "plots" if flags.get("__plot__") else "metrics" if flags.get("__metric__") else "outs"
        sections[section].append(_serialise_out(path, flags))
    wdir = entry.get("wdir")
    wdir = posixpath.normpath(str(wdir)) if wdir else None
    fields = [
        ("desc", entry.get("desc")),
        ("cmd", entry.get("cmd")),
        ("wdir", None if wdir in (None, ".") else wdir),
        ("deps", sorted(str(d) for d in entry.get("deps") or [])),
        ("params", _params(entry.get("params") or [])),
        ("outs", sections["outs"]),
        ("metrics", sections["metrics"]),
        ("plots", sections["plots"]),
        ("frozen", entry.get("frozen")),
        ("always_changed", entry.get("always_changed")),
        ("meta", entry.get("meta")),
    ]
    return {key: value for key, value in fields if value}


def _params(items: list[Any]) -> list[Any]:
    """DVC's _serialize_params_keys: params.yaml's keys first, then {file: keys} by file, keys sorted."""
    by_file: dict[str, list[str]] = {}
    for item in items:
        if isinstance(item, Mapping):
            for file, keys in item.items():
                by_file.setdefault(str(file), []).extend(str(k) for k in keys or [])
        else:
            by_file.setdefault("params.yaml", []).append(str(item))
    result: list[Any] = []
    for file in sorted(by_file):
        keys = sorted(by_file[file])
        if keys and file == "params.yaml":
            result = keys + result
        else:
            result.append({file: keys or None})
    return result


def _same_type(a: Any, b: Any) -> bool:
    return any(isinstance(a, t) and isinstance(b, t) for t in (str, Mapping, (list, tuple), bool))


def _apply_diff(src: Any, dest: Any) -> None:
    """DVC's apply_diff: `src` written onto the loaded `dest`, keeping what did not change (and its comments)."""
    containers = (Mapping, list, tuple)
    if isinstance(src, Mapping) and isinstance(dest, MutableMapping):
        for key, value in src.items():
            if isinstance(value, containers) and _same_type(value, dest.get(key)):
                _apply_diff(value, dest[key])
            elif key not in dest or value != dest[key]:
                dest[key] = value
        for key in set(dest) - set(src):
            del dest[key]
    elif isinstance(src, (list, tuple)) and isinstance(dest, list):  # ruamel's sequences are lists.
        if len(src) != len(dest):
            dest[:] = src
        else:
            for i, value in enumerate(src):
                if isinstance(value, containers) and _same_type(value, dest[i]):
                    _apply_diff(value, dest[i])
                elif value != dest[i]:
                    dest[i] = value


def _check(project: Project, rel: str, new_text: str) -> None:
    """The project parsed with the new text: an edit that breaks it is refused before it is written."""
    from pyhelper.core.pipeline.stage_add import parsed_with

    parsed_with(project, rel, new_text)
