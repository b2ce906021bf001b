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


def _command_of(argv: list[str]) -> str | None:
    """The command named in `argv` (skipping global options), or None."""
    args = iter(argv)
    for arg in args:
        if arg == "-C":
            next(args, None)
        elif not arg.startswith("-"):
            return arg
    return None


class _Parser(argparse.ArgumentParser):
    """argparse's parser, whose errors suggest the nearest command or flag (`xp exp shwo` → `show`)."""

    def error(self, message: str):  # noqa: D102 - argparse's hook.
        import difflib
        import re

        hint = ""
        choice = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if choice:
            options = re.findall(r"'([^']*)'", choice.group(2)) or [c.strip() for c in choice.group(2).split(",")]
            close = difflib.get_close_matches(choice.group(1), options, n=1, cutoff=0.6)
            hint = f"did you mean '{close[0]}'?" if close else ""
        unknown = re.search(r"unrecognized arguments: (\S+)", message)
        if unknown and unknown.group(1).startswith("-"):
            flags = [flag for parser in _parsers(self) for action in parser._actions for flag in action.option_strings]
            typed = unknown.group(1).split("=")[0]
            # Another command's flag of the same spelling is no suggestion (`exp apply -f`: "did you mean -f?").
            close = difflib.get_close_matches(typed, [f for f in flags if f != typed], n=1, cutoff=0.6)
            hint = f"did you mean '{close[0]}'?" if close else ""
        super().error(f"{message}; {hint}" if hint else message)


