"""`xp demo`, `xp repro`, `xp status`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pyhelper.cli.render import emit_json

_EVENT_LINES = {
    "running": "Running stage '{stage}' ({text}):",
    "command": "> {text}",
    "output": "{text}",
    "skipped": "Stage '{stage}' didn't change, skipping",
    "frozen": "Stage '{stage}' is frozen, skipping",
    "restored": "Restored stage '{stage}' from run-cache (its command did not run)",
    "would_run": "Would run stage '{stage}' ({text})",
    "done": "Stage '{stage}' finished in {text}",
    "checkpoint": "Recorded checkpoint {text}",
    "blocked": "Stage '{stage}' cannot run: {text}",
    "checkout": "Checked out {text}",
    "failed": "Stage '{stage}' failed; going on with the stages that do not depend on it",
}


def _print_event(event, quiet: bool, stream=None) -> None:
    """One line per thing a person watching a repro wants to know."""
    if event.kind == "output" and quiet:
        return
    template = _EVENT_LINES.get(event.kind)
    if template:
        print(template.format(stage=event.stage, text=event.text), file=stream or sys.stdout, flush=True)


def repro_options(args: argparse.Namespace):
    """DVC's `repro` selection and error options from the command line (shared by `exp run`)."""
    from pyhelper.core.pipeline.graph import Selection
    from pyhelper.core.pipeline.repro import ReproOptions
    from pyhelper.errors import BadInput

    if getattr(args, "no_commit", False):
        raise BadInput("--no-commit is not supported yet: xp caches every output so the run-cache can restore it",
                       hint="run without --no-commit")
    selection = Selection(downstream=args.downstream, single_item=args.single_item, pipeline=args.pipeline,
                          all_pipelines=args.all_pipelines, glob=args.glob, recursive=args.recursive)
    return ReproOptions(selection=selection, keep_going=args.keep_going, ignore_errors=args.ignore_errors,
                        force_downstream=args.force_downstream, allow_missing=args.allow_missing)


def pull_first(project, args: argparse.Namespace, *, checkout_absent: bool = True) -> None:
    """`--pull`: what the run needs from the default remote first (DVC's `repro --pull`), said in a line or two
    (on stderr with --json, so stdout stays JSON)."""
    if not getattr(args, "pull", False) or getattr(args, "dry", False):
        return
    from pyhelper.cli.remote import progress_line
    from pyhelper.core.remotes.transfer import pull_first as pull

    stream = sys.stderr if getattr(args, "json", False) else sys.stdout
    pulled = pull(project, run_cache=getattr(args, "run_cache", True), checkout_absent=checkout_absent,
                  progress=progress_line("Pulling"))
    print(f"Pulled {pulled.objects.moved} object(s) ({pulled.objects.already} already here)"
          + (f"; {len(pulled.checked_out)} missing output(s) put in place" if pulled.checked_out else "")
          + (f"; {len(pulled.objects.missing)} not on the remote" if pulled.objects.missing else "") + ".",
          file=stream)
    if pulled.runs_note:
        print(pulled.runs_note, file=stream)


def _repro(project, targets, *, force=False, dry=False, use_run_cache=True, quiet=False, as_json=False,
           options=None):
    from pyhelper.core.pipeline.repro import repro as run

    # With --json, stdout holds only the JSON result; progress still shows, on stderr.
    stream = sys.stderr if as_json else sys.stdout
    result = run(project, targets, force=force, dry=dry, use_run_cache=use_run_cache,
                 on_event=lambda e: _print_event(e, quiet, stream), options=options)
    if as_json:
        emit_json({"ran": list(result.ran), "restored": list(result.restored),
                   "skipped": list(result.skipped), "wouldRun": list(result.would_run)})
    elif dry:
        print("Nothing would run." if not result.would_run else f"{len(result.would_run)} stage(s) would run.")
    elif result.ran or result.restored:
        print(f"Updated dvc.lock: {len(result.ran)} stage(s) ran, {len(result.restored)} restored from run-cache.")
    else:
        print("Data and pipelines are up to date.")
    return result


def repro(args: argparse.Namespace) -> int:
    """`xp repro`."""
    from pyhelper.core.project import find_project

    project = find_project()
    if args.set_params:
        from pyhelper.core.pipeline import graph
        from pyhelper.core.values.params_edit import set_params
        from pyhelper.errors import XpError

        edit = set_params(project.project_root, args.set_params)  # Checks every file before writing any.
        try:
            project.require_pipeline()
            graph.order(project.pipeline(), project.root, args.targets)  # With the new values.
        except XpError:
            edit.undo()
            raise
    options = repro_options(args)
    pull_first(project, args)
    _repro(project, args.targets, force=args.force, dry=args.dry, use_run_cache=args.run_cache, quiet=args.quiet,
           as_json=args.json, options=options)
    return 0


