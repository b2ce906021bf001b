"""Params files (YAML, JSON, TOML): parsing them and reading values by dotted key.

Keys are dotted paths (`train.lr`); list items are addressed by index (`layers.0.units`).
Edits (`-S key=value`) live in `params_edit.py`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pyhelper.core.bounds import Exceeded, check_depth, too_deep_error
from pyhelper.core.yamlio.yamlfile import text_of
from pyhelper.errors import ParamsError, did_you_mean

MISSING = object()


def load_params(path: Path, *, display: str) -> dict[str, Any]:
    """The parsed content of a params file; errors name the file (and line for YAML)."""
    if not path.is_file():
        raise ParamsError(
            "params file does not exist",
            hint="create it, or fix the file name under `params:` in dvc.yaml",
            path=display,
        )
    suffix = path.suffix.lower()
    text = text_of(path, display)
    return parse_params(text, suffix=suffix, display=display)


def parse_params(text: str, *, suffix: str, display: str) -> dict[str, Any]:
    """Parses params text of the format its suffix names; the top level must be a mapping."""
    if suffix in (".yaml", ".yml"):
        from pyhelper.core.yamlio.yamlfile import parse_yaml

        data = parse_yaml(text, path=display, error=ParamsError)
    elif suffix == ".json":
        try:
            data = json.loads(text)
            check_depth(data)
        except json.JSONDecodeError as exc:
            raise ParamsError(
                f"malformed JSON: {exc.msg}", hint="fix the JSON syntax", path=display, line=exc.lineno
            ) from None
        except (RecursionError, Exceeded):
            raise _too_deep(display) from None
    elif suffix == ".toml":
        import tomllib

        try:
            data = tomllib.loads(text)
            check_depth(data)
        except (RecursionError, Exceeded):
            # tomllib recurses once per nested array or inline table: a few hundred levels overflow it.
            raise _too_deep(display) from None
        except tomllib.TOMLDecodeError as exc:
            import re

            found = re.search(r"\s*\(at line (\d+), column \d+\)", str(exc))
            message = str(exc)[: found.start()] if found else str(exc)
            raise ParamsError(f"malformed TOML: {message}", hint="fix the TOML syntax at that line",
                              path=display, line=int(found.group(1)) if found else None) from None
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
            line=1,
        )
    return data


def _too_deep(display: str) -> ParamsError:
    """The error for a JSON or TOML file nested deeper than xp reads (`bounds.MAX_DEPTH`)."""
    error = too_deep_error()
    return ParamsError(error.problem, hint=error.hint, path=display)


def get_value(data: Any, key: str) -> Any:
    """The value at a dotted key; raises KeyError when any part is missing.

    A mapping key that itself holds dots (`{"a.b": 1}`) is found too, after nested keys are
    tried (DVC splits at every dot, so it cannot address such a key).
    """
    found = lookup_parts(data, key.split("."))
    if found is MISSING:
        raise KeyError(key)
    return found


def lookup_parts(node: Any, parts: list[str]) -> Any:
    """The value at `parts` below `node`, or `MISSING`; nested keys first, then dotted names."""
    if not parts:
        return node
    if isinstance(node, list):
        head = parts[0]
        if head.isdigit() and int(head) < len(node):
            return lookup_parts(node[int(head)], parts[1:])
        return MISSING
    if not isinstance(node, dict):
        return MISSING
    for size in range(1, len(parts) + 1):
        name = ".".join(parts[:size])
        if name in node:
            found = lookup_parts(node[name], parts[size:])
            if found is not MISSING:
                return found
    return MISSING


def missing_key_error(key: str, data: dict[str, Any], *, display: str, fix: str = "") -> ParamsError:
    """The error for a key that a params file does not have, with the closest existing key.

    `fix` replaces the default advice (add the key to the file, or fix it).
    """
    hint = did_you_mean(key, list(flatten(data)))
    return ParamsError(
        f"params key '{key}' does not exist",
        hint=(hint + " " if hint else "") + (fix or f"add '{key}' to {display} or fix the key"),
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


def put_dotted(target: dict[str, Any], key: str, value: Any) -> None:
    """Sets `value` at a dotted key of nested mappings (`train.lr` → {"train": {"lr": value}})."""
    node = target
    parts = key.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
