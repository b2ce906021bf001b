"""The stage graph: edges from an output to the stages that depend on it, checked and ordered.

A stage depends on another when one of its deps is (or is inside, or contains) the other's
output. Two stages writing the same output, cycles, and inputs that neither exist nor come from
a stage are errors naming the stage and the line in dvc.yaml — all found before anything runs,
so a bad pipeline never leaves half of itself reproduced.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyhelper.core.pipeline.stage import Out, Pipeline, Stage
from pyhelper.errors import PipelineError, did_you_mean

if TYPE_CHECKING:
    from pyhelper.core.pipeline.dvcdata import DataFile, TrackedOut


def _overlaps(a: str, b: str) -> bool:
    """True when one repository path is the other or lies inside it."""
    return a == b or a.startswith(b + "/") or b.startswith(a + "/") or a == "." or b == "."


def _error(root: Path, message: str, stage: Stage, hint: str, *keys: str | int,
           value: str | None = None) -> PipelineError:
    """An error pointing at a stage's definition in its dvc.yaml, or at an entry in it."""
    from pyhelper.core.pipeline.dvcfile import source_line

    return PipelineError(message, hint=hint, path=stage.dvcfile,
                         line=source_line(root, stage.key, *keys, value=value, display=stage.dvcfile))


def _out_keys(stage: Stage, out: Out) -> tuple[str, int]:
    """Where an output is written in its stage: its section and its index there."""
    same_kind = [o for o in stage.outs if o.kind == out.kind]
    return out.kind, same_kind.index(out)


class _Outputs:
    """Every output path, indexed so that the outputs overlapping a path are found in O(depth),
    not by comparing with every other output (a `foreach` stage can make thousands)."""

    def __init__(self) -> None:
        self.exact: dict[str, list[tuple[int, str]]] = {}
        """Output path → (order, producer) of the outputs at exactly that path."""
        self.inside: dict[str, list[tuple[int, str, str]]] = {}
        """Folder → (order, producer, path) of the outputs strictly inside it."""
        self.count = 0

    def add(self, producer: str, path: str) -> None:
        self.exact.setdefault(path, []).append((self.count, producer))
        for folder in _folders(path):
            self.inside.setdefault(folder, []).append((self.count, producer, path))
        self.count += 1

    def overlapping(self, path: str) -> list[tuple[int, str, str]]:
        """(order, producer, output path) of every output that is `path`, holds it, or lies inside it."""
        found = [(i, p, path) for i, p in self.exact.get(path, ())]
        for folder in _folders(path):
            found.extend((i, p, folder) for i, p in self.exact.get(folder, ()))
        if path == ".":
            found.extend((i, p, o) for o, items in self.exact.items() if o != "." for i, p in items)
        else:
            found.extend(self.inside.get(path, ()))
            found.extend((i, p, ".") for i, p in self.exact.get(".", ()))
        return sorted(set(found))


def _folders(path: str) -> list[str]:
    """The folders holding a repository path, innermost first (not the root)."""
    parts = path.split("/")
    return ["/".join(parts[:n]) for n in range(len(parts) - 1, 0, -1)]


def upstream(pipeline: Pipeline, root: Path) -> dict[str, list[str]]:
    """For each stage, the stages whose outputs it depends on (checked: no shared outputs)."""
    outputs = _Outputs()
    for stage in pipeline.stages.values():
        for out in stage.outs:
            path = stage.repo_path(out.path)
            clash = outputs.overlapping(path)
            if clash:
                _, other, other_path = clash[0]
                if path == other_path:
                    message = f"stages '{other}' and '{stage.name}' both produce '{path}'"
                    hint = "each output must come from exactly one stage; remove it from one of them or rename it"
                else:
                    message = (f"output '{path}' of stage '{stage.name}' overlaps output '{other_path}' "
                               f"of stage '{other}'")
                    hint = ("one stage's output cannot lie inside another's; move one of them elsewhere, "
                            "or let one stage produce both")
                raise _error(root, message, stage, hint, *_out_keys(stage, out))
            outputs.add(stage.name, path)
    edges: dict[str, list[str]] = {}
    for stage in pipeline.stages.values():
        found: list[tuple[int, str]] = []
        for dep in stage.deps:
            for order_, producer, _ in outputs.overlapping(stage.repo_path(dep)):
                if producer != stage.name:
                    found.append((order_, producer))
        edges[stage.name] = list(dict.fromkeys(p for _, p in sorted(found)))
    return edges