def _cloud_status(args: argparse.Namespace) -> int:
    """`xp status -c [-r NAME]`: the cache against the remote, as `dvc status -c` prints it."""
    from pyhelper.cli.remote import chosen_outputs
    from pyhelper.core.project import find_project
    from pyhelper.core.remotes.config import read_remotes
    from pyhelper.core.remotes.storage import open_storage
    from pyhelper.core.remotes.transfer import cloud_status

    project = find_project()
    remote = read_remotes(project).get(args.remote)
    storage = open_storage(remote, check=False)
    args.glob = False
    changed = cloud_status(project, storage, chosen_outputs(project, args))
    if args.json:
        emit_json(changed)
        return 0
    if not changed:
        print(f"Cache and remote '{remote.name}' are in sync.")
    for path, state in changed.items():
        print(f"\t{state + ':':<20}{path}")
    return 0


def status(args: argparse.Namespace) -> int:
    """`xp status`."""
    from pyhelper.core.pipeline.status import as_dvc_json
    from pyhelper.core.pipeline.status import status as compute
    from pyhelper.core.project import find_project

    if args.cloud or args.remote:
        return _cloud_status(args)
    given = [flag for flag in ("all_branches", "all_tags", "all_commits", "jobs") if getattr(args, flag)]
    if given:
        from pyhelper.errors import BadInput

        raise BadInput(f"--{given[0].replace('_', '-')} only means something with -c (the cache against a remote)",
                       hint="add -c, or drop it")
    result = compute(find_project(), args.targets, with_deps=args.with_deps, recursive=args.recursive)
    if args.json:
        emit_json(as_dvc_json(result))  # DVC's own shape (`dvc status --json`).
        return 0
    if getattr(args, "xp_json", False):
        emit_json({s.stage: {"changed": bool(s.reasons), "frozen": s.frozen, "reasons": list(s.reasons),
                             "kind": s.kind} for s in result})
        return 0
    if not result:
        print("There are no data or pipelines tracked in this project yet.")
        return 0
    changed = [s for s in result if s.reasons]
    for item in changed:
        print(f"{item.stage}:")
        for reason in item.reasons:
            print(f"    {reason}")
    if not changed:
        print("Data and pipelines are up to date.")
    return 0


def dag(args: argparse.Namespace) -> int:
    """`xp dag`."""
    from pyhelper.core.pipeline import dag as graph_dag
    from pyhelper.core.project import find_project

    project = find_project()
    project.require_pipeline()
    drawn = graph_dag.build(project.pipeline(), project.root, args.targets or None, full=args.full, outs=args.outs)
    if args.json:
        emit_json({"nodes": list(drawn.nodes), "edges": [list(e) for e in drawn.edges]})
    elif args.dot:
        sys.stdout.write(graph_dag.render_dot(drawn))
    elif args.mermaid or args.md:
        sys.stdout.write(graph_dag.render_mermaid(drawn, markdown=args.md))
    else:
        sys.stdout.write(graph_dag.render_text(drawn))
    return 0


_OUT_FLAGS = ("outs", "outs_no_cache", "outs_persist", "outs_persist_no_cache", "metrics", "metrics_no_cache",
              "plots", "plots_no_cache")


def stage_add(args: argparse.Namespace) -> int:
    """`xp stage add`."""
    from pyhelper.core.pipeline.stage_add import NewStage, add_stage, join_command
    from pyhelper.core.project import find_project

    outs: dict[str, tuple[str, dict]] = {}
    for flag in _OUT_FLAGS:
        kind, flags = getattr(args, f"_kind_{flag}")
        for path in getattr(args, flag):
            outs[path] = (kind, flags)
    command = list(args.command)
    if command[:1] == ["--"]:
        command = command[1:]
    stage = NewStage(name=args.name, cmd=join_command(command), deps=tuple(args.deps), params=tuple(args.params),
                     outs=outs, wdir=args.wdir, always_changed=args.always_changed, desc=args.desc)
    project = find_project()
    rel = add_stage(project, Path.cwd(), stage, force=args.force)
    print(f"Added stage '{args.name}' in '{rel}'")
    if args.run:
        address = project.pipeline().address(rel, args.name)
        _repro(project, [address])
    return 0


def stage_list(args: argparse.Namespace) -> int:
    """`xp stage list`."""
    from pyhelper.core.pipeline.stage_add import list_stages
    from pyhelper.core.project import find_project

    found = list_stages(find_project(), args.targets or None, all_files=args.all, cwd=Path.cwd())
    if args.json:
        emit_json({item.address: item.description for item in found})
        return 0
    width = max((len(item.address) for item in found), default=0)
    for item in found:
        print(item.address if args.name_only else f"{item.address:<{width}}  {item.description}".rstrip())
    return 0


def add(args: argparse.Namespace) -> int:
    """`xp add`."""
    from pyhelper.core.pipeline.add import add as track
    from pyhelper.core.project import find_project

    done = track(find_project(), args.targets)
    if args.json:
        emit_json([{"path": a.path, "dvcFile": a.dvc_file, "md5": a.hash.md5, "size": a.hash.size,
                    "nfiles": a.hash.nfiles, "changed": a.changed} for a in done])
        return 0
    for item in done:
        files = "files" if item.hash.nfiles is not None else ""
        what = f"{item.hash.nfiles} {files}, " if files else ""
        print(f"{'Tracked' if item.changed else 'Already tracked'} {item.path} ({what}{item.hash.size} bytes) "
              f"in {item.dvc_file}")
    if any(item.changed for item in done):
        names = " ".join(dict.fromkeys([x for a in done for x in (a.dvc_file, a.gitignore)]))
        print(f"\nTo track the changes with git, run:\n\n\tgit add {names}")
    return 0