def _parsers(parser: argparse.ArgumentParser):
    """The parser and every sub-command parser below it that was built."""
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                yield from _parsers(child)


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The command tree; each leaf names its handler as `module:function`.

    Only the command named in `argv` gets its options (and sub-commands) built: the others get
    their one-line help, which is all `xp --help` shows. Building the whole tree costs ~10 ms
    that every command would otherwise pay. Without `argv` the whole tree is built.
    """
    parser = _Parser(
        prog="xp", description="Experiment management for ML projects (reads DVC's dvc.yaml, params.yaml, dvc.lock).",
        epilog=EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"xp {__version__}")
    parser.add_argument("-C", dest="cwd", metavar="DIR", help="run as if xp was started in DIR")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    wanted = None if argv is None else _command_of(argv)
    if wanted not in COMMANDS:
        wanted = None  # Unknown or no command: build everything, so argparse's own errors are complete.
    for name, (summary, description, builder) in COMMANDS.items():
        command = sub.add_parser(name, help=summary, description=description)
        if wanted is None or wanted == name:
            module, function = builder.split(":")
            getattr(importlib.import_module(module), function)(command)
    return parser


def _add_demo(demo: argparse.ArgumentParser) -> None:
    demo.add_argument("dir", nargs="?", default="xp-demo", help="folder to create (default: ./xp-demo)")
    demo.set_defaults(handler="pipeline:demo")


def _add_repro(repro: argparse.ArgumentParser) -> None:
    repro.add_argument("targets", nargs="*", metavar="STAGE", help="stages to reproduce (with what they depend on)")
    repro.add_argument("-f", "--force", action="store_true", help="run the targets (default: all) even if up to date")
    repro.add_argument("--dry", action="store_true", help="print what would run, change nothing")
    repro.add_argument("--no-run-cache", dest="run_cache", action="store_false",
                       help="always run commands, never restore outputs from the run-cache")
    repro.add_argument("-S", "--set-param", dest="set_params", action="append", default=[], metavar="[FILE:]KEY=VALUE",
                       help="set a param before reproducing (YAML typed, file default params.yaml); repeatable")
    repro.add_argument("-q", "--quiet", action="store_true", help="do not print the stages' output")
    add_repro_selection(repro)
    repro.add_argument("--json", action="store_true",
                       help="print which stages ran/were restored/skipped as JSON (progress goes to stderr)")
    repro.set_defaults(handler="pipeline:repro")


def _add_push(command: argparse.ArgumentParser) -> None:
    from pyhelper.cli.remote import add_transfer_arguments

    add_transfer_arguments(command, "push")


def _add_fetch(command: argparse.ArgumentParser) -> None:
    from pyhelper.cli.remote import add_transfer_arguments

    add_transfer_arguments(command, "fetch")


def _add_pull(command: argparse.ArgumentParser) -> None:
    from pyhelper.cli.remote import add_transfer_arguments

    add_transfer_arguments(command, "pull")


def _add_dag(dag: argparse.ArgumentParser) -> None:
    dag.add_argument("targets", nargs="*", metavar="TARGET",
                     help="stages or .dvc files: draw them and what they depend on (default: everything)")
    dag.add_argument("--full", action="store_true", help="with targets, every stage connected to them")
    dag.add_argument("-o", "--outs", action="store_true", help="draw outputs instead of stages")
    shape = dag.add_mutually_exclusive_group()
    shape.add_argument("--dot", action="store_true", help="print Graphviz DOT (as `dvc dag --dot`)")
    shape.add_argument("--mermaid", action="store_true", help="print a Mermaid flowchart")
    shape.add_argument("--md", action="store_true", help="print a Mermaid flowchart in a Markdown block")
    shape.add_argument("--json", action="store_true", help="print JSON: nodes in order and edges")
    dag.set_defaults(handler="pipeline:dag")


def _add_stage(command: argparse.ArgumentParser) -> None:
    stage = command.add_subparsers(dest="stage_command", metavar="COMMAND", required=True)
    sadd = stage.add_parser("add", help="add a stage to the dvc.yaml of this folder (as `dvc stage add` writes it)")
    sadd.add_argument("-n", "--name", required=True, help="the stage's name")
    sadd.add_argument("-f", "--force", action="store_true", help="replace a stage of the same name")
    sadd.add_argument("-d", "--deps", action="append", default=[], metavar="PATH", help="a dependency (repeatable)")
    sadd.add_argument("-p", "--params", action="append", default=[], metavar="[FILE:]KEYS",
                      help="params the stage reads: `lr,epochs` (params.yaml) or `file.yaml:key` (repeatable)")
    for flag, long, kind, flags, what in (
            ("-o", "--outs", "outs", {}, "an output kept in the cache"),
            ("-O", "--outs-no-cache", "outs", {"cache": False}, "an output git tracks"),
            (None, "--outs-persist", "outs", {"persist": True}, "an output kept between runs"),
            (None, "--outs-persist-no-cache", "outs", {"cache": False, "persist": True}, "both"),
            ("-m", "--metrics", "metrics", {}, "a metrics file kept in the cache"),
            ("-M", "--metrics-no-cache", "metrics", {"cache": False}, "a metrics file git tracks"),
            (None, "--plots", "plots", {}, "a plots file kept in the cache"),
            (None, "--plots-no-cache", "plots", {"cache": False}, "a plots file git tracks")):
        names = [n for n in (flag, long) if n]
        sadd.add_argument(*names, action="append", default=[], metavar="PATH", help=f"{what} (repeatable)",
                          dest=long.lstrip("-").replace("-", "_"))
        sadd.set_defaults(**{f"_kind_{long.lstrip('-').replace('-', '_')}": (kind, flags)})
    sadd.add_argument("-w", "--wdir", default=".", metavar="PATH", help="the folder the command runs in")
    sadd.add_argument("--always-changed", action="store_true", help="run the stage on every repro")
    sadd.add_argument("--desc", default="", help="a one-line description")
    sadd.add_argument("--run", action="store_true", help="reproduce the stage right after adding it")
    sadd.add_argument("command", nargs=argparse.REMAINDER, help="the command the stage runs")
    sadd.set_defaults(handler="pipeline:stage_add")
    slist = stage.add_parser("list", help="stages of this folder's dvc.yaml (or of the targets, or --all)")
    slist.add_argument("targets", nargs="*", metavar="TARGET", help="dvc.yaml files or stages")
    slist.add_argument("--all", action="store_true", help="every stage and .dvc file of the project")
    slist.add_argument("--name-only", "--names-only", action="store_true", help="names only")
    slist.add_argument("--json", action="store_true", help="print JSON")
    slist.set_defaults(handler="pipeline:stage_list")


def _add_add(add: argparse.ArgumentParser) -> None:
    add.add_argument("targets", nargs="+", metavar="PATH", help="data files or folders to track")
    add.add_argument("--json", action="store_true", help="print JSON (the .dvc file and hash of each path)")
    add.set_defaults(handler="pipeline:add")


def add_repro_selection(parser: argparse.ArgumentParser) -> None:
    """DVC's `repro` options that choose stages and handle failures (also on `exp run`)."""
    parser.add_argument("-s", "--single-item", action="store_true", help="only the targets, not what they depend on")
    parser.add_argument("--downstream", action="store_true",
                        help="the targets and every stage that depends on them (not what they depend on)")
    parser.add_argument("-p", "--pipeline", action="store_true",
                        help="every stage of the pipelines the targets belong to")
    parser.add_argument("-P", "--all-pipelines", action="store_true", help="every stage of the project")
    parser.add_argument("-R", "--recursive", action="store_true",
                        help="targets are folders: every stage of the dvc.yaml files under them")
    parser.add_argument("--glob", action="store_true", help="targets are shell patterns over stage names")
    parser.add_argument("-k", "--keep-going", action="store_true",
                        help="when a stage fails, still run the stages that do not depend on it (exit 1)")
    parser.add_argument("--ignore-errors", action="store_true",
                        help="when a stage fails, run every later stage anyway (exit 1)")
    parser.add_argument("--force-downstream", action="store_true",
                        help="run every stage downstream of one that ran, changed or not")
    parser.add_argument("--allow-missing", action="store_true",
                        help="skip stages whose only change is missing data (not pulled yet)")
    parser.add_argument("--pull", action="store_true",
                        help="first pull from the default remote what the locks record and the cache lacks, "
                             "and its run-cache (as DVC)")
    parser.add_argument("--no-commit", action="store_true",
                        help="refused, with the reason: xp caches every output so the run-cache can restore it")


