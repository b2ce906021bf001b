"""`xp params diff`, `xp metrics show`, `xp metrics diff`."""

from __future__ import annotations

import argparse

from pyhelper.cli.render import emit_json, number, table


def params_diff(args: argparse.Namespace) -> int:
    """`xp params diff [A] [B]`."""
    from pyhelper.core.metrics import diff_params
    from pyhelper.core.project import find_project

    result = diff_params(find_project(), args.a, args.b, all_rows=args.all)
    if args.json:
        out: dict[str, dict] = {}
        for row in result.rows:
            out.setdefault(row.path, {})[row.key] = {"old": row.old, "new": row.new}
        emit_json(out)
        return 0
    _print_errors(result.errors)
    if not result.rows:
        if not args.all:
            print(f"No params changed between {args.a} and {args.b}.")
        return 0
    rows = [[r.path, r.key, number(r.old, 10), number(r.new, 10)] for r in result.rows]
    print(table(["Path", "Param", args.a, args.b], rows, markdown=args.md))
    return 0


def metrics_show(args: argparse.Namespace) -> int:
    """`xp metrics show`."""
    from pyhelper.core.metrics import show_metrics
    from pyhelper.core.project import find_project

    files = show_metrics(find_project(), args.rev)
    if args.json:
        emit_json({f.path: ({"error": f.error} if f.error else {"data": f.values}) for f in files})
        return 0
    if not files:
        print("No metrics files in dvc.yaml (declare them under a stage's `metrics:`).")
        return 0
    keys = list(dict.fromkeys(k for f in files for k in f.values))
    rows = [[f.path, *[number(f.values.get(k), args.precision) for k in keys]] for f in files if not f.error]
    _print_errors([f for f in files if f.error])
    if rows:
        print(table(["Path", *keys], rows, markdown=args.md))
    return 0


def metrics_diff(args: argparse.Namespace) -> int:
    """`xp metrics diff [A] [B]`."""
    from pyhelper.core.metrics import diff_metrics
    from pyhelper.core.project import find_project

    result = diff_metrics(find_project(), args.a, args.b, all_rows=args.all)
    if args.json:
        out: dict[str, dict] = {}
        for row in result.rows:
            out.setdefault(row.path, {})[row.key] = {"old": row.old, "new": row.new, "diff": row.change}
        emit_json(out)
        return 0
    _print_errors(result.errors)
    if not result.rows:
        print(f"No metrics changed between {args.a} and {args.b}.")
        return 0
    rows = [[r.path, r.key, number(r.old, args.precision), number(r.new, args.precision),
             number(r.change, args.precision) if r.change is not None else "-"] for r in result.rows]
    print(table(["Path", "Metric", args.a, args.b, "Change"], rows, markdown=args.md))
    return 0


def _print_errors(files) -> None:
    import sys

    for f in files:
        print(f"warning: {f.path}: {f.error}", file=sys.stderr)