def demo(args: argparse.Namespace) -> int:
    """`xp demo`: create the demo project, reproduce it, show its metrics."""
    import time

    from pyhelper import demo as demo_project
    from pyhelper.core.project import Project
    from pyhelper.core.values.metrics import show_metrics

    started = time.monotonic()
    dest = demo_project.create(Path(args.dir))
    print(f"Created the demo project in {dest} (git initialised, first commit made).")
    print(f"Tracked its data dictionary outside git: {demo_project.DATASET}.dvc (what `xp add` / `dvc add` write).")
    project = Project(dest)
    _repro(project, None, quiet=True)
    demo_project.commit_results(dest)
    demo_project.push_main(dest)
    print("Committed the results (dvc.lock, metrics.json, train_log.tsv) and pushed them to 'origin' "
          f"({demo_project.ORIGIN}, a bare repository standing in for your team's git server).")
    from pyhelper.core.remotes.config import read_remotes
    from pyhelper.core.remotes.storage import open_storage
    from pyhelper.core.remotes.transfer import push as push_objects
    from pyhelper.core.remotes.transfer import workspace_outputs

    storage = open_storage(read_remotes(project).get(None), create=True)
    pushed = push_objects(project, storage, [o.info for o in workspace_outputs(project)])
    print(f"Pushed the outputs ({pushed.moved} object(s)) to the remote storage 'storage' (a folder standing in "
          "for a bucket; `xp remote list`), so a teammate's `xp pull` gets the model instead of rebuilding it.")
    print()
    print("Metrics (metrics.json):")
    for file in show_metrics(project):
        for key, value in file.values.items():
            print(f"  {key:<12} {value}")
    print()
    from pyhelper.core.experiments.run import run as run_experiment

    for name, assignments in demo_project.EXPERIMENTS:
        result = run_experiment(project, set_values=list(assignments), name=name, temp=True)
        print(f"Ran experiment '{name}' ({' '.join(assignments)}): "
              f"{', '.join(result.repro.ran) or 'nothing'} ran, in a private copy (the workspace is untouched).")
    from pyhelper.cli.queue import run_all
    from pyhelper.core.queue.enqueue import enqueue

    entries = enqueue(project, set_values=list(demo_project.SWEEP), name="sweep")
    print(f"Queued a {len(entries)}-point sweep ({' × '.join(demo_project.SWEEP)}); running it with 2 workers:")
    sys.stdout.flush()
    run_all(project, 2, as_json=False)
    left = enqueue(project, set_values=list(demo_project.LEFT_QUEUED), name="next")
    print(f"Queued {len(left)} more ({' '.join(demo_project.LEFT_QUEUED)}) and left them for you: "
          "`xp queue start -j 2` runs them.")
    print()
    print("Experiments of this commit (xp exp show --only-changed --no-checkpoints):")
    sys.stdout.flush()
    from pyhelper.cli import main as cli_main

    cli_main(["-C", str(dest), "exp", "show", "--only-changed", "--no-checkpoints", "--precision", "4"])
    print()
    print(f"Done in {time.monotonic() - started:.1f}s. Next, try:")
    print(f"  cd {dest}")
    print("  xp exp show --sort-by accuracy --sort-order desc   # the best first")
    print("  xp exp diff higher-lr wider                        # two experiments side by side")
    print("  xp plots diff -A --open                            # every experiment's curves in one HTML file")
    print("  xp exp show --keep train.loss                      # with a checkpoint per epoch under each")
    print("  xp exp apply longer@15                             # the files as they were at epoch 15")
    print("  xp exp run -S train.lr=0.1 -n my-try               # your own experiment, in the workspace")
    print("  xp exp run --queue -S 'train.epochs=range(5,30,5)' && xp queue start -j 2 && xp queue status")
    print("  xp exp apply higher-lr && xp exp branch higher-lr best   # keep the best")
    print("  xp exp push origin higher-lr                       # share it, outputs and all (to 'storage')")
    print("  git clone origin.git b && cd b && xp exp pull origin && xp exp apply higher-lr  # a teammate: the model")
    print("  xp repro -S train.epochs=25 && xp metrics diff     # plain pipeline runs work too")
    print("  xp runs list                                       # every stage run the run-cache remembers")
    print("  rm data/raw/features.csv && xp status --json       # tracked data missing: DVC's answer, same JSON")
    print("  xp repro                                           # puts it back from the cache, runs nothing else")
    print("  xp queue worker --help                             # many machines, safely: password, TLS (SECURITY.md)")
    print("In VS Code (code-server or desktop) with the xp extension, open this folder, then from the palette:")
    print("  XP: Show Plots (pick the sweep-* runs)             # charts overlaid; those on screen drawn first")
    print("  XP: Compare Experiments · XP: Show Experiments Table  # side by side / every run, sortable")
    sys.stdout.flush()
    return 0
