"""Columns, filters and sorting over experiment rows (`xp exp show --filter/--sort-by/--drop…`).

A column is (section, file, key): `params`/`metrics`/`deps`, the file it comes from, and the
flattened key. People name columns the short way (`acc`, `train.lr`), with the section
(`metrics.acc`, `params.train.lr`) or with the file (`metrics.json:acc`).

The filter language: comparisons `name OP value` with OP one of `= != < <= > >= ~` (`~`:
contains), joined by `and` / `or` (and binds tighter), with parentheses. Besides columns, `name`,
`tag` (matches any tag), `status`, `kind`, `note` and `created` (a date or time, ISO format) can
be compared. Values are numbers, words, or quoted strings.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pyhelper.core.experiments.show import EXPERIMENT_KINDS, Row
from pyhelper.errors import BadInput, did_you_mean

SECTIONS = ("metrics", "params", "deps")
FIELDS = ("name", "tag", "tags", "status", "kind", "note", "created", "rev", "message")


@dataclass(frozen=True, order=True)
class Column:
    """A params, metrics or deps column."""

    section: str
    file: str
    key: str


def columns(rows: list[Row]) -> list[Column]:
    """Every column any row has: metrics first, then params, then deps, in first-seen order."""
    found: dict[Column, None] = {}
    for section in SECTIONS:
        for row in rows:
            data = getattr(row, section)
            if section == "deps":
                for path in data:
                    found[Column("deps", path, path)] = None
                continue
            for file, values in data.items():
                for key in values:
                    found[Column(section, file, key)] = None
    return list(found)


def header(column: Column, all_columns: list[Column]) -> str:
    """A column's label: the key alone when unique in its section, else `file:key`."""
    if column.section == "deps":
        return column.key
    same = [c for c in all_columns if c.section == column.section and c.key == column.key]
    return column.key if len(same) == 1 else f"{column.file}:{column.key}"


def value(row: Row, column: Column) -> Any:
    """The row's value in a column (None when it has none)."""
    if column.section == "deps":
        return row.deps.get(column.key)
    return getattr(row, column.section).get(column.file, {}).get(column.key)


def find_column(name: str, all_columns: list[Column]) -> Column:
    """The column a person means by `name`; unknown or ambiguous names are errors with a hint."""
    section = None
    rest = name
    if ":" in name:
        file, _, key = name.rpartition(":")
        for prefix in SECTIONS:
            if file.startswith(prefix + ".") and not any(c.file == file for c in all_columns):
                section, file = prefix, file[len(prefix) + 1:]
        matches = [c for c in all_columns if c.file == file and c.key == key and (section in (None, c.section))]
    else:
        for prefix in SECTIONS:
            if name.startswith(prefix + "."):
                section, rest = prefix, name[len(prefix) + 1:]
        matches = [c for c in all_columns if c.key == rest and section in (None, c.section)]
        if not matches and section is not None:
            matches = [c for c in all_columns if c.key == name]
        if not matches:
            # The last part of a nested key is enough when it is unique (`lr` for `train.lr`).
            matches = [c for c in all_columns if c.key.endswith("." + rest) and section in (None, c.section)]
    if len(matches) == 1:
        return matches[0]
    labels = [header(c, all_columns) for c in all_columns]
    if not matches:
        suggestion = did_you_mean(name, labels + [f"{c.section}.{c.key}" for c in all_columns])
        raise BadInput(f"no column named '{name}'",
                       hint=suggestion or f"columns: {', '.join(labels[:12]) or '(none)'}")
    raise BadInput(f"'{name}' names several columns",
                   hint="add the file: " + ", ".join(f"{c.file}:{c.key}" for c in matches))


# -- filter expressions ------------------------------------------------------------------------

_TOKEN = re.compile(r"""\s*(?:(?P<op><=|>=|!=|==|=|<|>|~)|(?P<paren>[()])"""
                    r"""|(?P<str>"[^"]*"|'[^']*')|(?P<word>[^\s()<>=!~"']+))""")
