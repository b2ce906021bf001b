"""`xp exp …`: run, save, show, diff, apply, branch, rename, remove, list, tag, note, star, push, pull."""

from __future__ import annotations

import argparse
import sys
import time

from pyhelper.cli.render import emit_json, number, printable, table


def _project():
    from pyhelper.core.project import find_project

    return find_project()


def _print_repro_events(quiet: bool, stream):
    from pyhelper.cli.pipeline import _print_event

    return lambda event: _print_event(event, quiet, stream)


def run(args: argparse.Namespace) -> int:
    """`xp exp run`."""
    if (args.resume or args.reset) and (args.queue or args.run_all):
        from pyhelper.errors import BadInput

        raise BadInput("--resume and --reset apply to a run, not to the queue", hint="drop --queue/--run-all")
    if not args.queue:
        from pyhelper.core.queue.sweep import expand
        from pyhelper.errors import BadInput

        if args.sample is not None or args.seed is not None or args.retries or args.yes:
            raise BadInput("--sample, --seed, --retries and --yes only apply with --queue", hint="add --queue")
        if args.set_params and args.run_all:
            raise BadInput("-S with --run-all changes nothing already queued",
                           hint="queue them first: xp exp run --queue -S …")
        points = len(expand(args.set_params, confirm=True))
        if points > 1:
            raise BadInput(f"these -S values describe {points} experiments",
                           hint="add --queue to queue them, then run them with `xp exp run --run-all -j N`")
    if args.queue or args.run_all:
        from pyhelper.cli.queue import queued, run_all
        from pyhelper.core.queue.enqueue import enqueue

        project = _project()
        if args.queue:
            entries = enqueue(project, set_values=args.set_params, name=args.name, message=args.message,
                              sample=args.sample, seed=args.seed, confirm=args.yes, retries=args.retries)
            queued(entries, as_json=args.json and not args.run_all)
        if args.run_all:
            return run_all(project, args.jobs, as_json=args.json)
        return 0

    from pyhelper.cli.pipeline import repro_options
    from pyhelper.core.experiments.run import dry_run
    from pyhelper.core.experiments.run import run as run_experiment

    stream = sys.stderr if args.json else sys.stdout
    options = repro_options(args)
    if args.pull:  # A --temp copy checks out from the cache: the workspace is left alone.
        from pyhelper.cli.pipeline import pull_first

        pull_first(_project(), args, checkout_absent=not args.temp)
    if args.copy_paths and not args.temp:
        from pyhelper.errors import BadInput

        raise BadInput("--copy-paths applies to a private copy",
                       hint="add --temp (the workspace has the files already)")
    if args.dry:
        dry = dry_run(_project(), args.set_params, args.targets or None, force=args.force, options=options,
                      on_event=_print_repro_events(args.quiet, stream))
        if args.json:
            emit_json({"wouldRun": list(dry.would_run)})
        else:
            print("Nothing would run." if not dry.would_run else f"{len(dry.would_run)} stage(s) would run.")
        return 0
    result = run_experiment(_project(), set_values=args.set_params, name=args.name, message=args.message,
                            targets=args.targets or None, force=args.force, temp=args.temp,
                            use_run_cache=args.run_cache,
                            on_event=_print_repro_events(args.quiet, stream),
                            resume=args.resume, reset=args.reset, options=options, copy_paths=args.copy_paths)
    exp = result.experiment
    if args.json:
        emit_json({"name": exp.name, "rev": exp.rev, "baseline": exp.ref.baseline, "ref": str(exp.ref),
                   "ran": list(result.repro.ran), "restored": list(result.repro.restored),
                   "savedAs": result.saved_workspace.name if result.saved_workspace else None})
    else:
        if result.saved_workspace is not None:
            print(f"Saved the workspace first as experiment '{result.saved_workspace.name}' "
                  f"(bring it back with `xp exp apply {result.saved_workspace.name}`).")
        print(f"Ran experiment '{exp.name}' ({exp.rev[:7]}) on baseline {exp.ref.baseline[:7]}.")
        print(f"Compare with `xp exp show`; keep it with `xp exp branch {exp.name} <branch>`.")
    return 0