def add_revision_flags(command: argparse.ArgumentParser, condition: str) -> None:
    """DVC's -a/-T/-A: other commits' outputs besides the workspace's (`condition`: when they apply)."""
    command.add_argument("-a", "--all-branches", action="store_true",
                         help=f"{condition}also the outputs the tip of every branch records (as DVC)")
    command.add_argument("-T", "--all-tags", action="store_true",
                         help=f"{condition}also the outputs every tagged commit records (as DVC)")
    command.add_argument("-A", "--all-commits", action="store_true",
                         help=f"{condition}also the outputs every commit of every branch and tag records (as DVC)")


def _add_status(status: argparse.ArgumentParser) -> None:
    status.add_argument("targets", nargs="*", metavar="STAGE")
    status.add_argument("--json", action="store_true",
                        help="print DVC's JSON (`dvc status --json`: changed deps/outs per stage and .dvc file)")
    status.add_argument("-c", "--cloud", action="store_true",
                        help="compare the cache with the remote (as `dvc status -c`): new, deleted, missing")
    status.add_argument("-r", "--remote", metavar="NAME",
                        help="compare with this remote (implies -c, as DVC; default: the default remote)")
    add_revision_flags(status, "with -c: ")
    status.add_argument("-j", "--jobs", type=int, metavar="N",
                        help="with -c: accepted for DVC's sake (xp lists each prefix folder once, not per object)")
    status.add_argument("-d", "--with-deps", action="store_true",
                        help="with targets: the stages they depend on too (default: the targets alone, as DVC)")
    status.add_argument("-R", "--recursive", action="store_true",
                        help="targets are folders: every stage of the dvc.yaml files under them")
    status.add_argument("--xp-json", action="store_true",
                        help="print xp's JSON: every stage with its reasons, changed or not")
    status.set_defaults(handler="pipeline:status")


def _add_params(command: argparse.ArgumentParser) -> None:
    params = command.add_subparsers(
        dest="params_command", metavar="COMMAND", required=True)
    pdiff = params.add_parser("diff", help="params that differ between two revisions (default: HEAD and workspace)")
    pdiff.add_argument("a", nargs="?", default="HEAD", metavar="A", help="old revision (default: HEAD)")
    pdiff.add_argument("b", nargs="?", default="workspace", metavar="B", help="new revision (default: workspace)")
    pdiff.add_argument("--all", action="store_true", help="show unchanged params too")
    pdiff.add_argument("--targets", nargs="+", default=[], metavar="FILE",
                       help="only these params files (relative to the project's folder)")
    pdiff.add_argument("--deps", action="store_true",
                       help="only params the stages depend on (without it, every key of params.yaml is compared too)")
    pdiff.add_argument("--no-path", action="store_true", help="leave the file column out of the table")
    _add_output_flags(pdiff)
    pdiff.set_defaults(handler="values:params_diff")


