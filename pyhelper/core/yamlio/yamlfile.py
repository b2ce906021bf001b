"""Reading and writing YAML: a fast C-backed safe loader for reading, round-trip mode for edits.

Parse errors become `BadInput`-family errors naming the file and line. Line numbers of keys are
looked up only when an error needs one (the round-trip loader that knows them is slower).
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyhelper.errors import BadInput

if TYPE_CHECKING:
    from ruamel.yaml import YAML

_safe: YAML | None = None


def _safe_yaml() -> YAML:
    """One shared safe loader (C-backed when ruamel.yaml.clib is installed)."""
    global _safe
    if _safe is None:
        from ruamel.yaml import YAML

        _safe = YAML(typ="safe")
    return _safe


def _roundtrip_yaml(indent: tuple[int, int, int] = (2, 4, 2)) -> YAML:
    """A round-trip YAML instance that keeps comments, key order and quoting.

    `indent` is (mapping, sequence, offset) as ruamel.yaml takes them; see `guess_indent`.
    """
    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    mapping, sequence, offset = indent
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    return yaml


def guess_indent(text: str) -> tuple[int, int, int]:
    """The (mapping, sequence, offset) indentation a YAML file already uses, so edits keep it.

    `offset` is how far a list's '-' sits right of its parent key (0 in `key:\\n- a`, 2 in
    `key:\\n  - a`); ruamel.yaml applies one style to the whole file, so the first one found wins.
    """
    import re

    opens_block = re.compile(r"^[^#]*:\s*(#.*)?$")
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    mapping: int | None = None
    offset: int | None = None
    for before, line in itertools.pairwise(lines):
        if not opens_block.match(before) or before.lstrip().startswith("- "):
            continue
        outer = len(before) - len(before.lstrip(" "))
        inner = len(line) - len(line.lstrip(" "))
        if line.lstrip().startswith("- "):
            if offset is None and inner >= outer:
                offset = inner - outer
        elif inner > outer and mapping is None:
            mapping = inner - outer
        if mapping is not None and offset is not None:
            break
    mapping = mapping or 2
    offset = mapping if offset is None else offset
    return mapping, offset + 2, offset


def parse_yaml(text: str, *, path: str, error: type[BadInput] = BadInput) -> Any:
    """Parses YAML text; a syntax error, or a document past xp's limits (`bounds.py`: nesting,
    alias expansion), becomes `error` naming `path` and the line."""
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    from pyhelper.core.bounds import Exceeded
    from pyhelper.core.yamlio import yamlfast

    try:
        try:
            value = yamlfast.load(text)
            if value is not yamlfast.FALLBACK:
                return value
            yamlfast.check(yamlfast.c_events(text))
            return _safe_yaml().load(text)
        except MarkedYAMLError:
            # The C parser is stricter than YAML 1.2 in places DVC's pure-Python one is not (a ':' inside a
            # flow list item, as in `deps: [https://host:8080/x]`): ask that one before calling it an error.
            from ruamel.yaml import YAML

            pure = YAML(typ="safe", pure=True)
            yamlfast.check_flow_depth(text)
            yamlfast.check(pure.parse(text))
            return pure.load(text)
    except Exceeded as exc:
        raise error(exc.problem, hint=exc.hint, path=path, line=exc.line) from None
    except MarkedYAMLError as exc:
        message, hint, line = _explain(exc, text)
        raise error(f"malformed YAML: {message}", hint=hint, path=path, line=line) from None
    except YAMLError as exc:
        raise error(f"malformed YAML: {exc}", hint="fix the file's syntax", path=path) from None


def check_bounds(text: str, *, path: str) -> None:
    """Raises `BadInput` naming `path` when YAML text passes xp's limits (for the round-trip loaders,
    whose composer recurses and whose users walk every alias); syntax errors are left to the loader."""
    from ruamel.yaml.error import YAMLError

    from pyhelper.core.bounds import Exceeded
    from pyhelper.core.yamlio import yamlfast

    try:
        try:
            yamlfast.check(yamlfast.c_events(text))
        except YAMLError:
            from ruamel.yaml import YAML

            yamlfast.check_flow_depth(text)
            yamlfast.check(YAML(typ="safe", pure=True).parse(text))
    except Exceeded as exc:
        raise BadInput(exc.problem, hint=exc.hint, path=path, line=exc.line) from None
    except YAMLError:
        pass


def _explain(exc: Any, text: str) -> tuple[str, str, int | None]:
    """A one-line message, a hint and the line to point at for a YAML syntax error.

    An unclosed quote or bracket is only noticed lines later, so such errors point at the line
    where the quote or bracket was opened, which is where the fix goes.
    """
    problem = " ".join(str(exc.problem or exc.context or "invalid YAML").split())
    context = " ".join(str(exc.context or "").split())
    problem_line = exc.problem_mark.line + 1 if exc.problem_mark is not None else None
    context_line = exc.context_mark.line + 1 if exc.context_mark is not None else None
    line = problem_line or context_line
    hint = "fix the syntax at that line (indentation, a missing ':' or an unclosed quote)"
    if problem.startswith("found duplicate key"):
        key = problem.split('"')[1] if problem.count('"') >= 2 else "?"
        return f"key '{key}' appears twice in the same mapping", "remove or rename one of them", line
    if "quoted scalar" in context and context_line:
        return ("a quoted string starts on this line but is never closed",
                "add the closing quote (or escape the quote inside the string)", context_line)
    if "flow sequence" in context or "flow mapping" in context:
        bracket = "[" if "sequence" in context else "{"
        where = f" (at line {problem_line})" if problem_line and problem_line != context_line else ""
        return (f"the '{bracket}' opened on this line is not closed properly: {problem}{where}",
                "close it, separate items with ',', and quote items that hold '${...}', ',', ':', "
                "'[' or '{' (e.g. [\"out/${item}\"])", context_line or line)
    if exc.problem_mark is not None and "cannot start any token" in problem:
        lines = text.splitlines()
        row, column = exc.problem_mark.line, exc.problem_mark.column
        if row < len(lines) and column < len(lines[row]) and lines[row][column] == "\t":
            return "a tab character is used for indentation", "indent with spaces, not tabs", line
    if problem == "did not find expected key" or problem.startswith("expected <block end>"):
        return ("this line's indentation does not match the lines above it",
                "indent it exactly like the other keys at its level", line)
    if "undefined alias" in problem:
        hint = "define the anchor (`&name`) before using it as `*name`, or quote a value starting with '*'"
    if "mapping values are not allowed" in problem:
        hint = "a value holding ': ' must be quoted, and nested keys must be indented under their parent"
    return problem, hint, line


def load_yaml_file(path: Path, *, display: str, error: type[BadInput] = BadInput) -> Any:
    """Reads and parses a YAML file (see `parse_yaml`)."""
    return parse_yaml(text_of(path, display), path=display, error=error)


def load_roundtrip(path: Path) -> Any:
    """Loads a YAML file keeping comments, order and quoting, for an edit written back later."""
    text = text_of(path)
    check_bounds(text, path=path.name)
    return _roundtrip_yaml().load(text)


def load_for_edit(text: str, *, path: str = "") -> Any:
    """Parses YAML text for an edit (see `dump_roundtrip`): comments, order and quoting kept."""
    body = split_preamble(text)[1]
    check_bounds(body, path=path)
    return _roundtrip_yaml().load(body)


def dump_roundtrip(data: Any, *, like: str = "") -> str:
    """Serialises data loaded by `load_for_edit` (or `load_roundtrip`) back to text, comments included.

    `like` is the file's original text: its indentation and everything up to a leading `---`
    (comments, directives, the marker itself) are kept as they were.
    """
    out = io.StringIO()
    _roundtrip_yaml(guess_indent(like) if like else (2, 4, 2)).dump(data, out)
    return split_preamble(like)[0] + out.getvalue()


def split_preamble(text: str) -> tuple[str, str]:
    """(the lines up to and including a leading `---`, the rest); ("", text) when there is none.

    ruamel.yaml drops comments written above `---`, so edits keep that part as text.
    """
    lines = text.splitlines(keepends=True)
    for index, line in enumerate(lines):
        stripped = line.strip()
        if stripped == "---" or stripped.startswith("--- #"):
            return "".join(lines[: index + 1]), "".join(lines[index + 1:])
        if stripped and not stripped.startswith(("#", "%")):
            break
    return "", text


def dump_plain(data: Any) -> str:
    """Serialises plain data in block style, keys in the order given (as DVC writes dvc.lock)."""
    from pyhelper.core.yamlio import yamlemit

    fast = yamlemit.dump(data)
    if fast is not None:
        return fast
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.sort_base_mapping_type_on_output = False  # type: ignore[assignment]  # ruamel.yaml declares it None
    yaml.width = 4096
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def line_of(text: str, keys: Sequence[str | int]) -> int | None:
    """The 1-based line of the node at `keys` (a path of mapping keys / list indexes), if found.

    Falls back to the deepest ancestor that exists, so an error about a missing key still points
    at the section it should be in.
    """
    try:
        check_bounds(text, path="")
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


def line_of_scalar(node: Any, value: str) -> int | None:
    """The 1-based line of a list item or mapping key equal to `value` anywhere in a node that
    `load_roundtrip` returned, or None."""
    if isinstance(node, list) and hasattr(node, "lc"):
        for index, item in enumerate(node):
            if isinstance(item, str) and item == value:
                return int(node.lc.item(index)[0]) + 1
            found = line_of_scalar(item, value)
            if found is not None:
                return found
    elif isinstance(node, dict) and hasattr(node, "lc"):
        for key, item in node.items():
            if key == value:
                return int(node.lc.key(key)[0]) + 1
            found = line_of_scalar(item, value)
            if found is not None:
                return found
    return None


def text_of(path: Path, display: str | None = None) -> str:
    """A text file's content as UTF-8; a file that is not (binary garbage, another encoding) is one line
    naming it and the fix, not a UnicodeDecodeError."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        from pyhelper.errors import BadInput

        line = data[:exc.start].count(b"\n") + 1
        raise BadInput(f"is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})",
                       hint=f"restore it (`git checkout -- {display or path.name}`) or save it as UTF-8",
                       path=display or str(path), line=line) from None
