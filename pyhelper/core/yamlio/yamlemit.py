"""Block-style YAML for plain data (dvc.lock), exactly as ruamel.yaml's safe dumper writes it — or nothing.

`yamlfile.dump_plain` used to build a pure-Python ruamel.yaml dumper for every write of dvc.lock:
15–45 ms per `xp repro` / `xp exp run`, more than the rest of a no-op run. This emitter writes
the same bytes for the data dvc.lock holds (string keys; strings, ints, floats, bools and None;
maps; lists of scalars or maps) and returns `None` for anything else, so the caller falls back
to ruamel.yaml. Whether a string can stay plain is decided by ruamel.yaml's own resolver (a
string that would read back as a number, bool, null or date gets quoted there, so it falls back
here) plus a conservative character check; tests compare both emitters on many values.
"""

from __future__ import annotations

import math
import re
from typing import Any

_SAFE_TEXT = re.compile(r"[A-Za-z0-9_/][A-Za-z0-9_./+=~()-]*(?: [A-Za-z0-9_./+=~()-]+)*")
"""Characters that never need quoting in block context (no `:`, `#`, quotes, leading indicators)."""

_resolver: Any = None


class _Unsupported(Exception):
    """Something this emitter does not write exactly as ruamel.yaml would."""


def dump(data: Any) -> str | None:
    """`data` as ruamel.yaml's safe block-style dumper writes it, or None when unsure."""
    if not isinstance(data, dict) or not data:
        return None
    lines: list[str] = []
    try:
        _mapping(data, 0, lines)
    except _Unsupported:
        return None
    return "\n".join(lines) + "\n"


def _mapping(data: dict[Any, Any], indent: int, lines: list[str]) -> None:
    pad = " " * indent
    for key, value in data.items():
        if not isinstance(key, str) or len(key) > 100:  # Long keys become `? key` in ruamel.yaml.
            raise _Unsupported
        head = f"{pad}{_string(key)}:"
        if isinstance(value, dict) and value:
            lines.append(head)
            _mapping(value, indent + 2, lines)
        elif isinstance(value, list) and value:
            lines.append(head)
            _sequence(value, indent, lines)
        else:
            lines.append(f"{head} {_scalar(value)}")


def _sequence(items: list[Any], indent: int, lines: list[str]) -> None:
    pad = " " * indent
    for item in items:
        if isinstance(item, dict) and item:
            start = len(lines)
            _mapping(item, indent + 2, lines)
            lines[start] = f"{pad}- {lines[start][indent + 2:]}"
        elif isinstance(item, list) and item:
            raise _Unsupported  # A list in a list: ruamel.yaml's `- - x` layout is not copied here.
        else:
            lines.append(f"{pad}- {_scalar(item)}")


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _Unsupported
        text = repr(value).lower()
        if _resolve(text) != "tag:yaml.org,2002:float":
            raise _Unsupported  # ruamel.yaml would add an explicit tag.
        return text
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    raise _Unsupported


def _string(text: str) -> str:
    if text == "":
        return "''"
    if len(text) > 1000 or not _SAFE_TEXT.fullmatch(text):
        raise _Unsupported
    if _resolve(text) != "tag:yaml.org,2002:str":
        return f"'{text}'"  # It would read back as a number, bool, null or date: ruamel.yaml single-quotes it.
    return text


def _resolve(text: str) -> str:
    """The tag ruamel.yaml's resolver gives this text as a plain scalar."""
    global _resolver
    if _resolver is None:
        from ruamel.yaml.resolver import VersionedResolver

        _resolver = VersionedResolver()
    from ruamel.yaml.nodes import ScalarNode

    return str(_resolver.resolve(ScalarNode, text, (True, False)))