def resolve_targets(pipeline: Pipeline, targets: list[str]) -> list[str]:
    """Stage addresses for targets written as DVC accepts them: `train`, `sub/dvc.yaml:train`,
    `sub/dvc.yaml` (all its stages), `build` (every `build@…` that `foreach`/`matrix` made), or a
    `.dvc` file (no stage: see `data_targets`)."""
    names = list(pipeline.stages)
    found: list[str] = []
    for raw in targets:
        target = raw.rstrip("/") if raw.endswith("/dvc.yaml/") else raw
        if target.startswith("./"):
            target = target[2:]
        if target in pipeline.stages:
            found.append(target)
            continue
        file, sep, name = target.rpartition(":")
        if sep and file.endswith("dvc.yaml"):
            candidate = pipeline.address(_in_project(pipeline, file), name)
            group = [n for n in names if n == candidate or n.startswith(candidate + "@")]
            if group:
                found.extend(group)
                continue
        if target.endswith("dvc.yaml"):
            dvcfile = _in_project(pipeline, target)
            in_file = [n for n, s in pipeline.stages.items() if s.dvcfile == dvcfile]
            if in_file or dvcfile in pipeline.files:
                found.extend(in_file)
                continue
        group = [n for n in names if n.startswith(target + "@")]
        if group:
            found.extend(group)
            continue
        if target.endswith(".dvc") and any(f.path == _in_project(pipeline, target) for f in pipeline.data):
            continue
        suggestion = did_you_mean(target, names)
        shown = names[:20] + (["…"] if len(names) > 20 else [])
        listing = f"stages: {', '.join(shown)}" if names else "the project declares no stages"
        raise PipelineError(
            f"unknown stage '{raw}'",
            hint=f"{suggestion} ({listing})" if suggestion else listing,
            path=pipeline.files[0] if pipeline.files else "dvc.yaml",
        )
    return list(dict.fromkeys(found))


def _in_project(pipeline: Pipeline, path: str) -> str:
    """A path written relative to the project's folder, relative to the repository root."""
    import posixpath

    normal = posixpath.normpath(path)
    return posixpath.join(pipeline.sub, normal) if pipeline.sub else normal


def data_targets(pipeline: Pipeline, targets: list[str] | None) -> list[DataFile]:
    """The `.dvc` files to consider: all of them without targets, else those named."""
    if not targets:
        return list(pipeline.data)
    wanted = {_in_project(pipeline, t) for t in targets}
    return [f for f in pipeline.data if f.path in wanted or any(o.path in wanted for o in f.outs)]


def order(pipeline: Pipeline, root: Path, targets: list[str] | None = None, *, check: bool = True) -> list[Stage]:
    """Stages to consider, upstream first: all of them, or the targets and what they depend on.

    With `check`, also checks before anything runs that every params key of those stages exists
    (see `check_inputs`); a missing dependency file is left for the caller to report.
    """
    edges = upstream(pipeline, root)
    names = list(pipeline.stages)
    roots = resolve_targets(pipeline, targets) if targets else names
    result: list[str] = []
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = path[path.index(name):] + [name]
            first, second = cycle[0], cycle[1]
            dep = _dep_on(pipeline, first, second)
            raise _error(
                root, f"the pipeline has a cycle: {' -> '.join(cycle)} (each stage depends on the next one's output)",
                pipeline.stages[first],
                "a stage cannot depend, directly or not, on its own output; remove one of these dependencies",
                "deps", value=dep,
            )
        state[name] = 1
        for parent in edges[name]:
            visit(parent, path + [name])
        state[name] = 2
        result.append(name)

    for name in roots:
        visit(name, [])
    stages = [pipeline.stages[name] for name in result]
    if check:
        check_inputs(pipeline, root, stages)
    return stages


def _dep_on(pipeline: Pipeline, stage: str, producer: str) -> str | None:
    """The dep (as written) through which `stage` depends on an output of `producer`."""
    outs = [pipeline.stages[producer].repo_path(o.path) for o in pipeline.stages[producer].outs]
    for dep in pipeline.stages[stage].deps:
        if any(_overlaps(pipeline.stages[stage].repo_path(dep), out) for out in outs):
            return dep
    return None


