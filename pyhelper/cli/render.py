"""Turning core results into text: tables (tabulate), Markdown, JSON, numbers."""

from __future__ import annotations

import json
import sys
from typing import Any


def number(value: Any, precision: int) -> str:
    """A value as a table cell: floats rounded to `precision` digits, missing as '-'."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{round(value, precision):g}" if abs(value) >= 1e-4 or value == 0 else f"{value:.{precision}g}"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def table(headers: list[str], rows: list[list[Any]], *, markdown: bool = False, indented: bool = False) -> str:
    """A plain or Markdown table; with `indented`, cells keep their leading spaces (tree drawings)."""
    from tabulate import tabulate

    return tabulate(rows, headers=headers, tablefmt="github" if markdown else "plain", disable_numparse=True,
                    preserve_whitespace=indented)


def emit_json(data: Any) -> None:
    """Prints data as JSON on stdout: indented for a person, compact (and fast) for a program."""
    # json's C encoder only runs without indentation; large tables are several times faster.
    indent = 2 if sys.stdout.isatty() else None
    sys.stdout.write(json.dumps(data, indent=indent, default=str) + "\n")
