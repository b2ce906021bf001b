"""`xp plots show/diff/templates/modify`: the pipeline's plots as one self-contained HTML file, or as JSON
(DVC's shape with --json, xp's with --xp-json); `modify` writes a plot's properties into dvc.yaml."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from pyhelper.cli.render import emit_json, table

if TYPE_CHECKING:
    import pygit2

    from pyhelper.core.project import Project

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
    diff.add_argument("--targets", action="extend", nargs="*", default=[], metavar="TARGET",
                      help="draw only these plot ids or files (as DVC: the words after it, until the next flag)")
    diff.add_argument("--all-experiments", action="store_true",
                      help="add every experiment of HEAD's baseline (after the revisions named)")
    diff.add_argument("-A", "--all-commits", action="store_true",
                      help="add every experiment of every commit, as -A does in `exp show` and `exp remove`")
    _add_common(diff)
    diff.set_defaults(handler="plots:diff")
    modify = plots.add_parser("modify", help="set or unset a stage's plot properties in dvc.yaml",
                              description="Set (or --unset) the display properties of a plots output of a stage "
                                          "in its dvc.yaml, as `dvc plots modify` does; comments and order stay.")
    modify.add_argument("target", metavar="TARGET", help="the plot's file, as the stage's outs name it")
    _add_props(modify)
    modify.add_argument("--unset", nargs="*", metavar="PROPERTY", help="remove these properties of the plot")
    modify.set_defaults(handler="plots:modify")
    templates = plots.add_parser("templates", help="list the templates a plot can use")
    templates.add_argument("--json", action="store_true", help="print JSON")
    templates.set_defaults(handler="plots:templates")


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--out", metavar="DIR",
                        help=f"the folder to write index.html into, as DVC (a path ending in .html: that file; "
                             f"default: {DEFAULT_OUT} in the project)")
    parser.add_argument("--json", action="store_true",
                        help="print DVC's JSON (`dvc plots show --json`: its templates, data inline; images "
                             "written to -o or .xp/plots/); write no report")
    parser.add_argument("--xp-json", action="store_true",
                        help="print xp's JSON (revisions, and each plot's Vega-Lite spec with its data); write no file")
    parser.add_argument("--split", action="store_true",
                        help="with --json: DVC's anchors (data, colours, titles) apart from the spec")
    parser.add_argument("--show-vega", action="store_true",
                        help="print the Vega-Lite spec of the one plot named (DVC's template, data inline)")
    parser.add_argument("--html-template", metavar="FILE",
                        help="an HTML file holding {plot_divs} (and optionally {scripts}): the report is put there")
    parser.add_argument("--open", action="store_true", help="open the HTML file in a browser")
    _add_props(parser)
    parser.add_argument("--metric-vs-param", action="append", default=[], metavar="METRIC:PARAM",
                        help="add a plot of METRIC against PARAM, a point per revision; repeatable")
    parser.add_argument("--parallel", metavar="PARAM,…:METRIC",
                        help="add parallel coordinates over these params and a metric, a line per revision")


def _add_props(parser: argparse.ArgumentParser) -> None:
    """DVC's plot properties (the same flags on show, diff and modify)."""
    parser.add_argument("-x", metavar="FIELD", help="the field drawn on x (instead of the plot's own)")
    parser.add_argument("-y", metavar="FIELD", help="the field drawn on y (instead of the plot's own)")
    parser.add_argument("-t", "--template", metavar="NAME", help="draw with this template (see `xp plots templates`)")
    parser.add_argument("--no-header", dest="header", action="store_false", default=None,
                        help="the CSV/TSV files have no header row (columns are named 0, 1, …)")
    parser.add_argument("--title", metavar="TEXT", help="the plots' title")
    parser.add_argument("--x-label", metavar="TEXT", help="the x axis' label")
    parser.add_argument("--y-label", metavar="TEXT", help="the y axis' label")


