"""Reads params.yaml with the standard library alone, so the stages run under any python3.

It understands the subset of YAML this project's params.yaml uses: mappings nested by
indentation, `key: value` pairs, comments, and scalar values (integers, floats, booleans, null,
plain or quoted strings). Anything else, such as lists or multi-line strings, is rejected with
its line number rather than misread.
"""

import re

_KEY = re.compile(r"(?P<key>[A-Za-z_][\w.-]*)\s*:(?:\s+(?P<value>.*))?")
_INT = re.compile(r"[-+]?[0-9]+")
_NUMBER = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")


def load(path="params.yaml"):
    """The nested dict of parameters in `path`."""
    root = {}
    # Each entry is (indent of the keys of a mapping, that mapping); the innermost is last.
    stack = [(0, root)]
    # A key written without a value opens a mapping whose indent is only known from its first
    # child line; until then it is held here as (parent mapping, key).
    opened = None
    with open(path, encoding="utf-8") as f:
        for number, raw in enumerate(f, start=1):
            where = f"{path}:{number}"
            line = _strip_comment(raw.rstrip("\r\n")).rstrip()
            text = line.lstrip(" ")
            if not text or text in ("---", "..."):
                continue
            indent = len(line) - len(text)
            if text.startswith("\t"):
                raise ValueError(f"{where}: indent with spaces, not tabs")
            if opened is not None:
                parent, key = opened
                opened = None
                if indent > stack[-1][0]:
                    stack.append((indent, parent[key]))
                else:
                    # YAML reads a key with nothing under it as null, not as an empty mapping.
                    parent[key] = None
            while indent < stack[-1][0]:
                stack.pop()
            if indent != stack[-1][0]:
                raise ValueError(f"{where}: indentation does not match any mapping above")
            match = _KEY.fullmatch(text)
            if not match:
                raise ValueError(f"{where}: expected `key: value`, got {text!r}")
            mapping = stack[-1][1]
            key, value = match["key"], match["value"]
            if key in mapping:
                raise ValueError(f"{where}: key {key!r} appears twice")
            if value:
                mapping[key] = _scalar(value, where)
            else:
                mapping[key] = {}
                opened = (mapping, key)
    if opened is not None:
        parent, key = opened
        parent[key] = None
    return root


def _strip_comment(line):
    """`line` without a trailing `# comment`, leaving a `#` inside quotes alone."""
    quote = None
    for i, char in enumerate(line):
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i]
    return line


def _scalar(text, where):
    """The Python value of one scalar, read the way YAML 1.2 (and so DVC) reads it."""
    if text[0] in "'\"":
        if len(text) < 2 or text[-1] != text[0]:
            raise ValueError(f"{where}: unterminated quoted string {text!r}")
        if text[0] == '"' and "\\" in text:
            raise ValueError(f"{where}: backslash escapes are not supported, use single quotes")
        return text[1:-1].replace("''", "'") if text[0] == "'" else text[1:-1]
    if text[0] in "[{|>&*!%@`" or text == "-" or text.startswith("- "):
        raise ValueError(f"{where}: only plain values are supported here, got {text!r}")
    if text in ("true", "True", "TRUE"):
        return True
    if text in ("false", "False", "FALSE"):
        return False
    if text in ("null", "Null", "NULL", "~"):
        return None
    if _INT.fullmatch(text):
        return int(text)
    if _NUMBER.fullmatch(text):
        return float(text)
    return text
