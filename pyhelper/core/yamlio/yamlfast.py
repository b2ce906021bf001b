"""A fast YAML reader for the common case, exact or silent.

ruamel.yaml's C parser produces events quickly, but its Python constructor and resolver make a
safe load about ten times slower than parsing. Listing hundreds of experiments parses hundreds
of params files, so this module builds plain Python values straight from the C parser's events,
resolving plain scalars by the YAML 1.2 core schema as ruamel.yaml does.

Whenever a document uses something this reader does not handle exactly (explicit tags, merge
keys, duplicate or complex keys, a YAML directive, a plain scalar that is not an obvious string,
number, boolean or null), it returns `FALLBACK` and the caller uses ruamel.yaml's full safe
loader. Syntax errors come from the same C parser, so they are the same as ruamel.yaml's.

Both readers are bounded (`bounds.py`): nesting deeper than `MAX_DEPTH`, aliases that would
expand to more than `MAX_ALIAS_NODES` nodes, and aliases inside their own anchor raise
`bounds.Exceeded` as soon as they are seen; `check` scans a document for the full loaders.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pyhelper.core.bounds import ALIAS_HINT, MAX_ALIAS_NODES, MAX_DEPTH, Exceeded, too_deep_error

FALLBACK = object()
"""Returned when the document needs ruamel.yaml's full loader."""

_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)")
_FLOAT = re.compile(r"[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|[-+]?[0-9]+[eE][-+]?[0-9]+")
_NULL = frozenset(("", "~", "null", "Null", "NULL"))
_TRUE = frozenset(("true", "True", "TRUE"))
_FALSE = frozenset(("false", "False", "FALSE"))
# A plain scalar starting with one of these might be a number, date, infinity or NaN in some
# spelling not handled above; it goes to the full loader.
_DOUBTFUL_START = frozenset("0123456789+-.")


class _Fallback(Exception):
    """Raised inside the reader to hand the document to the full loader."""


def _scalar(value: str, style: Any, tag: Any) -> Any:
    if tag is not None and tag != "!":
        raise _Fallback
    if style:  # Quoted, literal or folded: always a string.
        return value
    if value in _NULL:
        return None
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    if value in ("=", "<<"):
        raise _Fallback  # YAML's "value" and "merge" keys: the full loader knows what they mean.
    if value[0] in _DOUBTFUL_START:
        if _INT.fullmatch(value):
            return int(value)
        if _FLOAT.fullmatch(value) and "_" not in value:
            return float(value)
        raise _Fallback
    return value


def load(text: str) -> Any:
    """The document's value, or `FALLBACK`; raises ruamel.yaml's errors for invalid YAML and
    `bounds.Exceeded` for a document past xp's limits."""
    from _ruamel_yaml import CParser

    parser = CParser(text)
    try:
        return _document(parser)
    except _Fallback:
        return FALLBACK
    finally:
        parser.dispose()


class _Map:
    """A mapping being filled: keys and values alternate."""

    __slots__ = ("data", "key", "waiting_for_value")

    def __init__(self, data: dict[Any, Any]):
        self.data = data
        self.key: Any = None
        self.waiting_for_value = False

    def add(self, value: Any) -> None:
        if self.waiting_for_value:
            self.data[self.key] = value
            self.waiting_for_value = False
            return
        if isinstance(value, (dict, list)):
            raise _Fallback  # A complex key.
        if value in self.data:
            raise _Fallback  # A duplicate key: the full loader reports it properly.
        self.key = value
        self.waiting_for_value = True


class _Seq:
    """A sequence being filled."""

    __slots__ = ("data",)

    def __init__(self, data: list[Any]):
        self.data = data

    def add(self, value: Any) -> None:
        self.data.append(value)


def _document(parser: Any) -> Any:
    anchors: dict[str, Any] = {}
    stack: list[_Map | _Seq] = []
    result: Any = None
    documents = 0
    # Aliases share one Python object, so a bomb costs nothing here; what it would cost the code
    # that walks the value is counted instead (sizes of anchored containers, by id, on first use).
    sizes: dict[int, int] = {}
    alias_nodes = 0

    def add(value: Any) -> None:
        nonlocal result
        if stack:
            stack[-1].add(value)
        else:
            result = value

    while True:
        event = parser.get_event()
        kind = type(event).__name__
        if kind == "ScalarEvent":
            value = _scalar(event.value, event.style, event.tag)
            if event.anchor:
                anchors[event.anchor] = value
            add(value)
        elif kind in ("MappingStartEvent", "SequenceStartEvent"):
            if event.tag is not None and event.tag != "!":
                raise _Fallback
            if len(stack) >= MAX_DEPTH:
                raise too_deep_error(event.start_mark.line + 1)
            container: Any = {} if kind == "MappingStartEvent" else []
            if event.anchor:
                anchors[event.anchor] = container
            add(container)
            stack.append(_Map(container) if kind == "MappingStartEvent" else _Seq(container))
        elif kind in ("MappingEndEvent", "SequenceEndEvent"):
            stack.pop()
        elif kind == "AliasEvent":
            if event.anchor not in anchors:
                raise _Fallback
            value = anchors[event.anchor]
            if isinstance(value, (dict, list)):
                if any(frame.data is value for frame in stack):
                    raise _recursive(event)
                alias_nodes += _expanded_size(value, sizes)
            else:
                alias_nodes += 1
            if alias_nodes > MAX_ALIAS_NODES:
                raise _bomb(event)
            add(value)
        elif kind == "DocumentStartEvent":
            documents += 1
            if documents > 1 or getattr(event, "version", None) or getattr(event, "tags", None):
                raise _Fallback
        elif kind == "StreamEndEvent":
            return result