def save(args: argparse.Namespace) -> int:
    """`xp exp save`."""
    from pyhelper.core.experiments.save import save as save_experiment

    exp = save_experiment(_project(), name=args.name, message=args.message, force=args.force)
    if args.json:
        emit_json({"name": exp.name, "rev": exp.rev, "baseline": exp.ref.baseline, "ref": str(exp.ref)})
    else:
        print(f"Saved the workspace as experiment '{exp.name}' ({exp.rev[:7]}) on baseline {exp.ref.baseline[:7]}.")
    return 0


def _created(ts: float | None) -> str:
    if ts is None:
        return "-"
    now = time.time()
    fmt = "%H:%M:%S" if now - ts < 86400 else "%b %d %Y" if now - ts > 180 * 86400 else "%b %d %H:%M"
    return time.strftime(fmt, time.localtime(ts))


def _iso(ts: float | None) -> str:
    if ts is None:
        return ""
    from datetime import datetime

    return datetime.fromtimestamp(ts).astimezone().isoformat(timespec="seconds")


def _row_json(row) -> dict:
    return {
        "kind": row.kind, "name": row.name, "rev": row.rev, "baseline": row.baseline,
        "created": row.created, "status": row.status, "message": row.message, "tags": list(row.tags),
        "note": row.note, "params": row.params, "metrics": row.metrics, "deps": row.deps, "errors": row.errors,
        "step": row.step, "starred": row.starred,
    }


def _tags_cell(row, *, starred_mark: bool) -> str:
    """The Tags column: a star first when the experiment is starred (CSV keeps only the tags)."""
    tags = ",".join(row.tags)
    if starred_mark and row.starred:
        return f"★ {tags}".strip()
    return tags or "-"


def show(args: argparse.Namespace) -> int:
    """`xp exp show`."""
    from pyhelper.core.experiments import query
    from pyhelper.core.experiments.show import EXPERIMENT_KINDS
    from pyhelper.core.experiments.show import show as collect

    if args.json:
        from pyhelper.core.experiments.dvc_json import dvc_show

        emit_json(dvc_show(_project(), all_branches=args.all_branches, all_commits=args.all_commits, num=args.num,
                           revs=args.rev, hide_workspace=args.hide_workspace, param_deps=args.param_deps,
                           all_tags=args.all_tags))
        return 0
    rows = collect(_project(), all_branches=args.all_branches, all_commits=args.all_commits, num=args.num,
                   revs=args.rev, with_deps=args.deps, checkpoints=args.checkpoints, param_deps=args.param_deps,
                   all_tags=args.all_tags)
    all_columns = query.columns(rows)
    hide = tuple(kind for kind, flag in (("queued", args.hide_queued), ("failed", args.hide_failed),
                                         ("workspace", args.hide_workspace)) if flag)
    rows = query.select_rows(rows, filter=args.filter, sort_by=args.sort_by, descending=args.sort_order == "desc",
                             starred=args.starred, hide=hide, all_columns=all_columns)
    if args.sha:
        from dataclasses import replace

        rows = [replace(r, name=r.rev[:7]) if r.kind == "baseline" else r for r in rows]
    shown = query.select_columns(rows, all_columns, only_changed=args.only_changed, drop=args.drop, keep=args.keep)
    if args.xp_json:
        emit_json([_row_json(r) for r in rows])
        return 0
    headers = ["Experiment", "rev", "Created", "State", "Tags"] + [query.header(c, all_columns) for c in shown]
    body = []
    last_experiment = True
    for index, row in enumerate(rows):
        if row.kind in EXPERIMENT_KINDS and not args.csv:
            following = next((r for r in rows[index + 1:] if r.kind != "checkpoint"), None)
            last = following is None or following.kind not in EXPERIMENT_KINDS
            label = ("└── " if last else "├── ") + row.name
            last_experiment = last
        elif row.kind == "checkpoint" and not args.csv:
            end = index + 1 >= len(rows) or rows[index + 1].kind != "checkpoint"
            label = ("    " if last_experiment else "│   ") + ("└── " if end else "├── ") + row.name
        else:
            label = row.name  # CSV is read by programs: plain names, full times.
        cells = []
        for column in shown:
            value = query.value(row, column)
            error = row.errors.get(column.file, "")
            cells.append("error" if value is None and error and error != "missing" else number(value, args.precision))
        created = _iso(row.created) if args.csv else _created(row.created)
        state = row.status or "-"
        if row.kind == "experiment" and row.status in ("running", "failed") and row.step is not None:
            state = f"{row.status} at step {row.step}"
        body.append([label, row.rev[:7] if row.rev != "workspace" else "-", created,
                     state, _tags_cell(row, starred_mark=not args.csv), *cells])
    if args.csv:
        import csv

        writer = csv.writer(sys.stdout)
        writer.writerow(headers)
        writer.writerows(body)
        return 0
    print(table(headers, body, markdown=args.md, indented=any(r.kind == "checkpoint" for r in rows)))
    for row in rows:
        for error in row.errors.values():
            if error != "missing":
                print(f"warning: {printable(f'{row.name}: {error}')}", file=sys.stderr)  # Pulled text, maybe.
    return 0


