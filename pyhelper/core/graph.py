"""The stage graph: edges from an output to the stages that depend on it, checked and ordered.

A stage depends on another when one of its deps is (or is inside, or contains) the other's
output. Two stages writing the same output, and cycles, are errors naming both stages.
"""

from __future__ import annotations

from pathlib import Path

from pyhelper.core.stage import Pipeline, Stage
from pyhelper.errors import PipelineError, did_you_mean


def _overlaps(a: str, b: str) -> bool:
    """True when one repository path is the other or lies inside it."""
    return a == b or a.startswith(b + "/") or b.startswith(a + "/") or a == "." or b == "."


def _error(root: Path, message: str, stage: str, hint: str) -> PipelineError:
    """An error pointing at a stage's definition in dvc.yaml."""
    from pyhelper.core.yamlfile import line_of

    path = root / "dvc.yaml"
    line = line_of(path.read_text(encoding="utf-8"), ["stages", stage.split("@")[0]]) if path.is_file() else None
    return PipelineError(message, hint=hint, path="dvc.yaml", line=line)


def upstream(pipeline: Pipeline, root: Path) -> dict[str, list[str]]:
    """For each stage, the stages whose outputs it depends on (checked: no shared outputs)."""
    producers: list[tuple[str, str]] = []
    for stage in pipeline.stages.values():
        for out in stage.outs:
            path = stage.repo_path(out.path)
            for other, other_path in producers:
                if _overlaps(path, other_path):
                    raise _error(
                        root,
                        f"stages '{other}' and '{stage.name}' both produce '{path}'"
                        if path == other_path
                        else f"output '{path}' of stage '{stage.name}' overlaps output '{other_path}' of stage '{other}'",
                        stage.name,
                        "each output must be produced by exactly one stage; rename one of them",
                    )
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
    """Stages to consider, upstream first: all of them, or the targets and what they depend on."""
    edges = upstream(pipeline, root)
    names = list(pipeline.stages)
    if targets:
        for target in targets:
            if target not in pipeline.stages:
                suggestion = did_you_mean(target, names)
                raise PipelineError(
                    f"unknown stage '{target}'",
                    hint=suggestion or f"stages in dvc.yaml: {', '.join(names) or '(none)'}",
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
            raise _error(root, f"the pipeline has a cycle: {' -> '.join(cycle)}", name,
                         "a stage cannot depend, directly or not, on its own output; remove one dependency")
        state[name] = 1
        for parent in edges[name]:
            visit(parent, path + [name])
        state[name] = 2
        result.append(name)

    for name in roots:
        visit(name, [])
    return [pipeline.stages[name] for name in result]


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