def _expanded_size(value: Any, sizes: dict[int, int]) -> int:
    """Nodes in `value` with shared containers counted once per use (as if every alias were expanded).

    Post-order without recursion; each distinct container is summed once (`sizes`, by id), so a
    bomb's size is found in time proportional to its text, not to its expansion.
    """
    todo: list[tuple[Any, bool]] = [(value, False)]
    while todo:
        node, children_done = todo.pop()
        if id(node) in sizes:
            continue
        children = [c for c in (node.values() if isinstance(node, dict) else node) if isinstance(c, (dict, list))]
        if children_done:
            scalars = len(node) * (2 if isinstance(node, dict) else 1) - len(children)
            sizes[id(node)] = 1 + scalars + sum(sizes[id(c)] for c in children)
        else:
            todo.append((node, True))
            todo.extend((c, False) for c in children if id(c) not in sizes)
    return sizes[id(value)]


def _bomb(event: Any) -> Exceeded:
    return Exceeded(f"YAML aliases would expand to more than {MAX_ALIAS_NODES:,} nodes", ALIAS_HINT,
                    event.start_mark.line + 1 if event.start_mark is not None else None)


def _recursive(event: Any) -> Exceeded:
    return Exceeded(f"the alias '*{event.anchor}' is inside the node it refers to (endless expansion)",
                    f"refer to '&{event.anchor}' only after its node ends",
                    event.start_mark.line + 1 if event.start_mark is not None else None)


def check(events: Iterable[Any]) -> None:
    """Raises `bounds.Exceeded` when a stream of parser events (C or pure-Python ruamel.yaml) passes
    xp's limits: run before a full loader builds, or a recursive composer walks, the document."""
    sizes: dict[str, int | None] = {}  # Expanded size of each anchor's node; None while it is being read.
    latest: dict[str, int] = {}  # Which node (by serial number) each anchor names now: anchors can be redefined.
    frames: list[tuple[Any, int]] = []  # (anchor or None, serial number) of each container being read.
    counts: list[int] = []  # Expanded nodes so far in each container being read.
    serial = alias_nodes = 0
    for event in events:
        kind = type(event).__name__
        if kind == "ScalarEvent":
            serial += 1
            if event.anchor:
                sizes[event.anchor], latest[event.anchor] = 1, serial
            if counts:
                counts[-1] += 1
        elif kind in ("MappingStartEvent", "SequenceStartEvent"):
            if len(counts) >= MAX_DEPTH:
                raise too_deep_error(event.start_mark.line + 1 if event.start_mark is not None else None)
            serial += 1
            if event.anchor:
                sizes[event.anchor], latest[event.anchor] = None, serial
            counts.append(1)
            frames.append((event.anchor, serial))
        elif kind in ("MappingEndEvent", "SequenceEndEvent"):
            size = counts.pop()
            anchor, number = frames.pop()
            if anchor and latest[anchor] == number:
                sizes[anchor] = size
            if counts:
                counts[-1] += size
        elif kind == "AliasEvent":
            expanded = sizes.get(event.anchor, 1)
            if expanded is None:
                raise _recursive(event)
            alias_nodes += expanded
            if alias_nodes > MAX_ALIAS_NODES:
                raise _bomb(event)
            if counts:
                counts[-1] += expanded


def check_flow_depth(text: str) -> None:
    """Raises `bounds.Exceeded` when brackets (`[`, `{`) in `text` may nest deeper than `MAX_DEPTH`.

    For ruamel.yaml's pure-Python scanner, which looks up to 1,024 characters ahead at every
    token while any bracket is open, and so takes a second over `[[[[…` before the first event.
    Brackets inside strings count too: a conservative count, cheap, and only used there.
    """
    depth = 0
    for bracket in re.finditer(r"[\[\]{}]", text):
        depth = depth + 1 if bracket.group() in "[{" else max(0, depth - 1)
        if depth > MAX_DEPTH:
            raise too_deep_error(text.count("\n", 0, bracket.start()) + 1)


