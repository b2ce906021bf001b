"""`xp plots show/diff --json` and `--show-vega` in DVC 3.67.1's shapes.

DVC's steps, in its order, so the output is the one `dvc plots show --json` prints for the same files:
each revision's definitions (top-level `plots:` of every dvc.yaml, keyed by that file; stage plot
outputs under ""), the files they read parsed as DVC parses them (CSV cells stay text), every plot
id's definitions squashed across revisions, datapoints flattened as dvc's VegaConverter flattens them
(`rev`, `step`, `filename`, `field`), and DVC's own templates filled (dvc_render.py). What could not
be read is data, as DVC reports it: `errors` entries with the plot's name, revision, source, the
error's type and message.

xp's own shape (records normalised to rev/series/x/y in xp's templates) stays behind `--xp-json`.
"""

from __future__ import annotations

import csv
import io
import json
import os
import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyhelper.core.inside import plain_path
from pyhelper.core.plots import dvc_render
from pyhelper.core.plots.collect import WORKSPACE, Revision, snapshot
from pyhelper.core.plots.definitions import definitions as plot_definitions
from pyhelper.core.project import Project
from pyhelper.errors import BadInput, XpError

if TYPE_CHECKING:
    import pygit2

    from pyhelper.core.pipeline.stage import Pipeline
    from pyhelper.core.plots.series import Snapshot

PLOT_PROPS = ("template", "x", "y", "x_label", "y_label", "title", "header")
"""DVC's dvc.schema.PLOT_PROPS, in its order."""
PARSED_SUFFIXES = (".toml", ".json", ".py", ".yml", ".yaml", ".csv", ".tsv")
"""What DVC's plots parse reads (anything else is PlotMetricTypeError; xp does not run .py files)."""


@dataclass(frozen=True)
class Failure:
    """An error as DVC's encode_exception writes it: the exception's class name and message."""

    type: str
    msg: str


@dataclass
class _RevData:
    """One revision's definitions ({config file: {plot id: props}}) and sources ({file: data or Failure})."""

    definitions: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    error: Failure | None = None
    sources: dict[str, Any] = field(default_factory=dict)


def revisions_for_diff(project: Project, repo: pygit2.Repository | None, revs: list[str]) -> list[str]:
    """The revisions `dvc plots diff` compares: one named → it and the workspace; none → the workspace,
    after HEAD when tracked files changed (DVC's _revisions)."""
    revs = list(revs)
    if len(revs) <= 1:
        if not revs and repo is not None and _dirty(repo):
            revs.append("HEAD")
        revs.append(WORKSPACE)
    return revs


def _dirty(repo: pygit2.Repository) -> bool:
    from pyhelper.core.git.gitcore import native

    git = native()
    ignored = git.GIT_STATUS_WT_NEW | git.GIT_STATUS_IGNORED
    return any(flags & ~ignored for flags in repo.status(untracked_files="no").values())


def _rel(project: Project, path: str) -> str:
    """A repository path as DVC names it: relative to the DVC project's folder."""
    sub = project.sub
    return path[len(sub) + 1:] if sub and path.startswith(sub + "/") else path


def _matches(targets: list[str], config: str, plot_id: str) -> bool:
    """DVC's _matches: a target is a regular expression matched at the start of the id (or `config::id`)."""
    if not targets:
        return True
    full = f"{config}::{plot_id}" if config else plot_id
    for target in targets:
        try:
            if re.match(target, plot_id) or re.match(target, full):
                return True
        except re.error:
            if plot_id.startswith(target) or full.startswith(target):
                return True
    return False


def _unpack(snap: Snapshot, project: Project, path: str) -> list[str]:
    """A folder's files (DVC's unpack_if_dir), else the path itself, present or not."""
    repo_path = posixpath.normpath(posixpath.join(project.sub, path)) if project.sub else path
    if not plain_path(repo_path):
        return [path]  # Never listed: outside the repository (reading it later finds nothing).
    found = snap.files(repo_path)
    if found and found != [repo_path]:
        return [_rel(project, p) for p in found]
    return [path]