def check_inputs(pipeline: Pipeline, root: Path, stages: list[Stage]) -> None:
    """Every params file and key of these stages exists, or comes out of some stage.

    Frozen stages are not checked (they do not run). A dependency that nothing produces and no
    `.dvc` file tracks is a mistake in dvc.yaml (or missing code): an error before anything runs.
    Missing tracked data is not an error here: `repro` refuses only the stages that need it.
    """
    from pyhelper.core.pipeline.stage import is_url
    from pyhelper.core.values.params import get_value, load_params, missing_key_error

    produced = [stage.repo_path(o.path) for stage in pipeline.stages.values() for o in stage.outs]
    loaded: dict[str, dict[str, Any]] = {}
    for stage in stages:
        if stage.frozen:
            continue
        for out in stage.outs:
            _check_inside(root, stage, out)
        for dep in stage.deps:
            if is_url(dep):
                continue
            path = stage.repo_path(dep)
            if any(_overlaps(path, out) for out in produced) or (root / path).exists():
                continue
            if tracking_file(pipeline, path) is None:
                raise missing_dep_error(pipeline, root, stage, dep)
        for params in stage.params:
            path = stage.repo_path(params.file)
            if any(_overlaps(path, out) for out in produced):
                continue
            if path not in loaded:
                if not (root / path).is_file():
                    raise _error(
                        root, f"params file '{path}' of stage '{stage.name}' does not exist", stage,
                        f"create {path}, or fix the params entry in dvc.yaml"
                        + (" (a plain `- key` entry reads params.yaml)" if params.file == "params.yaml" else ""),
                        "params", value=params.keys[0] if params.file == "params.yaml" and params.keys else params.file,
                    )
                loaded[path] = load_params(root / path, display=path)
            for key in params.keys:
                try:
                    get_value(loaded[path], key)
                except KeyError:
                    missing = missing_key_error(key, loaded[path], display=path)
                    raise _error(
                        root, f"stage '{stage.name}' depends on params key '{key}', which {path} does not have",
                        stage, missing.hint, "params", value=key,
                    ) from None


def downstream(pipeline: Pipeline, root: Path, names: set[str]) -> set[str]:
    """`names` and every stage that depends on them, directly or not."""
    edges = upstream(pipeline, root)
    found = set(names)
    changed = True
    while changed:
        changed = False
        for stage, parents in edges.items():
            if stage not in found and found.intersection(parents):
                found.add(stage)
                changed = True
    return found


def tracking_file(pipeline: Pipeline, path: str) -> tuple[DataFile, TrackedOut] | None:
    """The `.dvc` file and its output that track `path` (or a folder holding it), or None."""
    for file in pipeline.data:
        for out in file.outs:
            if path == out.path or path.startswith(out.path + "/"):
                return file, out
    return None


def missing_dep_error(pipeline: Pipeline, root: Path, stage: Stage, dep: str) -> PipelineError:
    """Why a stage cannot run: one of its dependencies is not there, and how to get it."""
    from pyhelper.core.pipeline.stage import is_url

    if is_url(dep):
        from pyhelper.core.storage.urls import check

        problem = check(dep).problem or "it could not be read"
        index = stage.deps.index(dep) if dep in stage.deps else 0
        return _error(root, f"dependency '{dep}' of stage '{stage.name}' could not be checked: {problem}", stage,
                      "check the URL and your network, or run this stage with `dvc repro`", "deps", index, value=dep)
    path = stage.repo_path(dep)
    tracked = tracking_file(pipeline, path)
    if tracked is not None:
        file, _ = tracked
        hint = (f"it is data tracked by {file.path} and is neither in the workspace nor in the cache: "
                f"get it from the project's remote storage (`dvc pull {file.path}`)")
    else:
        hint = f"create it, fix the path under `deps:` in {stage.dvcfile}, or add the stage that produces it"
    index = stage.deps.index(dep) if dep in stage.deps else 0
    return _error(root, f"dependency '{path}' of stage '{stage.name}' does not exist", stage, hint,
                  "deps", index, value=dep)