def _add_metrics(command: argparse.ArgumentParser) -> None:
    metrics = command.add_subparsers(
        dest="metrics_command", metavar="COMMAND", required=True)
    mshow = metrics.add_parser("show", help="metrics of the workspace (or of a revision)")
    mshow.add_argument("--rev", default="workspace", help="revision to read (default: workspace)")
    mshow.add_argument("targets", nargs="*", default=[], metavar="FILE", help="only these metrics files")
    mshow.add_argument("-a", "--all-branches", action="store_true", help="the workspace and every branch")
    mshow.add_argument("-T", "--all-tags", action="store_true", help="the workspace and every tag")
    mshow.add_argument("-A", "--all-commits", action="store_true",
                       help="the workspace and every commit of HEAD's history")
    _add_output_flags(mshow, precision=True)
    mshow.set_defaults(handler="values:metrics_show")
    mdiff = metrics.add_parser("diff", help="metrics that differ between two revisions (default: HEAD and workspace)")
    mdiff.add_argument("a", nargs="?", default="HEAD", metavar="A", help="old revision (default: HEAD)")
    mdiff.add_argument("b", nargs="?", default="workspace", metavar="B", help="new revision (default: workspace)")
    mdiff.add_argument("--all", action="store_true", help="show unchanged metrics too")
    mdiff.add_argument("--targets", nargs="+", default=[], metavar="FILE", help="only these metrics files")
    mdiff.add_argument("--no-path", action="store_true", help="leave the file column out of the table")
    _add_output_flags(mdiff, precision=True)
    mdiff.set_defaults(handler="values:metrics_diff")