def _definitions(project: Project, snap: Snapshot, pipeline: Pipeline, targets: list[str],
                 props: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """DVC's _collect_definitions: {config file: {plot id: props}}, output plots under ""."""
    result: dict[str, dict[str, dict[str, Any]]] = {}
    for folder, items in pipeline.plots_by_file:
        config_dir = "" if folder == "." else _rel(project, folder)
        config = posixpath.join(config_dir, "dvc.yaml")
        written: dict[str, Any] = {}
        for item in items:
            if isinstance(item, str):
                written[item] = None
            elif isinstance(item, dict) and item:
                key, value = next(iter(item.items()))
                written[str(key)] = value
        parents = [posixpath.normpath(posixpath.join(config_dir, plot_id)) for plot_id in written]
        found = result.setdefault(config, {})
        for plot_id, value in written.items():
            plot_props = dict(value) if isinstance(value, dict) else {}
            if not _matches(targets, config, plot_id):
                continue
            if not isinstance(plot_props.get("y"), dict):
                data_path = posixpath.normpath(posixpath.join(config_dir, plot_id))
                for path in _unpack(snap, project, data_path):
                    # A file under several declared folders belongs to the closest one (DVC's _closest_parent).
                    if path == data_path or _closest(path, parents) == data_path:
                        found.setdefault(path, {}).update(plot_props | props)
            else:
                found.setdefault(plot_id, {}).update(_adjust_sources(plot_props, config_dir) | props)
    outputs: dict[str, dict[str, Any]] = {}
    for stage in pipeline.stages.values():
        config = _rel(project, stage.dvcfile)
        for out in stage.outs:
            if out.kind != "plots":
                continue
            path = _rel(project, stage.repo_path(out.path))
            if _matches(targets, config, path):
                for file in _unpack(snap, project, path):
                    outputs.setdefault(file, {}).update(_plot_props(out.plot) | props)
    if outputs:
        result[""] = outputs
    for target in targets:
        if not any(result.values()) or _exists(snap, project, target):
            extra = result.setdefault("", {})
            for file in _unpack(snap, project, posixpath.normpath(target)):
                extra.setdefault(file, {}).update(props)
    return result


def _exists(snap: Snapshot, project: Project, path: str) -> bool:
    repo_path = posixpath.normpath(posixpath.join(project.sub, path)) if project.sub else path
    return plain_path(repo_path) and bool(snap.files(repo_path))


def _closest(path: str, parents: list[str]) -> str:
    best = ""
    for parent in parents:
        try:
            common = posixpath.commonpath([path, parent])
        except ValueError:
            continue
        if len(common) > len(best):
            best = common
    return best


def _adjust_sources(plot_props: dict[str, Any], config_dir: str) -> dict[str, Any]:
    """A named plot's {file: field} axes with files made relative to the project (DVC's _adjust_sources)."""
    adjusted = dict(plot_props)
    for axis in ("x", "y"):
        if axis == "x" and not isinstance(adjusted.get("x"), dict):
            continue
        old = adjusted.pop(axis, {}) or {}
        adjusted[axis] = {posixpath.normpath(posixpath.join(config_dir, str(k))): v for k, v in old.items()}
    return adjusted


def _plot_props(plot: dict[str, Any]) -> dict[str, Any]:
    return {key: plot[key] for key in PLOT_PROPS if key in plot}


def infer_sources(plot_id: str, config: dict[str, Any] | None) -> list[str]:
    """The files a plot reads (DVC's infer_data_sources): y's files, or the id; then x's first file."""
    y = (config or {}).get("y")
    sources = [str(k) for k in y] if isinstance(y, dict) else [plot_id]
    x = (config or {}).get("x")
    if isinstance(x, dict) and x:
        sources.append(str(next(iter(x))))
    return list(dict.fromkeys(sources))


def _source_props(pipeline: Pipeline, project: Project, path: str) -> dict[str, Any]:
    """The props of the plot output holding `path` (DVC reads a file with its output's `header`)."""
    for stage in pipeline.stages.values():
        for out in stage.outs:
            if out.kind != "plots":
                continue
            out_path = _rel(project, stage.repo_path(out.path))
            if path == out_path or path.startswith(out_path + "/"):
                return _plot_props(out.plot)
    return {}


def parse(raw: bytes | None, path: str, header: bool = True) -> Any:
    """A plot file's data as DVC's plots parse reads it; a `Failure` as DVC words it."""
    if raw is None:
        return Failure("FileNotFoundError", f"[Errno 2] No such file or directory: '{path}'")
    suffix = posixpath.splitext(path)[1]
    if suffix in dvc_render.IMAGE_SUFFIXES:
        return raw
    if suffix not in PARSED_SUFFIXES:
        return Failure("PlotMetricTypeError",
                       f"'{path}' - file type error\nOnly JSON, YAML, CSV and TSV formats are supported.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return Failure("EncodingError", f"unable to read: '{path}', is not valid utf8")
    if suffix in (".csv", ".tsv"):
        return _load_sv(text, "\t" if suffix == ".tsv" else ",", header)
    from pyhelper.core.bounds import Exceeded, check_depth, too_deep_error

    try:
        if suffix == ".json":
            data = json.loads(text)
        elif suffix == ".toml":
            import tomllib

            data = tomllib.loads(text)
        elif suffix == ".py":
            return Failure("PlotMetricTypeError", f"'{path}' - xp does not read plots from Python files")
        else:
            from pyhelper.core.yamlio.yamlfile import parse_yaml

            data = parse_yaml(text, path=path)
        check_depth(data)
    except (ValueError, BadInput, RecursionError, Exceeded) as exc:
        kind = {".json": "JSON", ".toml": "TOML"}.get(suffix, "YAML")
        if isinstance(exc, (RecursionError, Exceeded)) or (isinstance(exc, BadInput)
                                                           and not exc.message.startswith("malformed")):
            # Past xp's limits (bounds.py): DVC would hang or crash here; say which limit, where.
            limit = exc if isinstance(exc, BadInput) else too_deep_error()
            return Failure(f"{kind}FileCorruptedError", f"{path}: {limit}" if not isinstance(exc, BadInput)
                           else str(exc))
        return Failure(f"{kind}FileCorruptedError", f"unable to read: '{path}', {kind} file structure is corrupted")
    return data or {}


def _load_sv(text: str, delimiter: str, header: bool) -> list[dict[str, Any]]:
    """DVC's _load_sv, quirks kept: without a header the columns are counted in the first row split at commas."""
    if header:
        return list(csv.DictReader(io.StringIO(text), delimiter=delimiter))
    first = next(csv.reader(io.StringIO(text)), None)
    names = [str(i) for i in range(len(first or []))]
    return list(csv.DictReader(io.StringIO(text), delimiter=delimiter, fieldnames=names))


def collect(project: Project, repo: pygit2.Repository | None, revs: list[tuple[str, Revision]], *,
            targets: list[str], props: dict[str, Any]) -> dict[str, _RevData]:
    """Each revision's definitions and sources, by the name DVC prints (the revision as typed)."""
    from pyhelper.core.pipeline.dvcfile import parse_pipeline

    # DVC reads the workspace first whatever the order given (repo.brancher's order).
    revs = sorted(revs, key=lambda item: item[0] != WORKSPACE)
    found: dict[str, _RevData] = {}
    for name, revision in revs:
        snap = snapshot(project, repo, revision)
        data = found[name] = _RevData()
        try:
            pipeline = parse_pipeline(snap.text, files=list(snap.pipeline_files()), sub=project.sub)
            # xp's own reading checks every plot's files are inside the repository (never read otherwise).
            plot_definitions(pipeline)
        except XpError as exc:
            if revision.kind == WORKSPACE:
                # The user's own dvc.yaml stops the command with the fix, as everywhere in xp (DVC lists it
                # among `errors`); another revision's is that revision's error, as DVC reports it.
                raise
            data.error = Failure(type(exc).__name__, str(exc))
            continue
        data.definitions = _definitions(project, snap, pipeline, targets, props)
        sources = dict.fromkeys(path for config in data.definitions.values()
                                for plot_id, definition in config.items()
                                for path in infer_sources(plot_id, definition))
        for path in sources:
            joined = _source_props(pipeline, project, path) | props
            repo_path = posixpath.normpath(posixpath.join(project.sub, path)) if project.sub else path
            # A target typed outside the repository is not found, as DVC's file system does not reach there.
            raw = snap.read(repo_path) if plain_path(repo_path) else None
            data.sources[path] = parse(raw, path, header=joined.get("header", True))
    return found


def _group(found: dict[str, _RevData]) -> dict[str, list[tuple[str, str, dict[str, Any]]]]:
    """Definitions by plot id across revisions (DVC's group_definitions, `config::id` for an id in two files)."""
    groups: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for rev, data in found.items():
        by_id: dict[str, dict[str, dict[str, Any]]] = {}
        for config, plots in data.definitions.items():
            for plot_id, definition in plots.items():
                by_id.setdefault(plot_id, {})[config] = definition
        for plot_id, configs in by_id.items():
            for config, definition in configs.items():
                full = plot_id if len(configs) == 1 or not config else f"{config}::{plot_id}"
                groups.setdefault(full, []).append((rev, plot_id, definition))
    return groups


@dataclass
class Rendered:
    """One plot id's renderer and what failed for it (DVC's RendererWithErrors)."""

    name: str
    kind: str
    """vega | image"""
    vega: dvc_render.VegaPlot | None
    images: list[dict[str, Any]]
    source_errors: dict[str, dict[str, Failure]]
    definition_errors: dict[str, Failure]


def render(project: Project, found: dict[str, _RevData], *, out: Path, cwd: Path) -> list[Rendered]:
    """DVC's match_defs_renderers: a renderer per plot id; image files written under `out`."""
    from pyhelper.core.plots.dvc_convert import flat_datapoints, image_datapoints

    templates_dir = project.root / project.sub / ".dvc" / "plots" if (project.root / project.sub / ".dvc").is_dir() \
        else None
    rendered = []
    for plot_id, group in _group(found).items():
        props: dict[str, Any] = {}
        for _, _, definition in reversed(group):
            props = props | definition
        points: list[dict[str, Any]] = []
        first_props: dict[str, Any] = {}
        definition_errors: dict[str, Failure] = {}
        source_errors: dict[str, dict[str, Failure]] = {}
        revs: list[str] = []
        kind = "vega"
        renderer_id = plot_id
        for rev, inner_id, definition in group:
            sources = infer_sources(inner_id, definition)
            data = {s: found[rev].sources[s] for s in sources
                    if s in found[rev].sources and not isinstance(found[rev].sources[s], Failure)
                    and found[rev].sources[s]}
            if dvc_render.is_image(inner_id):
                kind, renderer_id = "image", inner_id
            else:
                kind, renderer_id = "vega", plot_id
            for source in sources:
                if isinstance(failure := found[rev].sources.get(source), Failure):
                    source_errors.setdefault(rev, {})[source] = failure
            try:
                if kind == "image":
                    dps, rev_props = image_datapoints(data, props, rev, out)
                else:
                    dps, rev_props = flat_datapoints(inner_id, data, props, rev)
            except Exception as exc:  # noqa: BLE001  # DVC keeps any failure of one revision as that plot's error.
                definition_errors[rev] = Failure(getattr(exc, "dvc_type", type(exc).__name__), str(exc))
                continue
            if dps and rev not in revs:
                revs.append(rev)
            if not first_props and rev_props:
                first_props = rev_props
            points.extend(dps)
        first_props.setdefault("title", renderer_id)
        if revs:
            first_props["revs_with_datapoints"] = revs
        vega = None
        if kind == "vega":
            template = dvc_render.load_template(first_props.get("template"), templates_dir, cwd)
            vega = dvc_render.VegaPlot(points, renderer_id, template, first_props)
        rendered.append(Rendered(renderer_id, kind, vega, points if kind == "image" else [], source_errors,
                                 definition_errors))
    return rendered


def to_json(item: Rendered, split: bool) -> list[dict[str, Any]]:
    """DVC's render.convert.to_json: a vega entry with its filled spec, or one entry per image."""
    if item.kind == "image":
        return [{"type": "image", "revisions": [point.get("rev")], "url": point.get("src")} for point in item.images]
    vega = item.vega
    assert vega is not None
    if not vega.datapoints:
        return []
    revs = vega.revisions()
    if split:
        content = vega.filled(dvc_render.SPLIT_ANCHORS)
        extra: dict[str, Any] = {"anchor_definitions": vega.split}
    else:
        content, extra = vega.filled(), {}
    return [{"type": "vega", "revisions": revs, "content": content, **extra}]


def show_json(found: dict[str, _RevData], rendered: list[Rendered], *, split: bool) -> dict[str, Any]:
    """What `dvc plots show/diff --json` prints: {"data": {id: [entries]}, "errors": [...]}, empty ones left out."""
    errors: list[dict[str, Any]] = []
    data: dict[str, Any] = {}
    for item in rendered:
        data[item.name] = to_json(item, split)
        errors += [{"name": item.name, "rev": rev, "source": source, "type": e.type, "msg": e.msg}
                   for rev, per_source in item.source_errors.items() for source, e in per_source.items()]
        errors += [{"name": item.name, "rev": rev, "type": e.type, "msg": e.msg}
                   for rev, e in item.definition_errors.items()]
    errors += [{"rev": rev, "type": d.error.type, "msg": d.error.msg} for rev, d in found.items() if d.error]
    return {key: value for key, value in (("errors", errors), ("data", data)) if value}


def show_vega(rendered: list[Rendered]) -> dict[str, Any] | None:
    """The filled spec of the first Vega plot (`--show-vega`), None when there is none."""
    for item in rendered:
        if item.kind == "vega" and item.vega is not None:
            return item.vega.filled()
    return None


def image_name(rev: str, filename: str) -> str:
    """The file an image of a revision is written to (DVC's `{rev}_{filename}`, separators made `_`)."""
    return f"{rev}_{filename}".replace(os.sep, "_").replace("/", "_")