Predicate = Callable[[Row], bool]


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    position = 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise BadInput(f"cannot read the filter at '{text[position:]}'",
                           hint="write e.g. --filter 'acc>0.9 and train.lr<=0.01'")
        position = match.end()
        kind = match.lastgroup
        assert kind is not None  # Every alternative of _TOKEN is a named group.
        token = match.group(kind)
        if kind == "word" and token.lower() in ("and", "or"):
            kind = token.lower()
        out.append((kind, token))
    return out


def parse_filter(text: str, all_columns: list[Column]) -> Predicate:
    """Compiles a filter expression into a predicate over rows (errors name the bad part)."""
    tokens = _tokens(text)
    position = 0

    def peek() -> tuple[str, str] | None:
        return tokens[position] if position < len(tokens) else None

    def next_is(part: int, text: str) -> bool:
        """Whether the next token's kind (`part` 0) or text (`part` 1) is `text`."""
        token = peek()
        return token is not None and token[part] == text

    def take(kind: str | None = None) -> tuple[str, str]:
        nonlocal position
        token = peek()
        if token is None or (kind and token[0] != kind):
            expected = {"op": "a comparison (=, !=, <, <=, >, >=, ~)", "word": "a value",
                        "paren": "')'"}.get(kind or "", "more")
            raise BadInput(f"incomplete filter '{text}': expected {expected}",
                           hint="write e.g. --filter 'acc>0.9 and train.lr<=0.01'")
        position += 1
        return token

    def expr() -> Predicate:
        left = term()
        while next_is(0, "or"):
            take()
            right = term()
            left = (lambda a, b: lambda row: a(row) or b(row))(left, right)
        return left

    def term() -> Predicate:
        left = factor()
        while next_is(0, "and"):
            take()
            right = factor()
            left = (lambda a, b: lambda row: a(row) and b(row))(left, right)
        return left

    def factor() -> Predicate:
        if next_is(1, "("):
            take()
            inner = expr()
            if not next_is(1, ")"):
                take("paren")
            take()
            return inner
        name = take("word")[1]
        op = take("op")[1]
        kind, raw = take()
        if kind not in ("word", "str"):
            raise BadInput(f"the filter compares '{name}' with '{raw}', which is not a value",
                           hint="put a number, a word or a quoted string after the operator")
        return _comparison(name, op, raw.strip("\"'") if kind == "str" else raw, all_columns)

    predicate = expr()
    leftover = peek()
    if leftover is not None:
        raise BadInput(f"unexpected '{leftover[1]}' in filter '{text}'", hint="join conditions with `and` / `or`")
    return predicate


def filter_rows(rows: list[Row], keep: Predicate) -> list[Row]:
    """The rows `keep` lets through: experiments (queued, running and failed ones too) by it, a
    checkpoint with its experiment, workspace and baselines always. What `exp show --filter` and the
    editor's table both show."""
    dropped: set[tuple[str, str]] = set()
    out = []
    for row in rows:
        if row.kind in EXPERIMENT_KINDS and not keep(row):
            dropped.add((row.baseline, row.name))
        elif row.kind != "checkpoint" or (row.baseline, row.name.rpartition("@")[0]) not in dropped:
            out.append(row)
    return out


def _comparison(name: str, op: str, raw: str, all_columns: list[Column]) -> Predicate:
    target = _typed(raw)
    if name in FIELDS:
        field = "tags" if name == "tag" else name
        if field == "created":
            from datetime import datetime

            try:
                moment = datetime.fromisoformat(raw).timestamp()
            except ValueError:
                raise BadInput(f"'{raw}' is not a date or time", hint="write e.g. created>2026-11-01 or "
                                                                      "created>=2026-11-01T12:00") from None
            return lambda row: row.created is not None and _compare(row.created, op, moment)
        if field == "tags":
            if op == "!=":
                return lambda row: all(tag != raw for tag in row.tags)
            return lambda row: any(_compare(tag, op, raw) for tag in row.tags)
        return lambda row: _compare(getattr(row, field), op, raw if isinstance(getattr(row, field), str) else target)
    column = find_column(name, all_columns)
    return lambda row: _compare(value(row, column), op, target)


