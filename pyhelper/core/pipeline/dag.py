"""`xp dag`: the pipeline's graph of stages (and `.dvc` files), or of their outputs, as DVC draws it.

Nodes are stage addresses and `.dvc` files (with `outs`: output paths); an edge goes from what is
produced to what uses it. With targets, the graph holds the targets and what they depend on; with
`full`, every stage connected to them.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from pathlib import Path

from pyhelper.core.pipeline import graph
from pyhelper.core.pipeline.stage import Pipeline


@dataclass(frozen=True)
class Dag:
    """Nodes in topological order (upstream first) and edges (from, to)."""

    nodes: tuple[str, ...]
    edges: tuple[tuple[str, str], ...]


def build(pipeline: Pipeline, root: Path, targets: list[str] | None = None, *, full: bool = False,
          outs: bool = False) -> Dag:
    """The graph of the project's stages and `.dvc` files."""
    edges_up = graph.upstream(pipeline, root)
    graph.check_data_overlaps(pipeline, root)
    data_of: dict[str, str] = {}
    """Stage → `.dvc` files whose data it depends on."""
    up: dict[str, list[str]] = {name: list(parents) for name, parents in edges_up.items()}
    for file in pipeline.data:
        up.setdefault(file.path, [])
    for name, stage in pipeline.stages.items():
        for dep in stage.deps:
            tracked = graph.tracking_file(pipeline, stage.repo_path(dep))
            if tracked is not None and tracked[0].path not in up[name]:
                up[name].append(tracked[0].path)
                data_of[name] = tracked[0].path
    everything = [f.path for f in pipeline.data] + list(pipeline.stages)
    if targets:
        chosen = graph.resolve_targets(pipeline, targets)
        chosen += [f.path for f in graph.data_targets(pipeline, targets)]
        keep = _closure(chosen, up)
        if full:
            down: dict[str, list[str]] = {n: [] for n in up}
            for node, parents in up.items():
                for parent in parents:
                    down[parent].append(node)
            both = {n: up[n] + down[n] for n in up}
            keep = _closure(chosen, both)
    else:
        keep = set(everything)
    order = [n for n in _topological(everything, up) if n in keep]
    if not outs:
        # `.dvc` files are named relative to the project's folder, as DVC names them.
        named = {f.path: _rel(pipeline, f.path) for f in pipeline.data}
        edges = [(named.get(parent, parent), named.get(node, node)) for node in order for parent in up[node]
                 if parent in keep]
        return Dag(tuple(named.get(n, n) for n in order), tuple(edges))
    return _outs_dag(pipeline, order, up, keep)


def _outs_dag(pipeline: Pipeline, order: list[str], up: dict[str, list[str]], keep: set[str]) -> Dag:
    """The same graph drawn between outputs: an edge from each output a node's dependencies use to
    each of the node's own outputs."""
    def outputs(node: str) -> list[str]:
        if node in pipeline.stages:
            stage = pipeline.stages[node]
            return [stage.repo_path(o.path) for o in stage.outs]
        file = next(f for f in pipeline.data if f.path == node)
        return [o.path for o in file.outs]

    nodes: list[str] = []
    edges: list[tuple[str, str]] = []
    for node in order:
        mine = outputs(node)
        nodes.extend(mine)
        stage = pipeline.stages.get(node)
        deps = [stage.repo_path(d) for d in stage.deps] if stage is not None else []
        for parent in up[node]:
            if parent not in keep:
                continue
            used = [o for o in outputs(parent) if any(graph._overlaps(o, d) for d in deps)]
            edges.extend((theirs, out) for theirs in used for out in mine)
    rel = [_rel(pipeline, n) for n in nodes]
    rel_edges = ((_rel(pipeline, a), _rel(pipeline, b)) for a, b in edges)
    return Dag(tuple(dict.fromkeys(rel)), tuple(dict.fromkeys(rel_edges)))


def _rel(pipeline: Pipeline, path: str) -> str:
    return posixpath.relpath(path, pipeline.sub) if pipeline.sub else path


def _closure(start: list[str], links: dict[str, list[str]]) -> set[str]:
    seen: set[str] = set()
    todo = list(start)
    while todo:
        node = todo.pop()
        if node in seen:
            continue
        seen.add(node)
        todo.extend(links.get(node, ()))
    return seen


def _topological(nodes: list[str], up: dict[str, list[str]]) -> list[str]:
    done: list[str] = []
    seen: set[str] = set()

    def visit(node: str) -> None:
        if node in seen:
            return
        seen.add(node)
        for parent in up.get(node, ()):
            visit(parent)
        done.append(node)

    for node in nodes:
        visit(node)
    return done


def render_dot(dag: Dag) -> str:
    """Graphviz, as `dvc dag --dot` writes it."""
    lines = ["strict digraph {"]
    lines += [f'"{node}";' for node in dag.nodes]
    lines += [f'"{a}" -> "{b}";' for a, b in dag.edges]
    return "\n".join(lines + ["}"]) + "\n"


def render_mermaid(dag: Dag, *, markdown: bool = False) -> str:
    """Mermaid, as `dvc dag --mermaid` (`--md`: in a fenced block) writes it."""
    ids = {node: f"node{i}" for i, node in enumerate(dag.nodes, 1)}
    lines = ["flowchart TD"]
    lines += [f'\t{ids[node]}["{node}"]' for node in dag.nodes]
    lines += [f"\t{ids[a]}-->{ids[b]}" for a, b in dag.edges]
    text = "\n".join(lines)
    return f"```mermaid\n{text}\n```\n" if markdown else text + "\n"


def render_text(dag: Dag) -> str:
    """A terminal drawing: each node in order, with what it feeds."""
    if not dag.nodes:
        return "The pipeline has no stages.\n"
    feeds: dict[str, list[str]] = {node: [] for node in dag.nodes}
    for a, b in dag.edges:
        feeds[a].append(b)
    lines = []
    for node in dag.nodes:
        lines.append(node)
        for i, child in enumerate(feeds[node]):
            lines.append(f"  {'└' if i == len(feeds[node]) - 1 else '├'}─> {child}")
    return "\n".join(lines) + "\n"
