"""The `xp` command line: parse arguments, call `pyhelper.core`, render the result.

Handlers are imported only when their command runs, so that quick commands start quickly.
Errors are turned into output in exactly one place (`main`): one line naming the file, line
and fix, and the exit code of the error's kind (2 bad input, 1 a stage failed).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from pyhelper import __version__

EPILOG = "Run `xp COMMAND --help` for a command's options. Exit codes: 0 ok, 1 a stage failed, 2 bad input."


def _add_output_flags(parser: argparse.ArgumentParser, *, md: bool = True, precision: bool = False) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    if md:
        parser.add_argument("--md", action="store_true", help="print a Markdown table")
    if precision:
        parser.add_argument("--precision", type=int, default=5, metavar="N",
                            help="round numbers to N digits after the point (default: 5)")


def build_parser() -> argparse.ArgumentParser:
    """The whole command tree; each leaf names its handler as `module:function`."""
    parser = argparse.ArgumentParser(
        prog="xp", description="Experiment management for ML projects (reads DVC's dvc.yaml, params.yaml, dvc.lock).",
        epilog=EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"xp {__version__}")
    parser.add_argument("-C", dest="cwd", metavar="DIR", help="run as if xp was started in DIR")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser("demo", help="create a small ML project, reproduce its pipeline, show its metrics",
                          description="Create a ready-to-run demo project (git initialised, first commit made), "
                                      "reproduce its pipeline and print its metrics.")
    demo.add_argument("dir", nargs="?", default="xp-demo", help="folder to create (default: ./xp-demo)")
    demo.set_defaults(handler="pipeline:demo")

    repro = sub.add_parser("repro", help="reproduce the pipeline: run what changed, reuse cached runs",
                           description="Bring the pipeline up to date: stages whose command, deps, params or "
                                       "outputs differ from dvc.lock run (or are restored from the run-cache); "
                                       "the rest are skipped.")
    repro.add_argument("targets", nargs="*", metavar="STAGE", help="stages to reproduce (with what they depend on)")
    repro.add_argument("-f", "--force", action="store_true", help="run the targets (default: all) even if up to date")
    repro.add_argument("--dry", action="store_true", help="print what would run, change nothing")
    repro.add_argument("--no-run-cache", dest="run_cache", action="store_false",
                       help="always run commands, never restore outputs from the run-cache")
    repro.add_argument("-S", "--set-param", dest="set_params", action="append", default=[], metavar="[FILE:]KEY=VALUE",
                       help="set a param before reproducing (YAML typed, file default params.yaml); repeatable")
    repro.add_argument("-q", "--quiet", action="store_true", help="do not print the stages' output")
    repro.add_argument("--json", action="store_true",
                       help="print which stages ran/were restored/skipped as JSON (progress goes to stderr)")
    repro.set_defaults(handler="pipeline:repro")

    status = sub.add_parser("status", help="show which stages are out of date and why")
    status.add_argument("targets", nargs="*", metavar="STAGE")
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(handler="pipeline:status")

    params = sub.add_parser("params", help="compare params between revisions").add_subparsers(
        dest="params_command", metavar="COMMAND", required=True)
    pdiff = params.add_parser("diff", help="params that differ between two revisions (default: HEAD and workspace)")
    pdiff.add_argument("a", nargs="?", default="HEAD", metavar="A", help="old revision (default: HEAD)")
    pdiff.add_argument("b", nargs="?", default="workspace", metavar="B", help="new revision (default: workspace)")
    pdiff.add_argument("--all", action="store_true", help="show unchanged params too")
    _add_output_flags(pdiff)
    pdiff.set_defaults(handler="values:params_diff")

    metrics = sub.add_parser("metrics", help="show and compare metrics").add_subparsers(
        dest="metrics_command", metavar="COMMAND", required=True)
    mshow = metrics.add_parser("show", help="metrics of the workspace (or of a revision)")
    mshow.add_argument("--rev", default="workspace", help="revision to read (default: workspace)")
    _add_output_flags(mshow, precision=True)
    mshow.set_defaults(handler="values:metrics_show")
    mdiff = metrics.add_parser("diff", help="metrics that differ between two revisions (default: HEAD and workspace)")
    mdiff.add_argument("a", nargs="?", default="HEAD", metavar="A", help="old revision (default: HEAD)")
    mdiff.add_argument("b", nargs="?", default="workspace", metavar="B", help="new revision (default: workspace)")
    mdiff.add_argument("--all", action="store_true", help="show unchanged metrics too")
    _add_output_flags(mdiff, precision=True)
    mdiff.set_defaults(handler="values:metrics_diff")

    from pyhelper.cli.exp import add_parser as add_exp

    add_exp(sub)
    from pyhelper.cli.queue import add_parser as add_queue

    add_queue(sub)

    runs = sub.add_parser("runs", help="explore the run-cache: every recorded stage run").add_subparsers(
        dest="runs_command", metavar="COMMAND", required=True)
    rlist = runs.add_parser("list", help="recorded runs, newest first")
    rlist.add_argument("--stage", help="only runs of this stage")
    rlist.add_argument("-n", "--limit", type=int, default=None, metavar="N", help="at most N runs")
    _add_output_flags(rlist, precision=True)
    rlist.set_defaults(handler="runs:list_runs")
    rshow = runs.add_parser("show", help="everything recorded about one run")
    rshow.add_argument("id", help="run id (a unique prefix is enough)")
    rshow.add_argument("--json", action="store_true", help="print JSON")
    rshow.set_defaults(handler="runs:show_run")
    rrestore = runs.add_parser("restore", help="put a run's outputs and params into the workspace")
    rrestore.add_argument("id", help="run id (a unique prefix is enough)")
    rrestore.add_argument("--force", action="store_true", help="overwrite uncommitted changes")
    rrestore.add_argument("--json", action="store_true", help="print JSON")
    rrestore.set_defaults(handler="runs:restore")
    sub.add_parser("serve", help="the language server for editors (JSON-RPC over stdio)").set_defaults(handler="serve:serve")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of `xp`; returns the exit code."""
    from pyhelper.errors import XpError

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 0
    if args.cwd:
        import os

        os.chdir(args.cwd)
    import signal

    def terminated(signum: int, frame: object) -> None:
        # Unwind like Ctrl-C does, so a running stage is stopped and nothing half-done is recorded.
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminated)
    module_name, function = args.handler.split(":")
    handler = getattr(importlib.import_module(f"pyhelper.cli.{module_name}"), function)
    try:
        return handler(args) or 0
    except XpError as exc:
        print(f"error: {exc.one_line()}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