def diff(args: argparse.Namespace) -> int:
    """`xp exp diff [A] [B]`."""
    from pyhelper.core.experiments.diff import diff as compute
    from pyhelper.core.values.metrics import dvc_diff_entry

    result = compute(_project(), args.a, args.b, all_rows=args.all, param_deps=args.param_deps)
    for side, error in result.errors:
        print(f"warning: {printable(f'{side}: {error}')}", file=sys.stderr)
    if args.json:
        # DVC's shape: a `diff` only between two numbers; lists written as DVC writes them.
        out: dict = {"params": {}, "metrics": {}}
        for section, data in (("params", result.params), ("metrics", result.metrics)):
            for row in data.rows:
                old, new = (str(v) if isinstance(v, list) else v for v in (row.old, row.new))
                out[section].setdefault(row.path, {})[row.key] = dvc_diff_entry(old, new, True)
        emit_json(out)
        return 0
    rows = [[*([] if args.no_path else [r.path]), r.key, number(r.old, args.precision), number(r.new, args.precision),
             number(r.change, args.precision) if r.change is not None else "-"]
            for r in (*result.metrics.rows, *result.params.rows)]
    if not rows:
        print(f"No params or metrics differ between {args.a} and {args.b}.")
        return 0
    print(table([*([] if args.no_path else ["Path"]), "Key", args.a, args.b, "Change"], rows, markdown=args.md))
    return 0


def apply(args: argparse.Namespace) -> int:
    """`xp exp apply NAME`."""
    from pyhelper.core.experiments.apply import apply as apply_experiment

    result = apply_experiment(_project(), args.name, force=args.force)
    if args.json:
        emit_json({"name": result.experiment.name, "rev": result.experiment.rev, "written": list(result.written),
                   "deleted": list(result.deleted), "outputs": list(result.outputs),
                   "missingOutputs": list(result.missing_outputs),
                   "savedAs": result.saved_as.name if result.saved_as else None})
        return 0
    if result.saved_as:
        print(f"Saved the workspace first as experiment '{result.saved_as.name}' "
              f"(bring it back with `xp exp apply {result.saved_as.name}`).")
    shown = args.name if "@" in args.name else result.experiment.name  # A checkpoint keeps its NAME@STEP.
    print(f"Applied experiment '{shown}': {len(result.written)} file(s) written, "
          f"{len(result.deleted)} deleted, {len(result.outputs)} output(s) checked out from the cache.")
    for path in result.missing_outputs:
        print(f"warning: output '{printable(path)}' is no longer in the cache; `xp repro` rebuilds it", file=sys.stderr)
    return 0


def branch(args: argparse.Namespace) -> int:
    """`xp exp branch NAME BRANCH`."""
    from pyhelper.core.experiments.branch import branch as make_branch

    exp = make_branch(_project(), args.name, args.branch)
    shown = args.name if "@" in args.name else exp.name  # A checkpoint keeps its NAME@STEP.
    print(f"Created branch '{args.branch}' at experiment '{shown}' ({exp.rev[:7]}); "
          f"switch to it with `git checkout {args.branch}`.")
    return 0


def rename(args: argparse.Namespace) -> int:
    """`xp exp rename OLD NEW`."""
    from pyhelper.core.experiments.rename import rename as rename_experiment

    exp = rename_experiment(_project(), args.old, args.new, force=args.force)
    print(f"Renamed '{args.old}' to '{exp.name}'.")
    return 0