def _props(args: argparse.Namespace) -> dict[str, object]:
    """The properties given on the command line, in DVC's order (only those given: the rest stay the plot's)."""
    given = {"template": args.template, "x": args.x, "y": args.y, "x_label": args.x_label,
             "y_label": args.y_label, "title": args.title, "header": args.header}
    return {key: value for key, value in given.items() if value is not None}


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
    if args.show_vega:
        # DVC's rules for --show-vega, in its words.
        if not targets:
            raise BadInput("please specify a target for `--show-vega`", hint="name one plot id or file")
        if len(targets) > 1:
            raise BadInput("you can only specify one target for `--show-vega`", hint="name one plot id or file")
    if sum(map(bool, (args.json, args.xp_json, args.show_vega))) > 1:
        raise BadInput("--json, --xp-json and --show-vega are mutually exclusive options", hint="choose one")
    if (args.json or args.show_vega) and (args.metric_vs_param or args.parallel):
        raise BadInput("--metric-vs-param and --parallel are xp's own plots, not in DVC's JSON",
                       hint="use them with --xp-json or the HTML report")
    if args.json or args.show_vega:
        return _dvc_output(args, project, repo, revs=revs, targets=targets, all_experiments=all_experiments,
                           all_commits=all_commits)
    if all_experiments or all_commits:
        if repo is None:
            raise BadInput(f"{'-A' if all_commits else '--all-experiments'} needs a commit to be the baseline",
                           hint="commit first")
        if not all_commits:
            revs = (revs or []) + collect.experiments_of_head(repo)
    revisions = collect.select(project, repo, revs) if revs or not all_commits else []
    if all_commits and repo is not None:
        revisions += [r for r in collect.experiments_of_all(repo) if all(r.rev != c.rev for c in revisions)]
    props = {k: str(v) for k, v in _props(args).items() if k != "header" and v}
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
    if args.xp_json:
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
    page = _html_template(args.html_template) if args.html_template else None
    write_atomic(out, report.render(result, title=f"xp plots: {labels}", page=page))
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


def _html_template(name: str) -> str:
    """The text of an --html-template file, which must hold {plot_divs} (DVC's rule)."""
    from pyhelper.errors import BadInput

    path = Path(name)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInput(f"{name}: no such HTML template", hint="name an HTML file holding {plot_divs}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{name}: cannot read the HTML template ({exc})",
                       hint="name a UTF-8 HTML file holding {plot_divs}") from None
    if "{plot_divs}" not in text:
        raise BadInput(f"{name}: HTML template has to contain '{{plot_divs}}'",
                       hint="put {plot_divs} where the plots go (and {scripts} in <head>, if you like)")
    return text


def _dvc_output(args: argparse.Namespace, project: Project, repo: pygit2.Repository | None, *, revs: list[str],
                targets: list[str], all_experiments: bool, all_commits: bool) -> int:
    """--json and --show-vega: DVC's output for the revisions DVC would compare."""
    from pyhelper.core.plots import collect, dvc_json
    if args.plots_command == "diff":
        if repo is None:
            # `dvc plots diff` in a repository without commits prints nothing to compare: {}.
            sys.stdout.write("{}\n" if args.json else "")
            return 0
        revs = dvc_json.revisions_for_diff(project, repo, revs)
        if all_experiments:
            revs += [r for r in collect.experiments_of_head(repo) if r not in revs]
        if all_commits:
            revs += [r.label for r in collect.experiments_of_all(repo) if r.label not in revs]
    chosen = [(name, collect.select(project, repo, [name])[0]) for name in revs]
    found = dvc_json.collect(project, repo, chosen, targets=targets, props=_props(args))
    # DVC writes the images --json points at into -o (default its dvc_plots/); xp's default is inside
    # .xp/, which git ignores, so they are never swept into an experiment's commit.
    out = Path(args.out) if args.out else project.root / DEFAULT_OUT.rsplit("/", 1)[0]
    rendered = dvc_json.render(project, found, out=out, cwd=Path.cwd())
    if args.show_vega:
        spec = dvc_json.show_vega(rendered)
        if spec is not None:
            emit_json(spec)
        return 0
    emit_json(dvc_json.show_json(found, rendered, split=args.split))
    return 0


def modify(args: argparse.Namespace) -> int:
    """`xp plots modify TARGET [-x F] [-y F] [-t T] [--title …] [--unset P…]`."""
    from pyhelper.core.plots.modify import modify as modify_plot
    from pyhelper.core.project import find_project

    done = modify_plot(find_project(), args.target, props=_props(args), unset=args.unset, cwd=Path.cwd())
    print(f"Modifying stage '{done.stage}' in '{done.dvcfile}'")
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