def _typed(raw: str) -> Any:
    try:
        return int(raw)
    except ValueError:
        pass
    try:
        return float(raw)
    except ValueError:
        pass
    return {"true": True, "false": False}.get(raw.lower(), raw)


def _compare(actual: Any, op: str, target: Any) -> bool:
    if actual is None:
        return op == "!="
    if op == "~":
        return str(target).lower() in str(actual).lower()
    if isinstance(actual, (int, float)) and not isinstance(target, (int, float)):
        return op == "!="
    if isinstance(target, (int, float)) and not isinstance(actual, (int, float)):
        actual = str(actual)
        target = str(target)
    try:
        return bool({
            "=": actual == target, "==": actual == target, "!=": actual != target,
            "<": actual < target, "<=": actual <= target, ">": actual > target, ">=": actual >= target,
        }[op])
    except TypeError:
        return False


# -- shaping the table -------------------------------------------------------------------------

def select_rows(rows: list[Row], *, filter: str | None = None, sort_by: str | None = None,
                descending: bool = False, starred: bool = False, hide: tuple[str, ...] = (),
                all_columns: list[Column] | None = None) -> list[Row]:
    """The rows `xp exp show` and the editor's views show: experiments filtered, starred only, sorted
    within their baseline; `hide` drops rows by kind ("queued", "workspace") or status ("failed").
    A checkpoint goes wherever its experiment goes, right under it. One function, so the CLI, the
    server and the table cannot disagree on what a filter keeps."""
    if (filter or sort_by) and all_columns is None:
        all_columns = columns(rows)
    below: dict[tuple[str, str], list[Row]] = {}
    for row in rows:
        if row.kind == "checkpoint":
            below.setdefault((row.baseline, row.name.rpartition("@")[0]), []).append(row)
    kept = [r for r in rows if r.kind != "checkpoint" and r.kind not in hide
            and not (r.kind in EXPERIMENT_KINDS and r.status in hide)]
    if starred:
        kept = [r for r in kept if r.kind not in EXPERIMENT_KINDS or r.starred]
    if filter:
        kept = filter_rows(kept, parse_filter(filter, all_columns or []))
    if sort_by:
        kept = sort_rows(kept, find_column(sort_by, all_columns or []), descending=descending)
    return [shown for r in kept
            for shown in [r, *(below.get((r.baseline, r.name), []) if r.kind == "experiment" else [])]]


def sort_rows(rows: list[Row], column: Column, *, descending: bool) -> list[Row]:
    """Sorts experiments within each baseline group (workspace and baseline rows stay first)."""
    out: list[Row] = []
    group: list[Row] = []

    def flush() -> None:
        with_value = [r for r in group if value(r, column) is not None]
        without = [r for r in group if value(r, column) is None]
        with_value.sort(key=lambda r: _sort_key(value(r, column)), reverse=descending)
        out.extend(with_value + without)
        group.clear()

    for row in rows:
        if row.kind in EXPERIMENT_KINDS:
            group.append(row)
        else:
            flush()
            out.append(row)
    flush()
    return out


def _sort_key(v: Any) -> tuple[int, Any]:
    return (0, v) if isinstance(v, (int, float)) else (1, str(v))


def select_columns(rows: list[Row], all_columns: list[Column], *, only_changed: bool = False,
                   drop: str | None = None, keep: str | None = None) -> list[Column]:
    """The columns to show after `--only-changed`, `--drop REGEX` and `--keep REGEX` (keep wins)."""
    chosen = list(all_columns)
    try:
        drop_re = re.compile(drop) if drop else None
        keep_re = re.compile(keep) if keep else None
    except re.error as exc:
        raise BadInput(f"invalid regular expression: {exc}", hint="fix the pattern given to --drop/--keep") from None

    def label(c: Column) -> str:
        return header(c, all_columns)

    if only_changed:
        chosen = [c for c in chosen
                  if len({repr(value(r, c)) for r in rows}) > 1 or (keep_re and keep_re.search(label(c)))]
    if drop_re:
        chosen = [c for c in chosen if not drop_re.search(label(c)) or (keep_re and keep_re.search(label(c)))]
    return chosen
