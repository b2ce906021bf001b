"""Which YAML key a cursor is on, read from the text's indentation (works while the file is
half-typed and does not parse), and the list a cursor is in."""

from __future__ import annotations

import re
from dataclasses import dataclass

_KEY = re.compile(r"""^(?P<indent>\s*)(?P<dash>-\s+)?(?P<key>"[^"]*"|'[^']*'|[^\s#:'"\-][^:#]*?)\s*:(\s|$)""")
_ITEM = re.compile(r"^(?P<indent>\s*)-\s*(?P<value>[^#]*?)\s*$")


@dataclass(frozen=True)
class KeyAt:
    """A mapping key under the cursor."""

    dotted: str
    """Its dotted path from the top (`train.lr`; list items by index are not tracked)."""
    line: int
    """0-based line."""
    start: int
    """0-based column where the key starts."""
    end: int
    """0-based column after its last character."""
    leaf: bool
    """True when a value follows on the same line (not a mapping or list opener)."""


def _parents(lines: list[str], line: int, indent: int) -> list[str]:
    """Keys of the enclosing mappings, outermost first."""
    parents: list[str] = []
    for number in range(line - 1, -1, -1):
        text = lines[number]
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        current = len(text) - len(text.lstrip(" "))
        if current < indent:
            found = _KEY.match(text)
            if found is None or found.group("dash"):
                if text.lstrip().startswith("-"):
                    indent = current
                    continue
                break
            parents.append(found.group("key").strip("\"'"))
            indent = current
            if current == 0:
                break
    return list(reversed(parents))


def key_at(text: str, line: int, character: int) -> KeyAt | None:
    """The key written on `line` when the cursor is on it, else None."""
    lines = text.splitlines()
    if line >= len(lines):
        return None
    found = _KEY.match(lines[line])
    if found is None or found.group("dash"):
        return None
    start, end = found.span("key")
    if not start <= character <= end:
        return None
    key = found.group("key").strip("\"'")
    indent = len(found.group("indent"))
    rest = lines[line][found.end():].split("#", 1)[0].strip()
    dotted = ".".join(_parents(lines, line, indent) + [key])
    return KeyAt(dotted=dotted, line=line, start=start, end=end, leaf=bool(rest))


def list_owner(text: str, line: int) -> list[str] | None:
    """The keys (outermost first) of the mapping entry whose list holds `line`, when it is a list item."""
    lines = text.splitlines()
    current = lines[line] if line < len(lines) else ""
    item = _ITEM.match(current)
    if item is None and current.strip():
        return None
    indent = len(item.group("indent")) if item else len(current)
    for number in range(line - 1, -1, -1):
        above = lines[number]
        if not above.strip() or above.lstrip().startswith("#"):
            continue
        width = len(above) - len(above.lstrip(" "))
        if above.lstrip().startswith("-") and width == indent:
            continue  # A sibling item.
        found = _KEY.match(above)
        if found is not None and not found.group("dash") and width <= indent:
            return _parents(lines, number, width) + [found.group("key").strip("\"'")]
        if found is not None and found.group("dash") and width < indent:
            # `- file.yaml:` opening a nested list of keys of another params file.
            return _parents(lines, number, width) + ["-", found.group("key").strip("\"'")]
        return None
    return None
