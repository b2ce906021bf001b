"""Round-trip edits of params files: `-S [file:]key=value`, keeping comments, order and quoting.

ruamel.yaml round-trip mode for YAML, tomlkit for TOML, insertion order and indentation for JSON;
every file is checked before any is written, and written atomically.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyhelper.core.inside import inside_work_tree, not_plain, plain_path
from pyhelper.core.storage.atomic_write import write_atomic
from pyhelper.core.values.params import MISSING, lookup_parts, missing_key_error, parse_params
from pyhelper.errors import ParamsError


@dataclass(frozen=True)
class Override:
    """One `-S [file:]key=value` assignment, its value already typed as YAML would type it."""

    file: str
    key: str
    value: Any


def parse_override(text: str, *, default_file: str = "params.yaml") -> Override:
    """Parses `[file:]key=value`; the value is typed as YAML types it (`0.1` float, `[1,2]` list)."""
    from pyhelper.core.yamlio.yamlfile import parse_yaml
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
    if not file:
        raise BadInput(f"override '{text}' has an empty file name before ':'",
                       hint="write file:key=value, e.g. -S params.yaml:train.lr=0.01")
    if not plain_path(file):
        where = not_plain(file).replace("the repository", "the project")
        raise BadInput(f"the params file '{file}' of override '{text}' is {where}",
                       hint="-S edits params files of the project only: give a path relative to the project's "
                            "folder, e.g. -S params.yaml:train.lr=0.01")
    try:
        value = parse_yaml(raw, path="-S") if raw.strip() else ""
    except BadInput:
        raise BadInput(
            f"the value '{raw}' of override '{text}' is not valid YAML",
            hint=f"quote the value to set it as text, e.g. -S \"{target}='{raw}'\"",
        ) from None
    return Override(file=file, key=key, value=value)


def apply_overrides(path: Path, overrides: list[Override], *, display: str) -> None:
    """Sets each key to its value in the params file, keeping its formatting; all or nothing.

    A key that does not exist is an error (with the closest existing key) unless written with a
    leading '+', which adds it (or sets it when it exists).
    """
    write_atomic(path, edited_text(path, overrides, display=display))


@dataclass(frozen=True)
class ParamsEdit:
    """What `set_params` changed: each file's text before (None: it did not exist), to undo it."""

    root: Path
    before: dict[str, str | None]

    @property
    def files(self) -> list[str]:
        """The files changed (repository-relative)."""
        return list(self.before)

    def undo(self) -> None:
        """Puts every changed file back as it was (e.g. when the pipeline turns out to be invalid)."""
        for file, text in self.before.items():
            if text is None:
                (self.root / file).unlink(missing_ok=True)
            else:
                write_atomic(_resolved(self.root, file), text)


def set_params(root: Path, assignments: list[str]) -> ParamsEdit:
    """Applies `-S [file:]key=value` assignments; every file is checked before any is written.

    Nothing is written when one assignment is wrong, so a typo never leaves one params file
    edited and another not. The returned edit can be undone.
    """
    by_file: dict[str, list[Override]] = {}
    for text in assignments:
        override = parse_override(text)
        by_file.setdefault(override.file, []).append(override)
    real = os.path.realpath(root)
    for file in by_file:
        if not inside_work_tree(real, file, follow_last=True):
            raise ParamsError(f"the params file '{file}' leads outside the project through a symlink",
                              hint="-S edits params files of the project only: set the value in the file itself, "
                                   "or make the link point inside the project", path=file)
    texts = {file: edited_text(root / file, overrides, display=file) for file, overrides in by_file.items()}
    before = {file: _resolved(root, file).read_text(encoding="utf-8") if (root / file).is_file() else None
              for file in texts}
    for file, text in texts.items():
        write_atomic(_resolved(root, file), text)
    return ParamsEdit(root, before)


def _resolved(root: Path, file: str) -> Path:
    """Where a params file's bytes live: a symlink (checked to stay inside) is edited at its target, not replaced."""
    return Path(os.path.realpath(root / file))


