"""Limits on the shape of structured data xp reads (YAML, JSON, TOML), whoever wrote it.

Params, metrics, dvc.yaml, dvc.lock, .dvc files and plot data also arrive inside pulled
experiments, so their shape is untrusted. Two limits keep a hostile file from exhausting memory
or the stack, far beyond anything a real pipeline writes:

- nesting: at most `MAX_DEPTH` levels of mappings and lists (deeper input overflows the
  recursive code that walks it, or the parser itself);
- YAML aliases: expanding every `*alias` may add at most `MAX_ALIAS_NODES` nodes (scalars, lists
  and mappings) to the document ("billion laughs": 9 levels of 9 aliases stand for 387 million
  strings in 1 KB). A document's own nodes are not limited here: only what aliases multiply.
"""

from __future__ import annotations

from itertools import chain
from typing import Any

MAX_DEPTH = 200
"""Levels of nested mappings/lists a document may have (DVC's and real params files use < 20)."""

MAX_ALIAS_NODES = 100_000
"""Nodes that YAML aliases may add to a document once expanded (real files reuse a few blocks)."""

DEPTH_HINT = f"nest mappings and lists at most {MAX_DEPTH} levels deep"
ALIAS_HINT = "write the values out, or use fewer aliases of aliases (xp refuses YAML bombs)"


class Exceeded(Exception):
    """A document passes a limit; `line` (1-based) is where it was noticed, when known."""

    def __init__(self, problem: str, hint: str, line: int | None = None):
        super().__init__(problem)
        self.problem = problem
        self.hint = hint
        self.line = line


def too_deep_error(line: int | None = None) -> Exceeded:
    """The error for a document nested deeper than `MAX_DEPTH`."""
    return Exceeded(f"nested more than {MAX_DEPTH} levels deep", DEPTH_HINT, line)


def check_depth(data: Any) -> None:
    """Raises `Exceeded` when data parsed by `json` or `tomllib` (plain dicts and lists) nests deeper
    than `MAX_DEPTH`.

    Walks level by level, not recursively, so it cannot overflow on the data it is checking; a
    100,000-record plot file is checked in a fraction of the time `json.loads` took to read it.
    """
    level = [data] if type(data) is dict or type(data) is list else []
    depth = 0
    while level:
        depth += 1
        if depth > MAX_DEPTH:
            raise too_deep_error()
        children = chain.from_iterable(node.values() if type(node) is dict else node for node in level)
        level = [child for child in children if type(child) is dict or type(child) is list]
