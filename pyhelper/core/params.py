"""Params files (YAML, JSON, TOML): reading values by dotted key, and round-trip edits.

Keys are dotted paths (`train.lr`); list items are addressed by index (`layers.0.units`).
Edits keep comments, key order and quoting (ruamel.yaml round-trip mode for YAML, tomlkit for
TOML, insertion order and indentation for JSON) and are written atomically.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyhelper.core.atomic_write import write_atomic
from pyhelper.errors import ParamsError, did_you_mean

_MISSING = object()


@dataclass(frozen=True)
class Override:
    """One `-S [file:]key=value` assignment, its value already typed as YAML would type it."""

    file: str
    key: str
    value: Any


def load_params(path: Path, *, display: str) -> dict[str, Any]:
    """The parsed content of a params file; errors name the file (and line for YAML)."""
    if not path.is_file():
        raise ParamsError(
            "params file does not exist",
            hint="create it, or fix the file name under `params:` in dvc.yaml",
            path=display,
        )
    suffix = path.suffix.lower()
    text = path.read_text(encoding="utf-8")
    return parse_params(text, suffix=suffix, display=display)


def parse_params(text: str, *, suffix: str, display: str) -> dict[str, Any]:
    """Parses params text of the format its suffix names; the top level must be a mapping."""
    if suffix in (".yaml", ".yml"):
        from pyhelper.core.yamlfile import parse_yaml

        data = parse_yaml(text, path=display, error=ParamsError)
    elif suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ParamsError(
                f"malformed JSON: {exc.msg}", hint="fix the JSON syntax", path=display, line=exc.lineno
            ) from None
    elif suffix == ".toml":
        import tomllib

        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ParamsError(f"malformed TOML: {exc}", hint="fix the TOML syntax", path=display) from None
    else:
        raise ParamsError(
            f"unsupported params file format '{suffix}'",
            hint="use a .yaml, .yml, .json or .toml file",
            path=display,
        )
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ParamsError(
            "the top level of a params file must be a mapping of names to values",
            hint="write `name: value` pairs at the top level",
            path=display,
        )
    return data


def get_value(data: Any, key: str) -> Any:
    """The value at a dotted key; raises KeyError when any part is missing."""
    node = data
    for part in key.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise KeyError(key)
    return node


def missing_key_error(key: str, data: dict[str, Any], *, display: str) -> ParamsError:
    """The error for a key that a params file does not have, with the closest existing key."""
    hint = did_you_mean(key, list(flatten(data)))
    return ParamsError(
        f"params key '{key}' does not exist",
        hint=(hint + " " if hint else "") + f"add '{key}' to {display} or fix the key",
        path=display,
    )


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """Leaves of nested mappings as dotted keys (lists are leaves, as DVC shows them)."""
    out: dict[str, Any] = {}
    if isinstance(data, dict):
        for key, value in data.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(value, dict) and value:
                out.update(flatten(value, name))
            else:
                out[name] = value
    elif prefix:
        out[prefix] = data
    return out


def parse_override(text: str, *, default_file: str = "params.yaml") -> Override:
    """Parses `[file:]key=value`; the value is typed as YAML types it (`0.1` float, `[1,2]` list)."""
    from pyhelper.core.yamlfile import parse_yaml
    from pyhelper.errors import BadInput

    if "=" not in text:
        raise BadInput(
            f"override '{text}' has no '='", hint="write it as key=value, e.g. -S train.lr=0.01"
        )
    target, _, raw = text.partition("=")
    file, key = default_file, target
    if ":" in target:
        file, _, key = target.rpartition(":")
    key = key.strip()
    if not key:
        raise BadInput(f"override '{text}' has no key", hint="write it as key=value, e.g. -S train.lr=0.01")
    value = parse_yaml(raw, path="-S") if raw.strip() else ""
    return Override(file=file, key=key, value=value)


def apply_overrides(path: Path, overrides: list[Override], *, display: str) -> None:
    """Sets each key to its value in the params file, keeping its formatting; all or nothing.

    A key that does not exist is an error (with the closest existing key) unless written with a
    leading '+', which adds it.
    """
    suffix = path.suffix.lower()
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    plain = parse_params(text, suffix=suffix, display=display) if text else {}
    for override in overrides:
        key = override.key.lstrip("+")
        if not override.key.startswith("+"):
            try:
                get_value(plain, key)
            except KeyError:
                raise missing_key_error(key, plain, display=display) from None
    if suffix in (".yaml", ".yml"):
        from pyhelper.core.yamlfile import dump_roundtrip, load_roundtrip

        doc = load_roundtrip(path) if text else None
        if doc is None:
            from ruamel.yaml.comments import CommentedMap

            doc = CommentedMap()
        for override in overrides:
            _set(doc, override.key.lstrip("+"), override.value)
        new_text = dump_roundtrip(doc)
    elif suffix == ".json":
        doc = json.loads(text) if text else {}
        for override in overrides:
            _set(doc, override.key.lstrip("+"), override.value)
        new_text = json.dumps(doc, indent=_json_indent(text)) + "\n"
    elif suffix == ".toml":
        import tomlkit

        doc = tomlkit.parse(text)
        for override in overrides:
            _set(doc, override.key.lstrip("+"), override.value)
        new_text = tomlkit.dumps(doc)
    else:
        raise ParamsError(f"unsupported params file format '{suffix}'", hint="use YAML, JSON or TOML", path=display)
    write_atomic(path, new_text)


def _set(doc: Any, key: str, value: Any) -> None:
    """Sets a dotted key inside a (round-trip) document, creating mappings on the way."""
    parts = key.split(".")
    node = doc
    for part in parts[:-1]:
        if isinstance(node, list):
            node = node[int(part)]
        else:
            if part not in node or not hasattr(node[part], "__getitem__") or isinstance(node[part], str):
                node[part] = {}
            node = node[part]
    last = parts[-1]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


def _json_indent(text: str) -> int:
    """The indentation width a JSON file already uses (2 when it cannot tell)."""
    for line in text.splitlines()[1:]:
        stripped = line.lstrip(" ")
        if stripped and len(stripped) != len(line):
            return len(line) - len(stripped)
    return 2
