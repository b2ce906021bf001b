"""`xp remote …` (DVC's remote configuration) and `xp push`, `xp fetch`, `xp pull` (outputs to and from it)."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING

from pyhelper.cli.render import emit_json, table
from pyhelper.core.credentials import redact
from pyhelper.core.remotes.config import SECRETS

if TYPE_CHECKING:
    from pyhelper.core.project import Project
    from pyhelper.core.remotes.run_cache_transfer import RunsMoved
    from pyhelper.core.remotes.storage import Storage
    from pyhelper.core.remotes.transfer import Progress, Transferred
    from pyhelper.core.storage.outputs import Recorded


def _project() -> Project:
    from pyhelper.core.project import find_project

    return find_project()


def add_arguments(command: argparse.ArgumentParser) -> None:
    """`xp remote add|list|modify|default|remove|rename`."""
    cmds = command.add_subparsers(dest="remote_command", metavar="COMMAND", required=True)
    p = cmds.add_parser("add", help="add a remote (as `dvc remote add`: written to .dvc/config)",
                        description="Add a remote where outputs are pushed: a folder (local or a mounted shared "
                                    "disk). Written to .dvc/config (or .xpconfig when the project has no .dvc/), "
                                    "exactly as `dvc remote add` writes it.")
    p.add_argument("name", help="the remote's name")
    p.add_argument("url", help="a folder path (relative paths are kept relative to the config file, as DVC does)")
    p.add_argument("-d", "--default", action="store_true", help="make it the default remote")
    p.add_argument("--local", action="store_true", help="write it to config.local (this machine only, not in git)")
    p.add_argument("--project", action="store_true", help="write it to the committed config (the default)")
    p.add_argument("-f", "--force", action="store_true", help="replace a remote of the same name")
    p.set_defaults(handler="remote:add")
    p = cmds.add_parser("list", help="list the remotes (the default one marked)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler="remote:list_remotes")
    p = cmds.add_parser("modify", help="set (or --unset) one of a remote's options",
                        description="Set an option of a remote as `dvc remote modify` does (url, jobs, timeout, and "
                                    "the options of its type: endpointurl, region, profile, user, port, keyfile…).")
    p.add_argument("name")
    p.add_argument("option")
    p.add_argument("value", nargs="?")
    p.add_argument("-u", "--unset", action="store_true", help="remove the option")
    p.add_argument("--local", action="store_true", help="in config.local (secrets belong there)")
    p.add_argument("--project", action="store_true", help="in the committed config (the default)")
    p.set_defaults(handler="remote:modify")
    p = cmds.add_parser("default", help="show or set the default remote")
    p.add_argument("name", nargs="?")
    p.add_argument("-u", "--unset", action="store_true", help="no default remote")
    p.add_argument("--local", action="store_true", help="in config.local")
    p.add_argument("--project", action="store_true", help="in the committed config (the default)")
    p.set_defaults(handler="remote:default")
    p = cmds.add_parser("remove", help="remove a remote")
    p.add_argument("name")
    p.set_defaults(handler="remote:remove")
    p = cmds.add_parser("rename", help="rename a remote")
    p.add_argument("old")
    p.add_argument("new")
    p.set_defaults(handler="remote:rename")


def add_transfer_arguments(command: argparse.ArgumentParser, verb: str) -> None:
    """`xp push|fetch|pull [TARGET…] [-r NAME] [-j N] [--json]`."""
    command.add_argument("targets", nargs="*", metavar="TARGET",
                         help="outputs or .dvc files (default: every output dvc.lock and the .dvc files record)")
    command.add_argument("-r", "--remote", metavar="NAME", help="the remote (default: the default remote)")
    command.add_argument("-j", "--jobs", type=int, metavar="N",
                         help="transfers at once (default: 4 per CPU, as DVC)")
    command.add_argument("--json", action="store_true", help="print what moved as JSON")
    command.add_argument("-d", "--with-deps", action="store_true",
                         help="with stage targets: also the stages (and tracked data) they depend on, upstream")
    command.add_argument("-R", "--recursive", action="store_true",
                         help="targets are folders: every output and stage under them")
    command.add_argument("--glob", action="store_true",
                         help="targets are shell patterns over the work tree's files, `**` too (quote them)")
    command.add_argument("--run-cache", action=argparse.BooleanOptionalAction, default=False,
                         help=("also push every recorded stage run (DVC's run-cache entries) the remote lacks, with "
                               "its outputs" if verb == "push" else
                               f"also {verb} the remote's recorded stage runs (DVC's run-cache entries) with their "
                               "outputs, so `xp repro` restores those runs instead of running them"))
    if verb == "pull":
        command.add_argument("--allow-missing", action="store_true",
                             help="accepted for DVC's sake: xp's pull always names what the remote lacks and goes on")
    # A pull moves other commits' outputs into the cache too, and puts the workspace's in place (as DVC).
    from pyhelper.cli import add_revision_flags

    add_revision_flags(command, "")
    command.set_defaults(handler=f"remote:{verb}")


def add(args: argparse.Namespace) -> int:
    """`xp remote add`."""
    from pyhelper.core.remotes.config import add as add_remote
    from pyhelper.core.remotes.config import config_paths

    project = _project()
    remote = add_remote(project, args.name, args.url, default=args.default, local=args.local, force=args.force)
    path = config_paths(project)[1 if args.local else 0]
    print(f"Added remote '{remote.name}' ({redact(remote.url)}) to {project.rel(path)}"
          + ("; it is the default remote." if args.default else "."))
    return 0


def list_remotes(args: argparse.Namespace) -> int:
    """`xp remote list`."""
    from pyhelper.core.remotes.config import read_remotes

    remotes = read_remotes(_project())
    if args.json:
        emit_json([{"name": r.name, "url": redact(r.url), "default": r.name == remotes.default,
                    "options": {k: "***" if k in SECRETS else v for k, v in r.options.items()}}
                   for r in remotes.remotes.values()])
        return 0
    if not remotes.remotes:
        print("No remote is configured. Add one with `xp remote add -d NAME PATH`.")
        return 0
    print(table(["Name", "URL", ""], [[r.name, redact(r.url), "(default)" if r.name == remotes.default else ""]
                                       for r in remotes.remotes.values()]))
    return 0


def modify(args: argparse.Namespace) -> int:
    """`xp remote modify`."""
    from pyhelper.core.remotes.config import modify as modify_remote
    from pyhelper.errors import BadInput

    if args.unset == (args.value is not None):
        raise BadInput("give a value, or --unset (not both)", hint=f"xp remote modify {args.name} {args.option} VALUE")
    modify_remote(_project(), args.name, args.option, None if args.unset else args.value, local=args.local)
    shown = "*** (hidden)" if args.option in SECRETS else redact(args.value) if args.option == "url" else args.value
    print(f"Remote '{args.name}': {args.option} " + ("unset." if args.unset else f"= {shown}"))
    return 0


def default(args: argparse.Namespace) -> int:
    """`xp remote default [NAME]`."""
    from pyhelper.core.remotes.config import read_remotes, set_default

    project = _project()
    if args.name is None and not args.unset:
        current = read_remotes(project).default
        if current is None:
            print("No default remote. Set one with `xp remote default NAME`.", file=sys.stderr)
            return 1
        print(current)
        return 0
    set_default(project, None if args.unset else args.name, local=args.local)
    print("No default remote now." if args.unset else f"The default remote is '{args.name}'.")
    return 0


def remove(args: argparse.Namespace) -> int:
    """`xp remote remove`."""
    from pyhelper.core.remotes.config import remove as remove_remote

    remove_remote(_project(), args.name)
    print(f"Removed remote '{args.name}'.")
    return 0


def rename(args: argparse.Namespace) -> int:
    """`xp remote rename`."""
    from pyhelper.core.remotes.config import rename as rename_remote

    rename_remote(_project(), args.old, args.new)
    print(f"Renamed remote '{args.old}' to '{args.new}'.")
    return 0


def progress_line(verb: str) -> Progress | None:
    """A `\\rPushing 12/40 object(s)` line on a terminal's stderr (nothing when stderr is not one)."""
    if not sys.stderr.isatty():
        return None
    last = [0.0]

    def show(done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - last[0] < 0.1:
            return
        last[0] = now
        print(f"\r{verb} {done}/{total} object(s)", end="" if done < total else "\n", file=sys.stderr, flush=True)

    return show


def _say(result: Transferred, storage: Storage, verb: str, args: argparse.Namespace, extra: dict | None = None) -> int:
    """Prints what a transfer did (or its JSON) and returns the exit code; a problem raises."""
    from pyhelper.core.remotes.transfer import problems

    if args.json:
        emit_json({"moved": result.moved, "bytes": result.size, "already": result.already,
                   "missing": list(result.missing), "corrupt": list(result.corrupt), "failed": list(result.failed),
                   **(extra or {})})
    error = problems(result, storage, pushing=verb == "push")
    if error is not None:
        raise error
    if args.json:
        return 0
    size = f" ({_size(result.size)})" if result.size else ""
    word = {"push": "pushed to", "fetch": "fetched from", "pull": "fetched from"}[verb]
    print(f"{result.moved} object(s){size} {word} {storage.label}; {result.already} already there.")
    if result.missing:
        where = "this cache" if verb == "push" else "the remote"
        print(f"warning: {len(result.missing)} object(s) are not in {where} (e.g. {result.missing[0]}): "
              + ("`xp repro` rebuilds them, then push again" if verb == "push"
                 else "push them from the machine that made them"), file=sys.stderr)
    return 0


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"


def _open(args: argparse.Namespace, *, create: bool) -> tuple[Project, Storage]:
    from pyhelper.core.remotes.config import read_remotes
    from pyhelper.core.remotes.storage import open_storage

    project = _project()
    return project, open_storage(read_remotes(project).get(args.remote), create=create)


def chosen_outputs(project: Project, args: argparse.Namespace) -> list[Recorded]:
    """What a push or fetch moves: the workspace's outputs (or TARGETs), with -a/-T/-A those of other commits."""
    from pyhelper.core.remotes.transfer import revisions_outputs, select, workspace_outputs
    from pyhelper.errors import BadInput

    revisions = {flag: getattr(args, flag, False) for flag in ("all_branches", "all_tags", "all_commits")}
    if any(revisions.values()):
        if args.targets:
            given = next(f for f, on in revisions.items() if on).replace("_", "-")
            raise BadInput(f"--{given} takes no targets", hint=f"drop the targets, or --{given}")
        return revisions_outputs(project, branches=revisions["all_branches"], tags=revisions["all_tags"],
                                 all_commits=revisions["all_commits"])
    if (args.with_deps or args.recursive or args.glob) and not args.targets:
        raise BadInput("--with-deps, --recursive and --glob need targets", hint="name stages, paths or folders")
    return select(workspace_outputs(project), args.targets, project=project, with_deps=args.with_deps,
                  glob=args.glob, recursive=args.recursive)


def _move(args: argparse.Namespace, verb: str) -> tuple[Project, Storage, list[Recorded], Transferred]:
    """The push or fetch of what `args` names, with a progress line; (project, storage, outputs, result)."""
    from pyhelper.core.remotes import transfer

    pushing = verb == "push"
    project, storage = _open(args, create=pushing)
    outputs = chosen_outputs(project, args)
    move = transfer.push if pushing else transfer.fetch
    result = move(project, storage, [o.info for o in outputs], jobs=args.jobs,
                  progress=progress_line("Pushing" if pushing else "Fetching"))
    return project, storage, outputs, result


def _runs(project: Project, storage: Storage, args: argparse.Namespace, *, pushing: bool) -> RunsMoved | None:
    """With --run-cache: the run-cache entries (and their outputs) to or from the remote."""
    if not args.run_cache:
        return None
    from pyhelper.core.remotes.run_cache_transfer import fetch_runs, push_runs

    move = push_runs if pushing else fetch_runs
    return move(project, storage, jobs=args.jobs, progress=progress_line("Pushing" if pushing else "Fetching"))


def runs_json(runs: RunsMoved | None) -> dict:
    """`runCache` in --json: what a run-cache transfer did (nothing without --run-cache)."""
    if runs is None:
        return {}
    return {"runCache": {"moved": runs.moved, "already": runs.already, "recorded": runs.recorded,
                         "skipped": list(runs.skipped), "waiting": runs.waiting,
                         "objects": {"moved": runs.objects.moved, "already": runs.objects.already,
                                     "missing": list(runs.objects.missing)}}}


def _say_runs(runs: RunsMoved | None, storage: Storage, args: argparse.Namespace, *, pushing: bool) -> None:
    if runs is not None and not args.json:
        print(runs.note(pushing=pushing, label=storage.label))


def push(args: argparse.Namespace) -> int:
    """`xp push`: the workspace's outputs (and `.dvc` data) to the remote; with --run-cache the recorded runs."""
    project, storage, _, result = _move(args, "push")
    runs = _runs(project, storage, args, pushing=True)
    code = _say(result, storage, "push", args, runs_json(runs))
    _say_runs(runs, storage, args, pushing=True)
    return code


def fetch(args: argparse.Namespace) -> int:
    """`xp fetch`: into the cache, without touching the workspace; with --run-cache the remote's recorded runs."""
    project, storage, _, result = _move(args, "fetch")
    runs = _runs(project, storage, args, pushing=False)
    code = _say(result, storage, "fetch", args, runs_json(runs))
    _say_runs(runs, storage, args, pushing=False)
    return code


def pull(args: argparse.Namespace) -> int:
    """`xp pull`: fetch, then put the outputs in place (what is replaced stays in the cache)."""
    from pyhelper.core.remotes.transfer import problems
    from pyhelper.core.storage.outputs import checkout

    project, storage, outputs, result = _move(args, "pull")
    if args.all_branches or args.all_tags or args.all_commits:  # Only the workspace's have a place here.
        from pyhelper.core.remotes.transfer import workspace_outputs

        outputs = workspace_outputs(project)
    error = problems(result, storage, pushing=False)
    checked = checkout(project, outputs)  # What did arrive is put in place even when something failed.
    if error is not None:
        raise error
    # The runs' outputs only enter the cache: `xp repro` puts the ones it restores in place.
    runs = _runs(project, storage, args, pushing=False)
    code = _say(result, storage, "pull", args, {"checkedOut": list(checked.outputs), "stillMissing":
                                                 list(checked.missing), **runs_json(runs)})
    if not args.json:
        print(f"{len(checked.outputs)} output(s) checked out" + (f"; {len(checked.missing)} still missing: "
                                                                    + ", ".join(checked.missing[:5])
                                                                    if checked.missing else "."))
    _say_runs(runs, storage, args, pushing=False)
    return code
