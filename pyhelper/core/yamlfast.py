"""A fast YAML reader for the common case, exact or silent.

ruamel.yaml's C parser produces events quickly, but its Python constructor and resolver make a
safe load about ten times slower than parsing. Listing hundreds of experiments parses hundreds
of params files, so this module builds plain Python values straight from the C parser's events,
resolving plain scalars by the YAML 1.2 core schema as ruamel.yaml does.

Whenever a document uses something this reader does not handle exactly (explicit tags, merge
keys, duplicate or complex keys, a YAML directive, a plain scalar that is not an obvious string,
number, boolean or null), it returns `FALLBACK` and the caller uses ruamel.yaml's full safe
loader. Syntax errors come from the same C parser, so they are the same as ruamel.yaml's.
"""

from __future__ import annotations

import re
from typing import Any

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
    """The document's value, or `FALLBACK`; raises ruamel.yaml's errors for invalid YAML."""
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
            add(anchors[event.anchor])
        elif kind == "DocumentStartEvent":
            documents += 1
            if documents > 1 or getattr(event, "version", None) or getattr(event, "tags", None):
                raise _Fallback
        elif kind == "StreamEndEvent":
            return result