def edited_text(path: Path, overrides: list[Override], *, display: str) -> str:
    """The text of the params file after the overrides, formatting kept; raises before any change."""
    text = path.read_text(encoding="utf-8") if path.is_file() else None
    return edited_content(text, path.suffix.lower(), overrides, display=display)


def edited_content(current: str | None, suffix: str, overrides: list[Override], *, display: str) -> str:
    """Like `edited_text`, for a file's text given directly (None: the file does not exist)."""
    if suffix not in (".yaml", ".yml", ".json", ".toml"):
        raise ParamsError(f"unsupported params file format '{suffix}'",
                          hint="use a .yaml, .yml, .json or .toml file", path=display)
    exists = current is not None
    if not exists and not all(o.key.startswith("+") for o in overrides):
        key = next(o.key for o in overrides if not o.key.startswith("+"))
        raise ParamsError(
            "params file does not exist",
            hint=f"create it, fix the file name, or write -S {display}:+{key}=... to create it with that key",
            path=display,
        )
    text = current or ""
    plain = parse_params(text, suffix=suffix, display=display) if text.strip() else {}
    for override in overrides:
        key = override.key.lstrip("+")
        if not override.key.startswith("+") and lookup_parts(plain, key.split(".")) is MISSING:
            parent, _, index = key.rpartition(".")
            items = lookup_parts(plain, parent.split(".")) if parent else MISSING
            if isinstance(items, list):
                raise ParamsError(
                    f"'{parent}' is a list of {len(items)} items; it has no item '{index}'",
                    hint=f"address an existing item by its index (0 to {len(items) - 1}), or set the whole list",
                    path=display,
                )
            raise missing_key_error(key, plain, display=display,
                                    fix=f"fix the key, or write -S +{key}=... to add it")
    if suffix in (".yaml", ".yml"):
        from pyhelper.core.yamlio import yamlfast
        from pyhelper.core.yamlio.yamlfile import dump_roundtrip, load_for_edit

        if text.strip() and not any(o.key.startswith("+") for o in overrides):
            # Replacing existing scalars: edit just those bytes (checked by re-parsing).
            fast = yamlfast.replace_scalars(text, {tuple(o.key.split(".")): o.value for o in overrides})
            if fast is not None:
                return fast

        doc = load_for_edit(text) if text.strip() else None
        if doc is None:
            from ruamel.yaml.comments import CommentedMap

            doc = CommentedMap()
        for override in overrides:
            _set(doc, override.key.lstrip("+"), override.value, display)
        return dump_roundtrip(doc, like=text)
    if suffix == ".json":
        doc = json.loads(text) if text.strip() else {}
        for override in overrides:
            _set(doc, override.key.lstrip("+"), override.value, display)
        ending = "\n" if text.endswith("\n") or not text else ""
        return json.dumps(doc, indent=_json_indent(text), ensure_ascii=False) + ending
    import tomlkit
    from tomlkit.exceptions import ConvertError

    doc = tomlkit.parse(text)
    for override in overrides:
        try:
            _set(doc, override.key.lstrip("+"), override.value, display)
        except ConvertError:
            raise ParamsError(
                f"TOML cannot hold the value of '{override.key.lstrip('+')}' "
                f"({'null' if override.value is None else repr(override.value)})",
                hint="TOML has no null; set a string, number, boolean, list or table instead",
                path=display,
            ) from None
    return tomlkit.dumps(doc)


def _set(doc: Any, key: str, value: Any, display: str = "") -> None:
    """Sets a dotted key inside a (round-trip) document, creating mappings on the way.

    A list item is addressed by its index; a new value takes the quoting of the value it replaces.
    Walking into a value that is neither a mapping nor a list is an error, never a silent rewrite.
    """
    _set_at(doc, key.split("."), value, key=key, done=[], display=display)


