"""`xp plots show/diff/templates`: the pipeline's plots as one self-contained HTML file, or as JSON."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pyhelper.cli.render import emit_json, table

DEFAULT_OUT = ".xp/plots/index.html"
"""Inside .xp/ (which git ignores), so a report is never swept into an experiment's commit."""


def add_arguments(command: argparse.ArgumentParser) -> None:
    """The `xp plots` sub-commands."""
    plots = command.add_subparsers(dest="plots_command", metavar="COMMAND", required=True)
    show = plots.add_parser("show", help="the workspace's plots as an HTML file",
                            description="Draw the plots dvc.yaml declares (and pyhelper.live's per-step "
                                        "metrics) for the workspace, into one HTML file that renders offline.")
    show.add_argument("targets", nargs="*", metavar="TARGET", help="plot ids or files to draw (default: all)")
    _add_common(show)
    show.set_defaults(handler="plots:show")
    diff = plots.add_parser("diff", help="plots of several experiments or revisions overlaid",
                            description="Overlay the plots of experiments and git revisions (default: HEAD "
                                        "and the workspace), one colour each (distinct up to 20).")
    diff.add_argument("revs", nargs="*", metavar="REV|EXP", help="experiment names, commits, branches or 'workspace'")
    diff.add_argument("--targets", action="append", default=[], metavar="TARGET",
                      help="draw only this plot id or file; repeatable")
    diff.add_argument("--all-experiments", action="store_true",
                      help="add every experiment of HEAD's baseline (after the revisions named)")
    diff.add_argument("-A", "--all-commits", action="store_true",
                      help="add every experiment of every commit, as -A does in `exp show` and `exp remove`")
    _add_common(diff)
    diff.set_defaults(handler="plots:diff")
    templates = plots.add_parser("templates", help="list the templates a plot can use")
    templates.add_argument("--json", action="store_true", help="print JSON")
    templates.set_defaults(handler="plots:templates")


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--out", metavar="DIR",
                        help=f"the folder to write index.html into, as DVC (a path ending in .html: that file; "
                             f"default: {DEFAULT_OUT} in the project)")
    parser.add_argument("--json", action="store_true", help="print the Vega-Lite specs with their data; write no file")
    parser.add_argument("--open", action="store_true", help="open the HTML file in a browser")
    parser.add_argument("-x", metavar="FIELD", help="the field drawn on x (instead of the plot's own)")
    parser.add_argument("-y", metavar="FIELD", help="the field drawn on y (instead of the plot's own)")
    parser.add_argument("-t", "--template", metavar="NAME", help="draw with this template (see `xp plots templates`)")
    parser.add_argument("--title", metavar="TEXT", help="the plots' title")
    parser.add_argument("--x-label", metavar="TEXT", help="the x axis' label")
    parser.add_argument("--y-label", metavar="TEXT", help="the y axis' label")
    parser.add_argument("--metric-vs-param", action="append", default=[], metavar="METRIC:PARAM",
                        help="add a plot of METRIC against PARAM, a point per revision; repeatable")
    parser.add_argument("--parallel", metavar="PARAM,…:METRIC",
                        help="add parallel coordinates over these params and a metric, a line per revision")


def show(args: argparse.Namespace) -> int:
    """`xp plots show [TARGET…]`."""
    return _report(args, revs=["workspace"], targets=args.targets, all_experiments=False, all_commits=False)


def diff(args: argparse.Namespace) -> int:
    """`xp plots diff [REV|EXP…]`."""
    return _report(args, revs=args.revs, targets=args.targets, all_experiments=args.all_experiments,
                   all_commits=args.all_commits)