def remove(args: argparse.Namespace) -> int:
    """`xp exp remove`."""
    from pyhelper.core.experiments.remove import remove as remove_experiments

    if args.queue:  # DVC's `exp remove --queue`: the queued entries, as `xp queue remove --queued`.
        from pyhelper.cli.queue import remove as remove_entries

        return remove_entries(argparse.Namespace(names=[], all=False, queued=True, success=False, failed=False,
                                                 cancelled=False, json=args.json))
    removed = remove_experiments(_project(), args.names, rev=args.rev, all_experiments=args.all_experiments,
                                 num=args.num, keep=args.keep, force=args.force)
    if args.json:
        emit_json([{"name": e.name, "rev": e.rev, "baseline": e.ref.baseline} for e in removed])
        return 0
    shown = ", ".join(printable(e.name) for e in removed[:20])  # 2,000 names on one line help nobody.
    more = f" and {len(removed) - 20} more (--json lists them all)" if len(removed) > 20 else ""
    print(f"Removed {len(removed)} experiment(s)" + (f": {shown}{more}" if removed else "."))
    return 0


def list_experiments(args: argparse.Namespace) -> int:
    """`xp exp list`: experiments of HEAD (or of --rev, -n commits, --all-commits), as DVC lists them."""
    from pyhelper.core.experiments.show import _baselines
    from pyhelper.core.git.gitrepo import exp_refs, open_repo

    project = _project()
    repo = open_repo(project)
    refs = exp_refs(repo)
    if not args.all_commits and args.rev is None and args.num == 1 and args.json:
        wanted = None  # The JSON has always listed every experiment; scripts filter by baseline.
    else:
        wanted = {str(c.id): label for label, c in _baselines(
            repo, project, all_branches=False, all_commits=args.all_commits, num=args.num,
            revs=[args.rev] if args.rev else [])}
    if args.json:
        emit_json([{"name": ref.name, "rev": rev, "baseline": ref.baseline} for ref, rev in refs
                   if wanted is None or ref.baseline in wanted])
        return 0
    # Baselines are named as DVC names them: by a branch pointing at them (HEAD's first), else their id.
    from pyhelper.core.git.gitcore import native

    branches: dict[str, str] = {}
    for branch in repo.branches.local:
        branches.setdefault(str(repo.branches.local[branch].peel(native().Commit).id), branch)
    if not repo.head_is_detached:
        branches[str(repo.head.target)] = repo.head.shorthand
    assert wanted is not None  # None only for the JSON, printed above.
    wanted = {baseline: branches.get(baseline, baseline[:7]) for baseline in wanted}
    by_baseline: dict[str, list] = {}
    for ref, rev in refs:
        if ref.baseline in wanted:
            by_baseline.setdefault(ref.baseline, []).append((ref.name, rev))
    for baseline, label in wanted.items():
        found = sorted(by_baseline.get(baseline, []))
        if args.name_only or args.sha_only:
            for name, rev in found:
                print(rev if args.sha_only else name)
            continue
        if found:
            print(f"{label}:")
            for name, rev in found:
                print(f"\t{rev[:7]} [{name}]")
    return 0


def tag(args: argparse.Namespace) -> int:
    """`xp exp tag NAME TAG…`."""
    from pyhelper.core.experiments.annotate import tag as tag_experiment

    result = tag_experiment(_project(), args.name, args.tags, remove=args.remove)
    print(f"Tags of '{args.name}': {', '.join(result.tags) or '(none)'}")
    return 0


def star(args: argparse.Namespace) -> int:
    """`xp exp star NAME [--remove]`."""
    from pyhelper.core.experiments.annotate import star as star_experiment

    result = star_experiment(_project(), args.name, starred=not args.remove)
    print(f"'{args.name}' is {'starred' if result.starred else 'not starred'}.")
    return 0


def note(args: argparse.Namespace) -> int:
    """`xp exp note NAME TEXT`."""
    from pyhelper.core.experiments.annotate import set_note

    result = set_note(_project(), args.name, args.text)
    print(f"Note of '{args.name}': {result.note or '(none)'}")
    return 0


def _git_progress():
    """On a terminal, git's progress lines redrawn on one line of stderr; elsewhere none (quiet logs)."""
    if not sys.stderr.isatty():
        return None
    from pyhelper.core.experiments.sync import Follow

    return Follow(lambda line: print(f"\r{line[:100]:<100}", end="\n" if line.endswith("done.") else "",
                                     file=sys.stderr, flush=True))