@dataclass(frozen=True)
class Selection:
    """Which stages a `repro` considers besides its targets (DVC's `repro` options)."""

    downstream: bool = False
    """The targets and every stage depending on them (not what they depend on)."""
    single_item: bool = False
    """The targets alone."""
    pipeline: bool = False
    """Every stage of the pipelines (connected stages) the targets belong to."""
    all_pipelines: bool = False
    """Every stage of the project."""
    glob: bool = False
    """Targets are shell patterns over stage addresses."""
    recursive: bool = False
    """Targets are folders: every stage declared in a dvc.yaml under them."""


def select(pipeline: Pipeline, root: Path, targets: list[str] | None, selection: Selection = Selection(),
           *, check: bool = True) -> list[Stage]:
    """The stages to consider, upstream first, as DVC's `repro` options choose them."""
    import fnmatch
    import posixpath

    if selection.all_pipelines or not targets:
        return order(pipeline, root, None, check=check)
    names = list(pipeline.stages)
    chosen: list[str] = []
    if selection.glob:
        for target in targets:
            matched = [n for n in names if fnmatch.fnmatchcase(n, target)]
            if not matched:
                raise PipelineError(f"no stage matches '{target}'",
                                    hint="quote the pattern so the shell leaves it alone, e.g. --glob 'train*'",
                                    path=pipeline.files[0] if pipeline.files else "dvc.yaml")
            chosen.extend(matched)
    elif selection.recursive:
        for target in targets:
            folder = _in_project(pipeline, target.rstrip("/") or ".")
            inside = [n for n, s in pipeline.stages.items()
                      if folder in (".", "") or posixpath.dirname(s.dvcfile) == folder
                      or s.dvcfile.startswith(folder + "/")]
            if not inside:
                raise PipelineError(f"no dvc.yaml under '{target}' declares a stage",
                                    hint="name a folder holding dvc.yaml files (or drop -R to name stages)")
            chosen.extend(inside)
    else:
        chosen = resolve_targets(pipeline, targets)
    chosen = list(dict.fromkeys(chosen))
    everything = order(pipeline, root, None, check=False)
    if selection.single_item:
        keep = set(chosen)
    elif selection.downstream:
        keep = downstream(pipeline, root, set(chosen))
    elif selection.pipeline:
        edges = upstream(pipeline, root)
        links: dict[str, set[str]] = {n: set(p) for n, p in edges.items()}
        for name, parents in edges.items():
            for parent in parents:
                links[parent].add(name)
        keep, todo = set(), list(chosen)
        while todo:
            name = todo.pop()
            if name not in keep:
                keep.add(name)
                todo.extend(links[name])
    else:
        stages = order(pipeline, root, chosen, check=check)
        return stages
    stages = [s for s in everything if s.name in keep]
    if check:
        check_inputs(pipeline, root, stages)
    return stages


def check_data_overlaps(pipeline: Pipeline, root: Path) -> None:
    """A path is either a stage's output or data a `.dvc` file tracks, never both (DVC refuses to build
    its graph then): the error names both."""
    outputs = _Outputs()
    for stage in pipeline.stages.values():
        for out in stage.outs:
            outputs.add(stage.name, stage.repo_path(out.path))
    for file in pipeline.data:
        for tracked in file.outs:
            clash = outputs.overlapping(tracked.path)
            if clash:
                _, owner, path = clash[0]
                raise _error(root, f"'{tracked.path}', tracked by {file.path}, overlaps output '{path}' of stage "
                             f"'{owner}'",
                             pipeline.stages[owner],
                             f"a path is either data a .dvc file tracks or a stage's output: remove {file.path} "
                             "(git rm it) or the output from the stage")


def _check_inside(root: Path, stage: Stage, out: Out) -> None:
    """An output xp would write (or remove before the command runs) must be inside the repository."""
    import posixpath

    if posixpath.isabs(out.path) or Path(out.path).is_absolute():
        raise _error(root, f"path '{out.path}' in stage '{stage.name}' is absolute", stage,
                     f"use a path relative to {stage.dvcfile} (xp writes outputs only inside the repository)",
                     *_out_keys(stage, out))
    normal = stage.repo_path(out.path)
    if normal == ".." or normal.startswith("../"):
        where = f" (with wdir '{stage.wdir}')" if stage.wdir != "." else ""
        raise _error(root, f"path '{out.path}' in stage '{stage.name}' is outside the repository{where}", stage,
                     "keep every output inside the repository", *_out_keys(stage, out))
