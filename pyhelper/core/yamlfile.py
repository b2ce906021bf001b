"""Reading and writing YAML: a fast C-backed safe loader for reading, round-trip mode for edits.

Parse errors become `BadInput`-family errors naming the file and line. Line numbers of keys are
looked up only when an error needs one (the round-trip loader that knows them is slower).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from pyhelper.errors import BadInput

_safe = None


def _safe_yaml():
    """One shared safe loader (C-backed when ruamel.yaml.clib is installed)."""
    global _safe
    if _safe is None:
        from ruamel.yaml import YAML

        _safe = YAML(typ="safe")
    return _safe


def _roundtrip_yaml():
    """A round-trip YAML instance that keeps comments, key order and quoting."""
    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def parse_yaml(text: str, *, path: str, error: type[BadInput] = BadInput) -> Any:
    """Parses YAML text; a syntax error becomes `error` naming `path` and the line."""
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        return _safe_yaml().load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise error(
            f"malformed YAML: {problem}",
            hint="fix the syntax at that line (indentation, a missing ':' or an unclosed quote)",
            path=path,
            line=line,
        ) from None
    except YAMLError as exc:
        raise error(f"malformed YAML: {exc}", hint="fix the file's syntax", path=path) from None


def load_yaml_file(path: Path, *, display: str, error: type[BadInput] = BadInput) -> Any:
    """Reads and parses a YAML file (see `parse_yaml`)."""
    return parse_yaml(path.read_text(encoding="utf-8"), path=display, error=error)


def load_roundtrip(path: Path) -> Any:
    """Loads a YAML file keeping comments, order and quoting, for an edit written back later."""
    return _roundtrip_yaml().load(path.read_text(encoding="utf-8"))


def dump_roundtrip(data: Any) -> str:
    """Serialises data loaded by `load_roundtrip` back to text, comments included."""
    out = io.StringIO()
    _roundtrip_yaml().dump(data, out)
    return out.getvalue()


def dump_plain(data: Any) -> str:
    """Serialises plain data in block style, keys in the order given (as DVC writes dvc.lock)."""
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.sort_base_mapping_type_on_output = False
    yaml.width = 4096
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def line_of(text: str, keys: list[str | int]) -> int | None:
    """The 1-based line of the node at `keys` (a path of mapping keys / list indexes), if found.

    Falls back to the deepest ancestor that exists, so an error about a missing key still points
    at the section it should be in.
    """
    try:
        node = _roundtrip_yaml().load(text)
    except Exception:
        return None
    line = None
    for key in keys:
        try:
            if isinstance(key, int):
                position = node.lc.item(key)
                node = node[key]
            else:
                position = node.lc.key(key)
                node = node[key]
        except (AttributeError, KeyError, IndexError, TypeError):
            break
        line = position[0] + 1
    return line