def push(args: argparse.Namespace) -> int:
    """`xp exp push REMOTE [NAME…]`: the experiments' commits to the git remote, their outputs to the DVC remote."""
    from pyhelper.core.credentials import redact
    from pyhelper.core.experiments.sync import push as push_experiments

    project = _project()
    pushed = push_experiments(project, args.remote, args.names, follow=_git_progress(),
                              baselines=_chosen_baselines(project, args))
    print(f"Pushed {len(pushed)} experiment(s) to '{redact(args.remote)}' (with their tags and notes).")
    if not args.no_cache and pushed:
        _carry(project, [e.rev for e in pushed], args, pushing=True)
    if not args.no_cache and args.run_cache:
        _carry_runs(project, args, pushing=True)
    return 0


def _chosen_baselines(project, args: argparse.Namespace) -> set[str] | None:
    """`--rev REV` and `-n N` (as DVC): the experiments of REV (default HEAD) and its N-1 first parents; None: all."""
    if args.all_commits or (args.rev is None and args.num is None):
        return None
    from pyhelper.core.git.gitcore import native
    from pyhelper.core.git.gitrepo import open_repo
    from pyhelper.errors import BadInput

    git = native()
    repo = open_repo(project)
    if args.num is not None and args.num < 1:
        raise BadInput("-n must be at least 1", hint="pass -n N with N ≥ 1")
    try:
        commit = repo.revparse_single(args.rev or "HEAD").peel(git.Commit)
    except (KeyError, ValueError, git.GitError):
        raise BadInput(f"unknown revision '{args.rev}'",
                       hint="use a commit id, a branch or tag name, or HEAD~N") from None
    chosen = {str(commit.id)}
    for _ in range((args.num or 1) - 1):
        if not commit.parents:
            break
        commit = commit.parents[0]
        chosen.add(str(commit.id))
    return chosen


def pull(args: argparse.Namespace) -> int:
    """`xp exp pull REMOTE [NAME…]`: the experiments' commits, then their outputs from the DVC remote."""
    from pyhelper.core.credentials import redact
    from pyhelper.core.experiments.sync import pull as pull_experiments

    project = _project()
    pulled = pull_experiments(project, args.remote, args.names, follow=_git_progress(),
                              baselines=_chosen_baselines(project, args))
    print(f"Pulled {len(pulled)} experiment(s) from '{redact(args.remote)}' (with their tags and notes).")
    from pyhelper.core.experiments.sync import outputs_note, outputs_of_pulled

    if note := outputs_note(outputs_of_pulled(project, pulled)):  # Remote runs' outputs, from the shared cache dir.
        print(note)
    if not args.no_cache and pulled:
        from pyhelper.core.git.gitrepo import open_repo

        repo = open_repo(project)
        _carry(project, [str(repo.references[str(ref)].target) for ref in pulled], args, pushing=False)
    if not args.no_cache and args.run_cache:
        _carry_runs(project, args, pushing=False)
    return 0


def _carry(project, revs: list[str], args: argparse.Namespace, *, pushing: bool) -> None:
    """The outputs of `exp push`/`exp pull` (the default DVC remote, or -r), said in one line."""
    from pyhelper.cli.remote import progress_line
    from pyhelper.core.remotes.transfer import NO_REMOTE_NOTE, carry
    from pyhelper.errors import XpError

    sys.stdout.flush()
    try:
        carried = carry(project, revs, pushing=pushing, remote=args.dvc_remote, jobs=args.jobs,
                        progress=progress_line("Pushing outputs" if pushing else "Fetching outputs"))
    except XpError as exc:
        exc.message = f"the experiments were {'pushed' if pushing else 'pulled'}, their outputs not: {exc.message}"
        exc.hint = exc.hint + (f"; then `xp exp {'push' if pushing else 'pull'}` again" if exc.hint else "")
        raise
    if carried is None:
        if pushing:
            print(NO_REMOTE_NOTE)
        return
    print(carried.note(pushing=pushing))


