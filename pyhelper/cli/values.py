"""`xp params diff`, `xp metrics show`, `xp metrics diff`."""

from __future__ import annotations

import argparse

from pyhelper.cli.render import emit_json, number, table
from pyhelper.core.values.metrics import dvc_diff


def params_diff(args: argparse.Namespace) -> int:
    """`xp params diff [A] [B]`."""
    from pyhelper.core.project import find_project
    from pyhelper.core.values.metrics import diff_params

    result = diff_params(find_project(), args.a, args.b, all_rows=args.all, deps_only=args.deps,
                         targets=args.targets or None)
    if args.json:
        emit_json(dvc_diff(result.old, result.new, with_unchanged=args.all, raw=False))  # DVC's shape.
        return 0
    _print_errors(result.errors)
    if not result.rows:
        if not args.all:
            print(f"No params changed between {args.a} and {args.b}.")
        return 0
    rows = [[*([] if args.no_path else [r.path]), r.key, number(r.old, 10), number(r.new, 10)] for r in result.rows]
    print(table([*([] if args.no_path else ["Path"]), "Param", args.a, args.b], rows, markdown=args.md))
    return 0


def metrics_show(args: argparse.Namespace) -> int:
    """`xp metrics show`."""
    from pyhelper.core.project import find_project
    from pyhelper.core.values.metrics import show_metrics

    project = find_project()
    if args.all_branches or args.all_tags or args.all_commits:
        return _metrics_of_revisions(project, args)
    files = [f for f in show_metrics(project, args.rev) if _wanted(f.path, args.targets)]
    if args.json:
        # DVC's shape: revision ("" for the workspace) → data → file → data (nested) or error.
        emit_json({"" if args.rev == "workspace" else args.rev: {"data": {f.path: _dvc_entry(f) for f in files}}})
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
    from pyhelper.core.project import find_project
    from pyhelper.core.values.metrics import diff_metrics

    result = diff_metrics(find_project(), args.a, args.b, all_rows=args.all)
    if args.targets:
        result = _only(result, args.targets)
    if args.json:
        emit_json(dvc_diff(result.old, result.new, with_unchanged=args.all, raw=True))  # DVC's shape.
        return 0
    _print_errors(result.errors)
    if not result.rows:
        print(f"No metrics changed between {args.a} and {args.b}.")
        return 0
    rows = [[*([] if args.no_path else [r.path]), r.key, number(r.old, args.precision),
             number(r.new, args.precision), number(r.change, args.precision) if r.change is not None else "-"]
            for r in result.rows]
    print(table([*([] if args.no_path else ["Path"]), "Metric", args.a, args.b, "Change"], rows, markdown=args.md))
    return 0


def _metrics_of_revisions(project, args: argparse.Namespace) -> int:
    """`metrics show -a/-T/-A`: the workspace and every branch, tag or commit of HEAD's history, as DVC."""
    import subprocess

    from pyhelper.core.values.metrics import show_metrics

    project.require_commits()
    labels = ["workspace"]
    for flag, command in ((args.all_branches, ["for-each-ref", "--format=%(refname:short)", "refs/heads"]),
                          (args.all_tags, ["for-each-ref", "--format=%(refname:short)", "refs/tags"]),
                          (args.all_commits, ["rev-list", "HEAD"])):
        if flag:
            found = subprocess.run(["git", *command], cwd=project.root, capture_output=True, text=True)
            labels += [line for line in found.stdout.splitlines() if line and line not in labels]
    shown = {label: [f for f in show_metrics(project, label) if _wanted(f.path, args.targets)] for label in labels}
    data = {label: {"data": {f.path: _dvc_entry(f) for f in files}} for label, files in shown.items()}
    # As DVC: the workspace is left out when it equals the branch HEAD is on.
    branch = subprocess.run(["git", "symbolic-ref", "--short", "-q", "HEAD"], cwd=project.root,
                            capture_output=True, text=True).stdout.strip()
    if branch and branch in data and data.get("workspace") == data[branch]:
        data.pop("workspace")
        shown.pop("workspace")
    if args.json:
        emit_json(data)
        return 0
    keys = list(dict.fromkeys(k for files in shown.values() for f in files for k in f.values))
    rows = [[label, f.path, *[number(f.values.get(k), args.precision) for k in keys]]
            for label, files in shown.items() for f in files if not f.error]
    print(table(["Revision", "Path", *keys], rows, markdown=args.md))
    return 0


def _dvc_entry(f) -> dict:
    """One metrics file in DVC's JSON: its data, or DVC's error for it."""
    if not f.error:
        return {"data": f.raw}
    if f.error == "missing" or f.error.startswith("not in"):
        return {"error": {"type": "FileNotFoundError", "msg": f"[Errno 2] No such file or directory: '{f.path}'"}}
    return {"error": {"type": "ParseError", "msg": f.error}}


def _wanted(path: str, targets: list[str]) -> bool:
    """True when no targets were given, or the file is one of them."""
    import posixpath

    return not targets or any(posixpath.normpath(t) == path for t in targets)


def _only(result, targets: list[str]):
    """A diff kept to the target files."""
    from dataclasses import replace

    return replace(result, rows=tuple(r for r in result.rows if _wanted(r.path, targets)),
                   old=tuple(f for f in result.old if _wanted(f.path, targets)),
                   new=tuple(f for f in result.new if _wanted(f.path, targets)))


def _print_errors(files) -> None:
    import sys

    from pyhelper.cli.render import printable

    for f in files:
        print(f"warning: {printable(f'{f.path}: {f.error}')}", file=sys.stderr)
