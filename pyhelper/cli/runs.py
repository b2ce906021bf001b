"""`xp runs list|show|restore`: the run-cache, explorable."""

from __future__ import annotations

import argparse
import time

from pyhelper.cli.render import emit_json, number, table


def _when(created: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(created))


def _record_json(record) -> dict:
    from pyhelper.core.pipeline.run_cache import _to_json

    data = _to_json(record)
    data["createdIso"] = time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(record.created))
    return data


def _open():
    from pyhelper.core.pipeline.run_cache import RunCache
    from pyhelper.core.project import find_project

    project = find_project()
    return RunCache(project.ensure_xp_dir() / "runs.db")


def _short_params(params: dict) -> str:
    from pyhelper.core.values.params import flatten

    flat = {}
    for values in params.values():
        flat.update(flatten(values))
    return ", ".join(f"{k}={number(v, 4)}" for k, v in flat.items())


def list_runs(args: argparse.Namespace) -> int:
    """`xp runs list`."""
    runs = _open()
    try:
        records = runs.list(stage=args.stage, limit=args.limit)
    finally:
        runs.close()
    if args.json:
        emit_json([_record_json(r) for r in records])
        return 0
    if not records:
        print("No runs recorded yet: `xp repro` records every successful stage run.")
        return 0
    rows = []
    for r in records:
        metrics = ", ".join(f"{k.split(':', 1)[-1]}={number(v, args.precision)}" for k, v in r.metrics.items())
        rows.append([r.id, r.stage, _when(r.created), f"{r.duration:.2f}s", _short_params(r.params), metrics])
    print(table(["ID", "Stage", "Finished", "Took", "Params", "Metrics"], rows, markdown=args.md))
    return 0


def show_run(args: argparse.Namespace) -> int:
    """`xp runs show ID`."""
    runs = _open()
    try:
        record = runs.get(args.id)
    finally:
        runs.close()
    if args.json:
        emit_json(_record_json(record))
        return 0
    cmd = record.cmd if isinstance(record.cmd, str) else " && ".join(record.cmd)
    print(f"Run {record.id} of stage '{record.stage}'")
    print(f"  finished  {_when(record.created)} (took {record.duration:.2f}s)")
    print(f"  command   {cmd}" + (f"   (in {record.wdir})" if record.wdir != "." else ""))
    print("  deps")
    for path, md5 in record.deps.items():
        print(f"    {path}  {md5}")
    if record.params:
        print("  params")
        for file, values in record.params.items():
            for key, value in values.items():
                print(f"    {file}:{key} = {number(value, 10)}")
    print("  outs")
    for out in record.outs:
        extra = f", {out.hash.nfiles} files" if out.hash.nfiles is not None else ""
        where = ", cached" if out.cache else ", tracked by git"
        print(f"    {out.path}  {out.hash.md5}  ({out.hash.size} bytes{extra}{where})")
    if record.metrics:
        print("  metrics")
        for key, value in record.metrics.items():
            print(f"    {key} = {number(value, 6)}")
    print(f"Restore it with: xp runs restore {record.id}")
    return 0


def restore(args: argparse.Namespace) -> int:
    """`xp runs restore ID`."""
    from pyhelper.core.pipeline.restore_run import restore_run
    from pyhelper.core.project import find_project

    result = restore_run(find_project(), args.id, force=args.force)
    if args.json:
        emit_json({"id": result.run.id, "stage": result.run.stage, "outputs": list(result.outputs),
                   "params": list(result.params), "lockUpdated": result.lock_updated})
        return 0
    print(f"Restored run {result.run.id} of stage '{result.run.stage}':")
    for path in result.outputs:
        print(f"  output  {path}")
    for item in result.params:
        print(f"  param   {item}")
    if result.lock_updated:
        print("dvc.lock updated: the stage is up to date.")
    else:
        print("dvc.lock not updated: the stage's dependencies differ from the run's; `xp status` shows why.")
    return 0
