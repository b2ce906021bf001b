"""`${...}` interpolation in dvc.yaml, as DVC 3 does it.

A string that is exactly one `${name}` takes the value's own type (a list stays a list); inside a
longer string the value is written as text (booleans as `true`/`false`). Names are dotted paths
with optional list indexes: `${train.lr}`, `${models[0].name}`, `${models.0.name}`. `\\${` is a
literal `${`.
"""

from __future__ import annotations

import re
from typing import Any

_PATTERN = re.compile(r"(?<!\\)\$\{\s*([^}]*?)\s*\}")
_INDEX = re.compile(r"\[(\d+)\]")


class Undefined(Exception):
    """A `${name}` whose name is not in the context (the caller adds file and line)."""

    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


class NotText(Exception):
    """A mapping or list interpolated inside a longer string."""

    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


def has_interpolation(value: Any) -> bool:
    """True when any string inside `value` holds a `${...}`."""
    if isinstance(value, str):
        return "${" in value
    if isinstance(value, dict):
        return any(has_interpolation(k) or has_interpolation(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_interpolation(v) for v in value)
    return False


def lookup(context: dict[str, Any], name: str) -> Any:
    """The value of a dotted name in the context; raises `Undefined`."""
    node: Any = context
    for part in _INDEX.sub(r".\1", name).split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise Undefined(name)
    return node


def resolve(value: Any, context: dict[str, Any], *, unpack: dict[str, str] | None = None) -> Any:
    """`value` with every `${...}` in its strings (keys included) replaced from the context.

    With `unpack` (a stage's `cmd`), a mapping inside a longer string becomes command-line
    arguments as DVC writes them (`--epochs 10 --lr 0.1`), following `.dvc/config`'s
    `[parsing]` options `bool` (store_true | boolean_optional) and `list` (nargs | append).
    """
    if isinstance(value, str):
        return _resolve_text(value, context, unpack)
    if isinstance(value, dict):
        return {resolve(k, context): resolve(v, context, unpack=unpack) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, context, unpack=unpack) for v in value]
    return value


def to_args(mapping: dict[str, Any], parsing: dict[str, str], name: str = "") -> str:
    """A mapping as command-line arguments, exactly as DVC 3 unpacks it into `cmd`."""
    from shlex import quote

    parts: list[str] = []
    for key, value in _flatten(mapping).items():
        if isinstance(value, bool):
            if value:
                parts.append(f"--{key}")
            elif parsing.get("bool", "store_true") == "boolean_optional":
                parts.append(f"--no-{key}")
        elif isinstance(value, str):
            parts.append(f"--{key} {quote(value)}")
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, (list, dict)):
                    raise NotText(f"{name}.{key}" if name else key)
                text = quote(item) if isinstance(item, str) else str(item)
                if parsing.get("list", "nargs") == "append" or index == 0:
                    parts.append(f"--{key} {text}")
                else:
                    parts.append(text)
        else:
            parts.append(f"--{key} {value}")
    return " ".join(parts)


def _flatten(mapping: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings as dotted keys (DVC's flatten); lists stay values."""
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(_flatten(value, name + "."))
        else:
            out[name] = value
    return out


def _resolve_text(text: str, context: dict[str, Any], unpack: dict[str, str] | None = None) -> Any:
    """One string: whole-match keeps the type; partial matches are formatted as text."""
    if "${" not in text:
        return text
    whole = _PATTERN.fullmatch(text)
    if whole:
        return lookup(context, whole.group(1))

    def format_one(match: re.Match[str]) -> str:
        found = lookup(context, match.group(1))
        if isinstance(found, dict) and unpack is not None:
            return to_args(found, unpack, match.group(1))
        if isinstance(found, (dict, list)):
            raise NotText(match.group(1))
        return to_text(found)

    return _PATTERN.sub(format_one, text).replace("\\${", "${")


def to_text(value: Any) -> str:
    """A scalar as DVC writes it into a string or a generated stage name (`true`, not `True`)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