def _add_runs(command: argparse.ArgumentParser) -> None:
    runs = command.add_subparsers(
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


COMMANDS: dict[str, tuple[str, str | None, str]] = {
    # name: (one-line help, description for `xp NAME --help`, "module:function" adding its options)
    "demo": ("create a small ML project, reproduce its pipeline, show its metrics",
             "Create a ready-to-run demo project (git initialised, first commit made), reproduce its pipeline "
             "and print its metrics.", "pyhelper.cli:_add_demo"),
    "repro": ("reproduce the pipeline: run what changed, reuse cached runs",
              "Bring the pipeline up to date: stages whose command, deps, params or outputs differ from dvc.lock "
              "run (or are restored from the run-cache); the rest are skipped.", "pyhelper.cli:_add_repro"),
    "status": ("show which stages and .dvc-tracked data are out of date and why",
               "Compare every stage (of every dvc.yaml in the project) and every .dvc file with what was "
               "recorded; nothing runs. --json prints DVC's own shape.", "pyhelper.cli:_add_status"),
    "dag": ("draw the pipeline: stages (or outputs) and what feeds what",
            "Draw every stage and .dvc file of the project, upstream first, as text, Graphviz DOT or Mermaid "
            "(the same graph `dvc dag` draws).", "pyhelper.cli:_add_dag"),
    "stage": ("add stages to dvc.yaml and list them (as `dvc stage add/list`)", None, "pyhelper.cli:_add_stage"),
    "add": ("track data outside git: cache it and write PATH.dvc (as `dvc add` does)",
            "Store a data file or folder in the object cache, write PATH.dvc (DVC 3's format, byte for byte) "
            "and a /name line in the .gitignore beside it. Commit the .dvc file.", "pyhelper.cli:_add_add"),
    "params": ("compare params between revisions", None, "pyhelper.cli:_add_params"),
    "metrics": ("show and compare metrics", None, "pyhelper.cli:_add_metrics"),
    "exp": ("experiments: run, show, compare, apply, keep",
            "Experiments are git commits under refs/exps/… (DVC's layout); they never move HEAD, touch the "
            "index or change a branch.", "pyhelper.cli.exp:add_arguments"),
    "experiments": ("the same as `xp exp` (DVC's long name)", None, "pyhelper.cli.exp:add_arguments"),
    "queue": ("the experiment queue: workers, status, logs, kill, retry",
              "Queued experiments run in worker processes, each in a private copy of the workspace as it "
              "was when queued.", "pyhelper.cli.queue:add_arguments"),
    "plots": ("plots of experiments and revisions as one offline HTML file (or JSON)",
              "Draw dvc.yaml's plots (linear, scatter, smooth, confusion, bar) and pyhelper.live's per-step "
              "metrics with Vega-Lite, overlaying experiments.", "pyhelper.cli.plots:add_arguments"),
    "runs": ("explore the run-cache: every recorded stage run", None, "pyhelper.cli:_add_runs"),
    "remote": ("configure remote storage for outputs (as `dvc remote`: .dvc/config)", None,
               "pyhelper.cli.remote:add_arguments"),
    "push": ("upload the outputs and .dvc data of the workspace to a remote",
             "Upload what dvc.lock and the .dvc files record (or TARGETs) to the default remote (or -r): only "
             "the objects it lacks, in DVC 3's layout, so `dvc pull` reads them.", "pyhelper.cli:_add_push"),
    "fetch": ("download outputs from a remote into the cache (the workspace is left alone)",
              "Download into the cache what dvc.lock and the .dvc files record and the cache lacks; every "
              "object is checked against its md5 before it enters.", "pyhelper.cli:_add_fetch"),
    "pull": ("fetch outputs from a remote and put them in place",
             "`xp fetch`, then check the outputs out into the workspace (what is replaced stays in the cache).",
             "pyhelper.cli:_add_pull"),
    "serve": ("the language server for editors (JSON-RPC over stdio)",
              "Serve the project in the current folder to an editor over stdin/stdout (VS Code starts it). "
              "Methods: pyhelper/server/protocol.py.", "pyhelper.cli.serve:add_arguments"),
}


def _show_notices() -> None:
    """Prints core's `Notice` warnings as `note: …` lines on stderr (each once); other warnings as Python does."""
    import warnings

    from pyhelper.errors import Notice

    default = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001 - warnings' hook.
        if issubclass(category, Notice):
            print(f"note: {message}", file=sys.stderr)
        else:
            default(message, category, filename, lineno, file, line)

    warnings.showwarning = show


def main(argv: list[str] | None = None) -> int:
    """Entry point of `xp`; returns the exit code."""
    from pyhelper.errors import XpError

    if argv is None:
        argv = sys.argv[1:]
    parser = build_parser(argv)
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
    _show_notices()
    if signal.getsignal(signal.SIGHUP) is signal.SIG_DFL:  # The terminal closed; `nohup xp …` keeps ignoring it.
        signal.signal(signal.SIGHUP, terminated)
    module_name, function = args.handler.split(":")
    handler = getattr(importlib.import_module(f"pyhelper.cli.{module_name}"), function)
    try:
        return handler(args) or 0
    except XpError as exc:
        from pyhelper.core.printable import escape

        print(f"error: {escape(exc.one_line(), keep=chr(10))}", file=sys.stderr)  # It may quote a pulled file.
        return exc.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:  # The disk, not xp: full, read-only, not ours. One line naming what and the fix.
        if exc.errno not in _DISK_ERRORS:
            raise
        print(f"error: {_disk_error(exc)}", file=sys.stderr)
        return 2
    except git_errors() as exc:  # libgit2 says the same in its own words.
        text = str(exc).splitlines()[0] if str(exc) else ""
        if not any(words in text for words in _DISK_WORDS):
            raise
        print(f"error: {text} — free some disk space (`xp exp clean` removes xp's temp files) or make the folder "
              "writable, then run it again; nothing was half written", file=sys.stderr)
        return 2
    except sqlite3_errors() as exc:
        text = str(exc)
        if "disk is full" in text or "readonly database" in text or "disk I/O error" in text:
            print(f"error: a database under .xp/ cannot be written ({text}) — free disk space, or make .xp/ "
                  "writable (read-only commands work on a read-only .xp/)", file=sys.stderr)
            return 2
        raise


def sqlite3_errors() -> type[Exception]:
    """sqlite3's OperationalError (imported here only when something failed)."""
    import sqlite3

    return sqlite3.OperationalError


def git_errors() -> type[Exception]:
    """pygit2's GitError, or a class nothing raises when pygit2 was never imported."""
    module = sys.modules.get("pygit2") or sys.modules.get("_pygit2")
    return getattr(module, "GitError", _Never)


class _Never(Exception):
    """Raised by nothing: stands for an error type whose module is not loaded."""


_DISK_WORDS = ("No space left on device", "Read-only file system", "Disk quota exceeded")
_DISK_ERRORS = {28, 30, 13, 122}
"""ENOSPC, EROFS, EACCES, EDQUOT: a disk that is full, read-only or not ours."""


def _disk_error(exc: OSError) -> str:
    """`cannot write PATH: No space left on device — …` with the fix for each kind."""
    import errno

    where = f" {exc.filename}" if exc.filename else ""
    assert exc.errno is not None  # The caller picked one of _DISK_ERRORS.
    fix = {errno.ENOSPC: "free some disk space (`xp exp clean` removes xp's temp files), then run it again; "
                         "nothing was half written",
           errno.EDQUOT: "free some of your disk quota, then run it again; nothing was half written",
           errno.EROFS: "the file system is read-only: run it where you can write (read-only commands work)",
           errno.EACCES: "you may not write there: check the folder's owner and permissions"}[exc.errno]
    return f"cannot write{where}: {exc.strerror} — {fix}"