def c_events(text: str) -> Iterable[Any]:
    """The C parser's events for `text` (ruamel.yaml's syntax errors raised as they are met)."""
    from _ruamel_yaml import CParser

    parser = CParser(text)
    try:
        while True:
            event = parser.get_event()
            yield event
            if type(event).__name__ == "StreamEndEvent":
                return
    finally:
        parser.dispose()


def replace_scalars(text: str, values: dict[tuple[str, ...], Any]) -> str | None:
    """`text` with the scalars at the given key paths replaced in place, or None.

    Only existing mapping keys holding a scalar are replaced, byte for byte around them, so
    comments, order, quoting and indentation survive untouched. The result is parsed again and
    must equal the old document with just those values changed; otherwise (or for anything
    unusual: aliases, a non-scalar old or new value, text that needs quoting) this returns None
    and the caller does a full round-trip edit.
    """
    from _ruamel_yaml import CParser

    if not values or not all(_simple(v) for v in values.values()):
        return None
    try:
        before = load(text)
    except Exceeded:
        return None  # The full editor reports it.
    if before is FALLBACK or not isinstance(before, dict):
        return None
    spans: dict[tuple[str, ...], tuple[int, int, Any]] = {}
    parser = CParser(text)
    try:
        path: list[Any] = []  # Key path of the node being read; for sequences, the next index.
        kinds: list[str] = []
        expecting_key: list[bool] = []

        def node_done() -> None:
            if kinds and kinds[-1] == "map":
                expecting_key[-1] = True
                path.pop()
            elif kinds and kinds[-1] == "seq":
                path[-1] += 1

        while True:
            event = parser.get_event()
            kind = type(event).__name__
            if kind == "ScalarEvent":
                if kinds and kinds[-1] == "map" and expecting_key[-1]:
                    path.append(event.value)
                    expecting_key[-1] = False
                    continue
                key = tuple(str(p) for p in path)
                if key in values:
                    spans[key] = (event.start_mark.index, event.end_mark.index, event.style)
                node_done()
            elif kind in ("MappingStartEvent", "SequenceStartEvent"):
                kinds.append("map" if kind == "MappingStartEvent" else "seq")
                expecting_key.append(True)
                if kind == "SequenceStartEvent":
                    path.append(0)
            elif kind in ("MappingEndEvent", "SequenceEndEvent"):
                kinds.pop()
                expecting_key.pop()
                if kind == "SequenceEndEvent":
                    path.pop()
                node_done()
            elif kind == "AliasEvent":
                return None
            elif kind == "StreamEndEvent":
                break
    finally:
        parser.dispose()
    if set(spans) != set(values):
        return None
    if not text.isascii():
        return None  # Mark indexes count characters or bytes depending on the parser: stay exact.
    out = text
    for key, (start, end, style) in sorted(spans.items(), key=lambda item: -item[1][0]):
        rendered = _render(values[key], style)
        if rendered is None:
            return None
        out = out[:start] + rendered + _keep_comment_column(out[end:], len(rendered) - (end - start))
    after = load(out)
    expected = _with_values(before, values)
    if after is FALLBACK or repr(after) != repr(expected):
        return None
    return out


def _keep_comment_column(rest: str, grown: int) -> str:
    """The rest of the text after an edit that made its line `grown` characters longer, with the
    line's trailing comment moved back to its column (keeping at least one space before it)."""
    line_end = rest.find("\n")
    line = rest if line_end < 0 else rest[:line_end]
    hash_at = line.find(" #")
    if grown == 0 or hash_at < 0:
        return rest
    spaces_start = len(line[:hash_at + 1].rstrip(" "))
    gap = hash_at + 1 - spaces_start
    new_gap = max(1, gap - grown)
    return line[:spaces_start] + " " * new_gap + line[hash_at + 1:] + ("" if line_end < 0 else rest[line_end:])


def _simple(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))


def _render(value: str | int | float | None, style: Any) -> str | None:
    """YAML text for a scalar, keeping the old quoting style for strings."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        text = repr(value)
        return text if _scalar(text, None, None) == value else None
    if style == "'":
        return "'" + value.replace("'", "''") + "'"
    if style == '"':
        import json

        return json.dumps(value)
    if style:
        return None  # A block scalar: leave it to the round-trip editor.
    if not value or value != value.strip() or any(c in value for c in ":#{}[],&*!|>'\"%@`\n"):
        return None
    try:
        return value if _scalar(value, None, None) == value else None
    except _Fallback:
        return None


def _with_values(document: Any, values: dict[tuple[str, ...], Any]) -> Any:
    """A deep copy of `document` with the given key paths set."""
    import copy

    result = copy.deepcopy(document)
    for key, value in values.items():
        node = result
        for part in key[:-1]:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            node[int(key[-1])] = value
        else:
            node[key[-1]] = value
    return result
