"""`xp plots show/diff`: the pipeline's plots for chosen revisions and experiments, data joined.

Each revision is read on its own terms: its dvc.yaml says which plots it has, its files hold the
data, so an experiment that added a plot shows it and one that lacks a file is simply absent from
that plot. Records of every revision are joined into one data set per plot, tagged with the
revision's label, which the Vega-Lite templates colour by.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pyhelper.core.plots.definitions import PlotDef, Source, definitions
from pyhelper.core.plots.series import IMAGE_SUFFIXES, Snapshot, is_image
from pyhelper.core.plots.templates import image_spec
from pyhelper.core.plots.templates import spec as build_spec
from pyhelper.core.project import Project
from pyhelper.errors import BadInput, UnknownExperiment, UnknownRevision, XpError, did_you_mean

if TYPE_CHECKING:
    import pygit2

    from pyhelper.core.git.refs import ExpRef

WORKSPACE = "workspace"
MAX_IMAGE_BYTES = 10 * 1024 * 1024
"""An image larger than this is left out (named in the errors): it would make the report unusably large."""
LIVE_DIR = "dvclive/plots/metrics"
"""Where `pyhelper.live` writes per-step metric curves (DVCLive's layout); plotted even when undeclared."""


@dataclass(frozen=True)
class Revision:
    """A revision shown in plots: the workspace, a commit or an experiment."""

    label: str
    """What the plots call it: the experiment's name, the name typed, or 'workspace'."""
    rev: str
    """Commit id, 'workspace', or 'running' (files read from the run's work tree as it writes them)."""
    kind: str
    """workspace | commit | experiment | running"""
    root: str | None = None
    """A running experiment's work tree (the workspace, or its private copy under .xp/tmp/)."""


@dataclass(frozen=True)
class Columns:
    """A plot's records as columns: `rev` and `series` as runs of (value, count), then every x and y.

    What the Plots panel receives (a fifth of the JSON of records, and no record built in Python);
    `records()` makes Vega's rows for the CLI's JSON and the HTML report.
    """

    rev: tuple[tuple[str, int], ...]
    series: tuple[tuple[str, int], ...]
    x: list[Any]
    y: list[Any]

    def records(self) -> list[dict[str, Any]]:
        """One {rev, series, x, y} per point, in order."""
        revs = [label for label, count in self.rev for _ in range(count)]
        series = [name for name, count in self.series for _ in range(count)]
        return [{"rev": r, "series": s, "x": x, "y": y}
                for r, s, x, y in zip(revs, series, self.x, self.y, strict=True)]


@dataclass(frozen=True)
class Plot:
    """One chart: its id, how it is drawn and its Vega-Lite spec."""

    id: str
    template: str
    spec: dict[str, Any]
    """The Vega-Lite spec; its data.values is empty when `columns` holds the data (see `inline()`)."""
    revisions: tuple[str, ...] = ()
    """Labels of the revisions that have data in this plot."""
    columns: Columns | None = None
    """The data of a plot read from files, as columns; None when the spec has its data inline."""
    pending: bool = False
    """Its files were not read (beyond `collect(first=…)`): `spec` is empty; ask again with its id as target."""

    def inline(self) -> dict[str, Any]:
        """The spec with its data inline, as Vega-Lite takes it."""
        if self.columns is None:
            return self.spec
        return {**self.spec, "data": {**self.spec["data"], "values": self.columns.records()}}


@dataclass(frozen=True)
class Plots:
    """Every chart of a report, the revisions it compares and what could not be read (as data)."""

    revisions: tuple[Revision, ...]
    plots: tuple[Plot, ...]
    errors: tuple[str, ...] = field(default_factory=tuple)
    """`label: path: why` for each file that could not be read in one revision."""


def open_git(project: Project) -> pygit2.Repository | None:
    """The repository, or None when it has no commits yet (only the workspace can be plotted)."""
    from pyhelper.core.git.gitrepo import open_repo

    return open_repo(project) if project.has_commits() else None


def select(project: Project, repo: pygit2.Repository | None, specs: list[str]) -> list[Revision]:
    """The revisions `specs` name (experiment names first, then git revisions, or 'workspace'), deduplicated.

    No specs means HEAD and the workspace, as `dvc plots diff` does.
    """
    if not specs:
        specs = (["HEAD"] if repo is not None else []) + [WORKSPACE]
    chosen: list[Revision] = []
    running = _running(project) if repo is not None else {}
    refs = None
    if repo is not None and any(spec != WORKSPACE and spec not in running for spec in specs):
        from pyhelper.core.git.gitrepo import exp_refs

        refs = exp_refs(repo)  # Once for every name (20 names × 1,000 refs was 0.8 s).
    for spec in specs:
        found = running.get(spec) or _one(repo, spec, refs)
        if all(item.rev != found.rev for item in chosen):
            chosen.append(found)
    return chosen


def experiments_of_head(repo: pygit2.Repository) -> list[str]:
    """Names of the experiments of HEAD's baseline, oldest first."""
    from pyhelper.core.git.gitcore import lookup_commit
    from pyhelper.core.git.gitrepo import exp_refs

    head = str(repo.head.target)
    found = [(lookup_commit(repo, rev).commit_time, ref.name) for ref, rev in exp_refs(repo) if ref.baseline == head]
    return [name for _, name in sorted(found)]


def experiments_of_all(repo: pygit2.Repository) -> list[Revision]:
    """Every experiment of every commit, oldest first; a name two baselines share gets its baseline's short sha."""
    from collections import Counter

    from pyhelper.core.git.gitcore import lookup_commit
    from pyhelper.core.git.gitrepo import exp_refs

    found = sorted((lookup_commit(repo, rev).commit_time, ref.name, ref.baseline, rev) for ref, rev in exp_refs(repo))
    shared = Counter(name for _, name, _, _ in found)
    return [Revision(name if shared[name] == 1 else f"{name} ({baseline[:7]})", rev, "experiment")
            for _, name, baseline, rev in found]


def _running(project: Project) -> dict[str, Revision]:
    """Experiments being run now, by name: their plots are read from the files the run is writing."""
    from pyhelper.core.experiments.checkpoint import live_runs

    found = {}
    for ref, run in live_runs(project).items():
        name = ref.rsplit("/", 1)[-1]
        if run.get("root"):
            found[name] = Revision(name, "running", "running", root=str(run["root"]))
    return found


def _one(repo: pygit2.Repository | None, spec: str, refs: list[tuple[ExpRef, str]] | None = None) -> Revision:
    if spec == WORKSPACE:
        return Revision(WORKSPACE, WORKSPACE, WORKSPACE)
    if repo is None:
        raise UnknownRevision(f"unknown revision '{spec}' (the repository has no commits)",
                              hint="commit first, or plot the workspace")
    from pyhelper.core.experiments.resolve import find
    from pyhelper.core.git.gitcore import native

    try:
        found = find(repo, spec, refs=refs)
        return Revision(spec, found.rev, "experiment")
    except UnknownExperiment as exc:
        not_an_experiment = exc
    git = native()
    try:
        commit = repo.revparse_single(spec).peel(git.Commit)
    except (KeyError, ValueError, git.GitError):
        raise UnknownRevision(f"'{spec}' is neither an experiment nor a git revision",
                              hint=not_an_experiment.hint or "use an experiment name, a commit, a branch, "
                              "HEAD~N or 'workspace'") from None
    label = spec if spec != "HEAD" or repo.head_is_detached else repo.head.shorthand
    return Revision(label, str(commit.id), "commit")


def snapshot(project: Project, repo: pygit2.Repository | None, revision: Revision) -> Snapshot:
    """The files of a revision."""
    if revision.kind == "running":
        from pathlib import Path

        return Snapshot(project, repo, None, root=Path(revision.root or project.root))
    if revision.kind == WORKSPACE or repo is None:
        return Snapshot(project, repo, None)
    return Snapshot(project, repo, repo[revision.rev].tree)


def _definitions(snap: Snapshot) -> list[PlotDef]:
    """The revision's declared plots, plus the live metric curves when they exist undeclared."""
    from pyhelper.core.pipeline.dvcfile import parse_pipeline

    defs = definitions(parse_pipeline(snap.text, files=list(snap.pipeline_files()), sub=snap.project.sub))
    covered = any(s.path == LIVE_DIR or LIVE_DIR.startswith(s.path + "/") for d in defs for s in d.sources)
    if not covered and snap.files(LIVE_DIR):
        defs.append(PlotDef(id=LIVE_DIR, sources=(Source(LIVE_DIR, x="step"),)))
    return defs


def _matches(plot_id: str, path: str, targets: list[str]) -> bool:
    return not targets or any(t in (plot_id, path) or path.startswith(t.rstrip("/") + "/") for t in targets)


class _Joined:
    """The records of one plot across revisions, before they become a spec."""

    def __init__(self, definition: PlotDef):
        self.definition = definition
        self.chunks: list[tuple[str, str, str, list[Any], list[Any]]] = []
        """(revision label, file, field, xs, ys): made into records once, when the plot's series are known."""
        self.series: set[tuple[str, str]] = set()
        self.x_fields: set[str] = set()
        self.revisions: list[str] = []
        self.images: list[dict[str, str]] = []
        """{rev, series, url} of an image plot, url a data: URL."""
        self.pending = False
        """Beyond the first plots asked for: listed, its files not read."""


def override(definition: PlotDef, props: dict[str, str]) -> PlotDef:
    """A definition with properties given on the command line (`-x`, `-y`, `--template`, `--title`…)
    in place of its own, as DVC applies them to the targets."""
    from dataclasses import replace

    from pyhelper.core.plots.definitions import template_of

    changes: dict[str, Any] = {}
    if props.get("template"):
        changes["template"] = template_of(props["template"], "--template")
    for key in ("title", "x_label", "y_label"):
        if props.get(key):
            changes[key] = props[key]
    if props.get("x") or props.get("y"):
        changes["sources"] = tuple(replace(source, x=props.get("x") or source.x,
                                           y=(props["y"],) if props.get("y") else source.y)
                                   for source in definition.sources)
    return replace(definition, **changes) if changes else definition


def collect(project: Project, revisions: list[Revision], *, targets: list[str] | None = None,
            repo: pygit2.Repository | None = None, first: int | None = None,
            props: dict[str, str] | None = None) -> Plots:
    """The plots of `revisions` (only those matching `targets`, ids or paths, when given).

    With `first`, only the first that many plots have their files read; the others are listed as
    `pending` (a panel draws what is on screen while it asks for the rest by id). `props` override the
    definitions' own properties (DVC's `-x`, `-y`, `--template`, `--title`, `--x-label`, `--y-label`).
    """
    targets = [posixpath.normpath(t) for t in targets or []]
    joined: dict[str, _Joined] = {}
    errors: list[str] = []
    for revision in revisions:
        snap = snapshot(project, repo, revision)
        try:
            defs = _definitions(snap)
        except XpError as exc:
            if revision.kind == WORKSPACE:
                raise
            errors.append(f"{revision.label}: {exc}")
            continue
        for definition in defs:
            if props and (not targets or _matches(definition.id, definition.sources[0].path, targets)):
                definition = override(definition, props)
            for source in definition.sources:
                for path in snap.files(source.path):
                    # A folder's files are plots of their own (DVC's rule); a named plot stays one.
                    plot_id = path if path != source.path and definition.id == source.path else definition.id
                    if not _matches(plot_id, path, targets):
                        continue
                    if first is not None:
                        listed = joined.get(plot_id)
                        if listed is None and len(joined) >= first:
                            listed = joined[plot_id] = _Joined(definition)
                            listed.pending = True
                        if listed is not None and listed.pending:
                            if revision.label not in listed.revisions:
                                listed.revisions.append(revision.label)
                            continue
                    if is_image(path):
                        raw = snap.read(path)
                        if raw is None:
                            continue
                        if len(raw) > MAX_IMAGE_BYTES:
                            errors.append(f"{revision.label}: {path}: image of {len(raw) // 2**20} MB left out "
                                          f"(the limit is {MAX_IMAGE_BYTES // 2**20} MB)")
                            continue
                        _add_image(joined.setdefault(plot_id, _Joined(definition)), revision.label, path, raw)
                        continue
                    try:
                        columns = snap.series(path)
                    except XpError as exc:
                        errors.append(f"{revision.label}: {exc}")
                        continue
                    if columns is None:
                        continue
                    plot = joined.setdefault(plot_id, _Joined(definition))
                    _join(plot, revision.label, path, source, columns)
    if targets and not joined:
        known = sorted({d.id for r in revisions for d in _safe_defs(project, repo, r)})
        raise BadInput(f"no plot matches {', '.join(targets)}",
                       hint=did_you_mean(targets[0], known)
                       or f"plots: {', '.join(known) or 'none declared in dvc.yaml'}")
    labels = [r.label for r in revisions]
    plots = tuple(_plot(plot_id, item, labels) for plot_id, item in joined.items())
    return Plots(revisions=tuple(revisions), plots=plots, errors=tuple(errors))


def _safe_defs(project: Project, repo: pygit2.Repository | None, revision: Revision) -> list[PlotDef]:
    try:
        return _definitions(snapshot(project, repo, revision))
    except XpError:
        return []


def _join(plot: _Joined, label: str, path: str, source: Source, columns: dict[str, list[Any]]) -> None:
    """Adds one file's columns of one revision to a plot: an (xs, ys) pair per y field drawn."""
    length = len(next(iter(columns.values()), []))
    if not length:
        return
    x = source.x
    y_fields = list(source.y) or [c for c in columns if c != x][-1:]
    if label not in plot.revisions:
        plot.revisions.append(label)
    plot.x_fields.add(x or "step")
    xs = columns.get(x) if x else list(range(length))
    if xs is None:
        return
    for name in y_fields:
        ys = columns.get(name)
        if ys is None:
            continue
        if None in xs or None in ys:  # A record without x or without this field is not drawn.
            pairs = [(a, b) for a, b in zip(xs, ys, strict=True) if a is not None and b is not None]
            chunk_xs, chunk_ys = [a for a, _ in pairs], [b for _, b in pairs]
        else:
            chunk_xs, chunk_ys = xs, ys
        if chunk_xs:
            plot.chunks.append((label, path, name, chunk_xs, chunk_ys))
            plot.series.add((path, name))


def _add_image(plot: _Joined, label: str, path: str, raw: bytes) -> None:
    """Adds one revision's image file to an image plot, as a data: URL (the report loads nothing else)."""
    import base64

    mime = IMAGE_SUFFIXES[posixpath.splitext(path)[1].lower()]
    if label not in plot.revisions:
        plot.revisions.append(label)
    plot.images.append({"rev": label, "series": path,
                        "url": f"data:{mime};base64,{base64.b64encode(raw).decode('ascii')}"})


def _plot(plot_id: str, item: _Joined, labels: list[str]) -> Plot:
    """The spec of a joined plot; series are named by field, or by file and field when files differ."""
    present = [label for label in labels if label in item.revisions]
    if item.pending:
        template = "image" if is_image(plot_id) else item.definition.template
        return Plot(id=plot_id, template=template, spec={}, revisions=tuple(present), pending=True)
    if item.images:
        return Plot(id=plot_id, template="image", revisions=tuple(present),
                    spec=image_spec(item.images, labels=present, title=item.definition.title or plot_id))
    one_file = len({path for path, _ in item.series}) == 1
    revs: list[tuple[str, int]] = []
    names: list[tuple[str, int]] = []
    xs_all: list[Any] = []
    ys_all: list[Any] = []
    numeric = True
    for label, path, name, xs, ys in item.chunks:
        revs.append((label, len(xs)))
        names.append((name if one_file else f"{path}: {name}", len(xs)))
        xs_all.extend(xs)
        ys_all.extend(ys)
        numeric = numeric and set(map(type, xs)) <= {int, float}
    definition = item.definition
    fields = sorted({name for _, name in item.series})
    # Every revision keeps its colour in every plot, so the scale lists them all.
    spec = build_spec(definition.template, [], labels=labels, title=definition.title or plot_id,
                      x_type="quantitative" if numeric and xs_all else "ordinal", several=len(item.series) > 1,
                      x_label=definition.x_label or ", ".join(sorted(item.x_fields)),
                      y_label=definition.y_label or (fields[0] if len(fields) == 1 else "value"), size=len(xs_all))
    return Plot(id=plot_id, template=definition.template, spec=spec, revisions=tuple(present),
                columns=Columns(rev=tuple(revs), series=tuple(names), x=xs_all, y=ys_all))