def _carry_runs(project, args: argparse.Namespace, *, pushing: bool) -> None:
    """`exp push/pull --run-cache`: the recorded runs through the default DVC remote (or -r), said in one line."""
    from pyhelper.cli.remote import progress_line
    from pyhelper.core.remotes.run_cache_transfer import carry_runs

    sys.stdout.flush()
    carried = carry_runs(project, pushing=pushing, remote=args.dvc_remote, jobs=args.jobs,
                         progress=progress_line("Pushing runs" if pushing else "Fetching runs"))
    if carried is None:
        if pushing:
            print("The run-cache stayed here: no remote is configured (add one with `xp remote add -d NAME PATH`, "
                  "then `xp exp push --run-cache` again).")
        return
    runs, label = carried
    print(runs.note(pushing=pushing, label=f"remote {label}"))


def clean(args: argparse.Namespace) -> int:
    """`xp exp clean`."""
    from pyhelper.core.experiments.clean import clean as clean_up

    result = clean_up(_project(), dry=args.dry)
    verb = "Would remove" if args.dry else "Removed"
    if args.json:
        emit_json({"workTrees": list(result.work_trees), "objects": result.objects, "bytes": result.bytes,
                   "tempFiles": result.temp_files, "tempBytes": result.temp_bytes,
                   "cacheSkipped": result.cache_skipped, "dry": args.dry})
        return 0
    print(f"{verb} {len(result.work_trees)} private work tree(s), {result.objects} cache object(s) "
          f"({result.bytes / 1e6:.1f} MB) and {result.temp_files} unfinished temporary file(s) "
          f"({result.temp_bytes / 1e6:.1f} MB).")
    if result.cache_skipped:
        print(f"Cache objects left alone: {result.cache_skipped}.")
    return 0