def _set_at(node: Any, parts: list[str], value: Any, *, key: str, done: list[str], display: str) -> None:
    """`_set` below `node`; `done` holds the parts of `key` already walked (for messages)."""
    head, rest = parts[0], parts[1:]
    if isinstance(node, list):
        if not head.isdigit() or int(head) >= len(node):
            raise ParamsError(
                f"'{'.'.join(done) or key}' is a list of {len(node)} items; '{head}' is not one of its indexes",
                hint=f"address an existing item by its index (0 to {len(node) - 1})", path=display,
            )
        if not rest:
            node[int(head)] = _like(node[int(head)], value)
        else:
            _set_at(node[int(head)], rest, value, key=key, done=done + [head], display=display)
        return
    if not hasattr(node, "keys"):
        where = ".".join(done)
        raise ParamsError(f"'{where}' holds a value, not a mapping, so '{key}' cannot be set",
                          hint=f"set '{where}' itself, or choose another key", path=display)
    if head not in node:
        for size in range(len(parts), 1, -1):  # A key that itself holds dots, as `lookup_parts` finds it.
            name = ".".join(parts[:size])
            if name in node:
                if size == len(parts):
                    node[name] = _like(node[name], value)
                else:
                    _set_at(node[name], parts[size:], value, key=key, done=done + [name], display=display)
                return
        tree: Any = value
        for name in reversed(rest):
            tree = {name: tree}
        _append(node, head, tree)
    elif not rest:
        node[head] = _like(node[head], value)
    else:
        _set_at(node[head], rest, value, key=key, done=done + [head], display=display)


def _append(mapping: Any, key: str, value: Any) -> None:
    """Adds a key at the end of a mapping; in YAML, blank lines and comments that followed the
    mapping's last line stay after the new key (ruamel.yaml would put the key below them)."""
    from ruamel.yaml.comments import CommentedMap

    if not isinstance(mapping, CommentedMap):
        mapping[key] = value
        return
    found = _last_line_comment(mapping)
    owner_of_new, new_key = mapping, key
    while isinstance(value, dict) and value and not isinstance(value, CommentedMap):
        value = CommentedMap(value)  # Nested keys made here: the moved comment goes after the last one.
        owner_of_new[new_key] = value
        owner_of_new, new_key = value, list(value)[-1]
        value = value[new_key]
    if owner_of_new is mapping:
        mapping[key] = value
    if found is None:
        return
    owner, slot, position, leaf = found
    token = owner.ca.items[slot][position]
    from ruamel.yaml.scalarstring import FoldedScalarString, LiteralScalarString

    if isinstance(leaf, (FoldedScalarString, LiteralScalarString)):
        own, rest = "", token.value  # A block scalar ends its own line; all of it follows.
    else:
        cut = token.value.find("\n") + 1
        own, rest = token.value[:cut], token.value[cut:]
    if not rest:
        return
    import copy

    moved = copy.copy(token)
    moved.value = "\n" + rest
    if own:
        token.value = own
    else:
        owner.ca.items[slot][position] = None
    owner_of_new.ca.items[new_key] = [None, None, moved, None]


def _last_line_comment(node: Any) -> tuple[Any, Any, int, Any] | None:
    """(container, key or index, slot, value) of the comment after the last line of `node`."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(node, CommentedMap) and len(node):
        key = list(node)[-1]
        position = 2
    elif isinstance(node, CommentedSeq) and len(node):
        key = len(node) - 1
        position = 0
    else:
        return None
    value = node[key]
    if isinstance(value, (CommentedMap, CommentedSeq)) and len(value):
        deeper = _last_line_comment(value)
        if deeper is not None:
            return deeper
    slot = node.ca.items.get(key)
    if not slot or len(slot) <= position or slot[position] is None:
        return None
    return node, key, position, value


def _like(old: Any, new: Any) -> Any:
    """`new`, written with the quotes `old` was written with when both are strings (YAML)."""
    from ruamel.yaml.scalarstring import ScalarString

    if isinstance(old, ScalarString) and isinstance(new, str) and not isinstance(new, ScalarString):
        return type(old)(new)
    return new


def _json_indent(text: str) -> int | str | None:
    """The indentation a JSON file already uses: a width, a tab, or None for a one-line file
    (2 for a new file)."""
    if text.strip() and "\n" not in text.strip():
        return None
    for line in text.splitlines()[1:]:
        stripped = line.lstrip(" \t")
        if stripped and len(stripped) != len(line):
            return "\t" if line.startswith("\t") else len(line) - len(stripped)
    return 2
