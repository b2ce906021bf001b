"""The stage graph: edges from an output to the stages that depend on it, checked and ordered.

A stage depends on another when one of its deps is (or is inside, or contains) the other's
output. Two stages writing the same output, cycles, and inputs that neither exist nor come from
a stage are errors naming the stage and the line in dvc.yaml — all found before anything runs,
so a bad pipeline never leaves half of itself reproduced.
"""

from __future__ import annotations

from pathlib import Path

from pyhelper.core.stage import Out, Pipeline, Stage
from pyhelper.errors import PipelineError, did_you_mean


def _overlaps(a: str, b: str) -> bool:
    """True when one repository path is the other or lies inside it."""
    return a == b or a.startswith(b + "/") or b.startswith(a + "/") or a == "." or b == "."


def _error(root: Path, message: str, stage: str, hint: str, *keys: str | int,
           value: str | None = None) -> PipelineError:
    """An error pointing at a stage's definition in dvc.yaml, or at an entry in it."""
    from pyhelper.core.dvcfile import source_line

    return PipelineError(message, hint=hint, path="dvc.yaml", line=source_line(root, stage, *keys, value=value))


def _out_keys(stage: Stage, out: Out) -> tuple[str, int]:
    """Where an output is written in its stage: its section and its index there."""
    same_kind = [o for o in stage.outs if o.kind == out.kind]
    return out.kind, same_kind.index(out)


def upstream(pipeline: Pipeline, root: Path) -> dict[str, list[str]]:
    """For each stage, the stages whose outputs it depends on (checked: no shared outputs)."""
    producers: list[tuple[str, str]] = []
    for stage in pipeline.stages.values():
        for out in stage.outs:
            path = stage.repo_path(out.path)
            for other, other_path in producers:
                if _overlaps(path, other_path):
                    if path == other_path:
                        message = f"stages '{other}' and '{stage.name}' both produce '{path}'"
                        hint = "each output must come from exactly one stage; remove it from one of them or rename it"
                    else:
                        message = (f"output '{path}' of stage '{stage.name}' overlaps output '{other_path}' "
                                   f"of stage '{other}'")
                        hint = ("one stage's output cannot lie inside another's; move one of them elsewhere, "
                                "or let one stage produce both")
                    raise _error(root, message, stage.name, hint, *_out_keys(stage, out))
            producers.append((stage.name, path))
    edges: dict[str, list[str]] = {}
    for stage in pipeline.stages.values():
        found: list[str] = []
        for dep in stage.deps:
            dep_path = stage.repo_path(dep)
            for producer, out_path in producers:
                if producer != stage.name and _overlaps(dep_path, out_path) and producer not in found:
                    found.append(producer)
        edges[stage.name] = found
    return edges


def order(pipeline: Pipeline, root: Path, targets: list[str] | None = None) -> list[Stage]:
    """Stages to consider, upstream first: all of them, or the targets and what they depend on.

    Also checks, before anything runs, that every input of those stages exists or comes from a
    stage (see `check_inputs`).
    """
    edges = upstream(pipeline, root)
    names = list(pipeline.stages)
    if targets:
        for target in targets:
            if target not in pipeline.stages:
                suggestion = did_you_mean(target, names)
                listing = f"stages in dvc.yaml: {', '.join(names)}" if names else "dvc.yaml declares no stages"
                raise PipelineError(
                    f"unknown stage '{target}'",
                    hint=f"{suggestion} ({listing})" if suggestion else listing,
                    path="dvc.yaml",
                )
        roots = targets
    else:
        roots = names
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
                first, "a stage cannot depend, directly or not, on its own output; remove one of these dependencies",
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
    """Every dep and params key of these stages exists, or is the output of some stage.

    Frozen stages are not checked (they do not run). Inputs that a stage produces may be missing
    now; `xp repro` makes them before their users run.
    """
    from pyhelper.core.params import get_value, load_params, missing_key_error

    produced = [stage.repo_path(o.path) for stage in pipeline.stages.values() for o in stage.outs]
    loaded: dict[str, dict] = {}
    for stage in stages:
        if stage.frozen:
            continue
        for index, dep in enumerate(stage.deps):
            path = stage.repo_path(dep)
            if any(_overlaps(path, out) for out in produced) or (root / path).exists():
                continue
            raise _error(root, f"dependency '{path}' of stage '{stage.name}' does not exist",
                         stage.name, "create it, fix the path under `deps:`, or add the stage that produces it",
                         "deps", index, value=dep)
        for params in stage.params:
            path = stage.repo_path(params.file)
            if any(_overlaps(path, out) for out in produced):
                continue
            if path not in loaded:
                if not (root / path).is_file():
                    raise _error(
                        root, f"params file '{path}' of stage '{stage.name}' does not exist", stage.name,
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
                        stage.name, missing.hint, "params", value=key,
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
