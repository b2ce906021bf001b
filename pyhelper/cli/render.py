"""Turning core results into text: tables (tabulate), Markdown, JSON, numbers.

Cells hold other people's text (tags, names and params values from pulled experiments), so every
cell and header is made inert here: control characters as visible escapes (`core/printable.py`),
and in Markdown also `\\`, `|`, `<`, `>` and `&` escaped, so a value can neither drive the terminal
nor break the table or inject HTML into the rendered page.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from pyhelper.core.printable import escape


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

    cell = markdown_cell if markdown else printable
    return tabulate([[cell(str(value)) for value in row] for row in rows], headers=[cell(h) for h in headers],
                    tablefmt="github" if markdown else "plain", disable_numparse=True, preserve_whitespace=indented)


def printable(text: str) -> str:
    """Text safe to print to a terminal: control characters (newlines too) shown as `\\x1b`, `\\n`…"""
    return escape(text)


_MARKDOWN = str.maketrans({"\\": "\\\\", "|": "\\|", "<": "&lt;", ">": "&gt;", "&": "&amp;"})


def markdown_cell(text: str) -> str:
    """Text for a Markdown table cell: printable, with the characters that end a cell or start HTML escaped."""
    return escape(text).translate(_MARKDOWN)


def emit_json(data: Any) -> None:
    """Prints data as JSON on stdout: indented for a person, compact (and fast) for a program."""
    # json's C encoder only runs without indentation; large tables are several times faster.
    indent = 2 if sys.stdout.isatty() else None
    sys.stdout.write(json.dumps(data, indent=indent, default=str) + "\n")


def duration(seconds: float | None) -> str:
    """A run's duration for a table: 12.3s, 4m05s, or - when it has none."""
    if seconds is None:
        return "-"
    return f"{seconds:.1f}s" if seconds < 60 else f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


def entry_json(entry: Any) -> dict[str, Any]:
    """A queue entry as `--json` prints it (the local and the Redis queue alike)."""
    return {"id": entry.id, "name": entry.name, "status": entry.status, "params": list(entry.params),
            "message": entry.message,
            "baseline": entry.baseline, "rev": entry.rev, "worker": entry.worker, "attempts": entry.attempts,
            "retries": entry.retries, "created": entry.created, "started": entry.started,
            "finished": entry.finished, "duration": entry.duration, "exitCode": entry.exit_code,
            "error": entry.error, "experimentRev": entry.exp_rev}