def _report(args: argparse.Namespace, *, revs: list[str], targets: list[str], all_experiments: bool,
            all_commits: bool) -> int:
    from pyhelper.core.plots import across, collect, report
    from pyhelper.core.project import find_project
    from pyhelper.errors import BadInput

    project = find_project()
    repo = collect.open_git(project)
    if all_experiments or all_commits:
        if repo is None:
            raise BadInput(f"{'-A' if all_commits else '--all-experiments'} needs a commit to be the baseline",
                           hint="commit first")
        if not all_commits:
            revs = (revs or []) + collect.experiments_of_head(repo)
    revisions = collect.select(project, repo, revs) if revs or not all_commits else []
    if all_commits and repo is not None:
        revisions += [r for r in collect.experiments_of_all(repo) if all(r.rev != c.rev for c in revisions)]
    props = {k: v for k, v in (("x", args.x), ("y", args.y), ("template", args.template), ("title", args.title),
                                ("x_label", args.x_label), ("y_label", args.y_label)) if v}
    result = collect.collect(project, revisions, targets=targets, repo=repo, props=props or None)
    extra = []
    if args.metric_vs_param or args.parallel:
        records = across.values(project, repo, revisions)
        for item in args.metric_vs_param:
            metric, sep, param = item.partition(":")
            if not sep or not metric or not param:
                raise BadInput(f"--metric-vs-param wants METRIC:PARAM, not '{item}'",
                               hint="e.g. --metric-vs-param accuracy:train.lr")
            extra.append(across.metric_vs_param(records, metric, param))
        if args.parallel:
            params, sep, metric = args.parallel.rpartition(":")
            if not sep or not metric or not params:
                raise BadInput(f"--parallel wants PARAM,…:METRIC, not '{args.parallel}'",
                               hint="e.g. --parallel train.lr,train.epochs:accuracy")
            extra.append(across.parallel(records, [p for p in params.split(",") if p], metric))
    result = collect.Plots(revisions=result.revisions, plots=result.plots + tuple(extra), errors=result.errors)
    if args.json:
        emit_json({"revisions": [{"label": r.label, "rev": r.rev, "kind": r.kind} for r in result.revisions],
                   "plots": [{"id": p.id, "template": p.template, "revisions": list(p.revisions), "spec": p.inline()}
                             for p in result.plots],
                   "errors": list(result.errors)})
        return 0
    from pyhelper.cli.render import printable
    from pyhelper.core.storage.atomic_write import write_atomic

    for error in result.errors:
        print(f"warning: {printable(str(error))}", file=sys.stderr)
    if args.out:
        # As DVC: -o names a folder that gets index.html; a name ending in .html is the file itself.
        out = Path(args.out) if args.out.lower().endswith((".html", ".htm")) else Path(args.out) / "index.html"
        if out.parent.exists() and not out.parent.is_dir():
            raise BadInput(f"'{out.parent}' exists and is not a folder", hint="name a folder for -o (or a .html file)")
        out.parent.mkdir(parents=True, exist_ok=True)
    else:
        out = project.ensure_xp_dir() / "plots" / "index.html"
        out.parent.mkdir(exist_ok=True)
    labels = ", ".join(r.label for r in result.revisions)
    write_atomic(out, report.render(result, title=f"xp plots: {labels}"))
    print(f"Wrote {len(result.plots)} plot(s) of {len(result.revisions)} revision(s) to {out}")
    if args.open:
        import webbrowser

        try:
            opened = webbrowser.open(out.resolve().as_uri())
        except webbrowser.Error:
            opened = False
        if not opened:
            print(f"No browser could be started here; open {out.resolve().as_uri()} yourself (or copy the file to a "
                  "machine with one: it is self-contained).", file=sys.stderr)
    return 0


def templates(args: argparse.Namespace) -> int:
    """`xp plots templates`."""
    from pyhelper.core.plots.templates import DESCRIPTIONS

    if args.json:
        emit_json(DESCRIPTIONS)
        return 0
    print(table(["Template", "Draws"], [[name, text] for name, text in DESCRIPTIONS.items()]))
    print("\nName one in dvc.yaml, under `plots:`: `- train_log.csv: {x: step, y: loss, template: smooth}`.")
    return 0