def _digits(text: str) -> int:
    """`--precision N`: a whole number from 0 up."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of digits (0 or more)")
    return value


def add_arguments(exp: argparse.ArgumentParser) -> None:
    """Adds the sub-commands of `xp exp` to its parser."""
    cmds = exp.add_subparsers(dest="exp_command", metavar="COMMAND", required=True)

    from pyhelper.cli import add_repro_selection

    p = cmds.add_parser("run", help="set params, reproduce, record the result as an experiment")
    p.add_argument("targets", nargs="*", metavar="STAGE")
    p.add_argument("-S", "--set-param", dest="set_params", action="append", default=[], metavar="[FILE:]KEY=VALUE",
                   help="set a param first (YAML typed); repeatable")
    p.add_argument("-n", "--name", help="experiment name (default: generated, e.g. brave-otter)")
    p.add_argument("-m", "--message", help="commit message of the experiment")
    p.add_argument("-f", "--force", action="store_true", help="run every stage, and replace an experiment of that name")
    p.add_argument("--temp", action="store_true",
                   help="run in a private copy under .xp/tmp/ (untracked files included); the workspace is untouched")
    p.add_argument("--queue", action="store_true",
                   help="queue it instead (sweeps: -S 'k=1,2,3', -S 'k=range(1,10,2)'; several -S: the grid)")
    p.add_argument("--run-all", action="store_true", help="run everything queued now, with -j workers")
    p.add_argument("-j", "--jobs", type=int, default=1, metavar="N", help="workers for --run-all (default 1)")
    p.add_argument("--sample", type=int, metavar="N", help="queue N random points of the grid (random search)")
    p.add_argument("--seed", type=int, help="seed for --sample")
    p.add_argument("--retries", type=int, default=0, metavar="N", help="re-run a queued entry whose worker was lost")
    p.add_argument("--yes", action="store_true", help="queue sweeps of more than 1,000 runs")
    p.add_argument("--no-run-cache", dest="run_cache", action="store_false", help="never restore from the run-cache")
    p.add_argument("--resume", metavar="NAME[@STEP]",
                   help="restore a checkpoint (default: the experiment's newest) and continue its chain")
    p.add_argument("--reset", action="store_true",
                   help="start over: remove persisted outputs first, so training restarts at step 0")
    p.add_argument("-q", "--quiet", action="store_true", help="do not print the stages' output")
    p.add_argument("--json", action="store_true", help="print the result as JSON (progress on stderr)")
    p.add_argument("--dry", action="store_true",
                   help="say what would run with these params; run, record and change nothing")
    p.add_argument("-C", "--copy-paths", action="append", default=[], metavar="PATH",
                   help="with --temp: copy these untracked or ignored files into the private copy (repeatable)")
    add_repro_selection(p)
    p.set_defaults(handler="exp:run")

    p = cmds.add_parser("save", help="record the workspace as an experiment, without running")
    p.add_argument("-n", "--name")
    p.add_argument("-m", "--message")
    p.add_argument("-f", "--force", action="store_true", help="replace an experiment of that name")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler="exp:save")

    p = cmds.add_parser("show", help="experiments with their params and metrics, grouped by baseline")
    p.add_argument("-a", "--all-branches", action="store_true", help="baselines: every branch head too")
    p.add_argument("-A", "--all-commits", action="store_true", help="baselines: every commit of HEAD's history")
    p.add_argument("-T", "--all-tags", action="store_true", help="baselines: every tagged commit too")
    p.add_argument("-n", "--num", type=int, default=1, metavar="N", help="baselines: N commits back from HEAD")
    p.add_argument("--rev", action="append", default=[], help="baselines: this revision (repeatable)")
    p.add_argument("--deps", action="store_true", help="add a column per dependency (its md5)")
    p.add_argument("--sort-by", metavar="COL", help="sort experiments by a params or metrics column")
    p.add_argument("--sort-order", choices=("asc", "desc"), default="asc")
    p.add_argument("--only-changed", action="store_true", help="hide columns whose value is the same everywhere")
    p.add_argument("--drop", metavar="REGEX", help="hide columns matching REGEX")
    p.add_argument("--keep", metavar="REGEX", help="always show columns matching REGEX")
    p.add_argument("--filter", metavar="EXPR",
                   help="only experiments matching e.g. 'acc>0.9 and tag=best' (= != < <= > >= ~, and, or)")
    p.add_argument("--precision", type=_digits, default=5, metavar="N", help="digits after the point (default: 5)")
    p.add_argument("--starred", action="store_true", help="only starred experiments (xp exp star)")
    p.add_argument("--no-checkpoints", dest="checkpoints", action="store_false",
                   help="hide the checkpoints listed under their experiments")
    p.add_argument("--hide-queued", action="store_true", help="hide queued experiments")
    p.add_argument("--hide-failed", action="store_true", help="hide failed experiments")
    p.add_argument("--hide-workspace", action="store_true", help="hide the workspace row")
    p.add_argument("--sha", action="store_true", help="name baselines by their commit id, not their branch or tag")
    p.add_argument("--param-deps", action="store_true",
                   help="only params the stages depend on (default: every key of params.yaml too, as DVC)")
    p.add_argument("--no-pager", action="store_true", help="print straight to the terminal (xp does not page)")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print DVC's JSON (`dvc exp show --json`'s records)")
    fmt.add_argument("--xp-json", action="store_true",
                     help="print xp's rows as JSON: one per line of the table, with queue entries, checkpoints, tags")
    fmt.add_argument("--csv", action="store_true")
    fmt.add_argument("--md", action="store_true")
    p.set_defaults(handler="exp:show")

    p = cmds.add_parser("diff", help="params and metrics of two experiments side by side")
    p.add_argument("a", nargs="?", default="HEAD", help="experiment or revision (default: HEAD)")
    p.add_argument("b", nargs="?", default="workspace", help="experiment or revision (default: workspace)")
    p.add_argument("--all", action="store_true", help="show unchanged values too")
    p.add_argument("--param-deps", action="store_true",
                   help="only params the stages depend on (default: every key of params.yaml too, as DVC)")
    p.add_argument("--no-path", action="store_true", help="leave the file column out of the table")
    p.add_argument("--precision", type=_digits, default=5, metavar="N", help="digits after the point (default: 5)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--md", action="store_true")
    p.set_defaults(handler="exp:diff")

    p = cmds.add_parser("apply", help="bring an experiment's files and outputs into the workspace")
    p.add_argument("name", help="an experiment, its commit id, or a checkpoint NAME@STEP")
    force = p.add_mutually_exclusive_group()
    force.add_argument("--force", action="store_true",
                       help="when uncommitted changes would be overwritten, save them as an experiment first")
    force.add_argument("--no-force", action="store_false", dest="force",
                       help="refuse when uncommitted changes would be overwritten (the default)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler="exp:apply")

    p = cmds.add_parser("branch", help="make an experiment a git branch")
    p.add_argument("name", help="an experiment, its commit id, or a checkpoint NAME@STEP")
    p.add_argument("branch")
    p.set_defaults(handler="exp:branch")

    p = cmds.add_parser("rename", help="rename an experiment")
    p.add_argument("old")
    p.add_argument("new")
    p.add_argument("-f", "--force", action="store_true", help="replace an experiment of the new name")
    p.set_defaults(handler="exp:rename")

    p = cmds.add_parser("remove", aliases=["rm"], help="remove experiments")
    p.add_argument("names", nargs="*", metavar="NAME")
    p.add_argument("--rev", help="every experiment of this baseline")
    p.add_argument("-A", "--all", "--all-commits", dest="all_experiments", action="store_true",
                   help="every experiment (of every commit)")
    p.add_argument("-n", "--num", type=int, default=1, metavar="N",
                   help="with --rev: the experiments of N commits back from it")
    p.add_argument("--keep", action="store_true", help="keep the named experiments and remove every other one")
    p.add_argument("--queue", action="store_true",
                   help="remove every queued experiment (as `xp queue remove --queued`)")
    p.add_argument("-f", "--force", action="store_true", help="remove experiments whose run is still going too")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler="exp:remove")

    p = cmds.add_parser("list", aliases=["ls"], help="experiments of HEAD (or of other baselines), by baseline")
    p.add_argument("--name-only", "--names-only", action="store_true", help="names only")
    p.add_argument("--sha-only", action="store_true", help="commit ids only")
    p.add_argument("-A", "--all-commits", action="store_true", help="experiments of every commit of HEAD's history")
    p.add_argument("--rev", metavar="REV", help="experiments of this baseline")
    p.add_argument("-n", "--num", type=int, default=1, metavar="N", help="of N commits back from HEAD (or --rev)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler="exp:list_experiments")

    p = cmds.add_parser("tag", help="add tags to an experiment (stored in git notes)")
    p.add_argument("name")
    p.add_argument("tags", nargs="+", metavar="TAG")
    p.add_argument("--remove", action="store_true", help="remove these tags instead")
    p.set_defaults(handler="exp:tag")

    p = cmds.add_parser("note", help="set an experiment's note (stored in git notes)")
    p.add_argument("name")
    p.add_argument("text")
    p.set_defaults(handler="exp:note")

    p = cmds.add_parser("star", help="star an experiment, or unstar it with --remove (stored in git notes)")
    p.add_argument("name")
    p.add_argument("--remove", action="store_true", help="unstar it")
    p.set_defaults(handler="exp:star")

    p = cmds.add_parser("clean", help="remove leftover private work trees, unreferenced cache objects and killed "
                                  "copies' temporary files")
    p.add_argument("--dry", action="store_true", help="only say what would be removed")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler="exp:clean")

    for verb, helptext in (("push", "push experiments (and their notes) to a git remote"),
                           ("pull", "fetch experiments (and their notes) from a git remote")):
        p = cmds.add_parser(verb, help=helptext)
        p.add_argument("remote", help="a remote name or URL (a bare repository path works)")
        p.add_argument("names", nargs="*", metavar="NAME", help="only these experiments (default: all)")
        p.add_argument("-r", "--remote", dest="dvc_remote", metavar="NAME",
                       help="the remote storage for their outputs (default: the default remote, see `xp remote`)")
        p.add_argument("--no-cache", action="store_true", help="only the git commits, not the outputs")
        p.add_argument("--run-cache", action=argparse.BooleanOptionalAction, default=False,
                       help=f"also {verb} the recorded stage runs (DVC's run-cache entries) with their outputs, "
                            "through the same remote storage (not with --no-cache, as DVC)")
        p.add_argument("-j", "--jobs", type=int, metavar="N", help="output transfers at once (default: 4 per CPU)")
        p.add_argument("-A", "--all-commits", action="store_true",
                       help="the experiments of every commit (the default without NAMEs, --rev or -n)")
        p.add_argument("--rev", metavar="COMMIT", help="the experiments of this commit (as DVC; it must be here)")
        p.add_argument("-n", "--num", type=int, metavar="N",
                       help="with --rev (default HEAD): also its N-1 first parents' experiments")
        p.set_defaults(handler=f"exp:{verb}")
