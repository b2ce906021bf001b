"""Times DVC 3.67.1 and xp side by side on the demo project (`python bench/pipeline.py --help`).

Each tool gets its own copy of the project built by `pyhelper.demo.create`; every figure is the
median wall time of whole processes, with the tools' runs interleaved so that a slow moment of
the machine hits both. A command that fails stops its figure: its output is shown and the script
exits non-zero, because a time for a failed command would mean nothing. The figures themselves
are in figures.py, the running and timing in harness.py.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from figures import FIGURES
from harness import (
    DVC_VERSION,
    REPO,
    CommandFailed,
    Figure,
    Setup,
    Tool,
    child_env,
    find_dvc,
    git,
    init_dvc,
    progress,
    require_clean,
    xp_env,
)


def main(argv: list[str] | None = None) -> int:
    """Build both projects, measure the chosen figures, print them; 1 when any command failed."""
    args = _parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="xp-bench-"))
    failed = False
    figures: list[Figure] = []
    try:
        env = child_env(work)
        # Without an installed xp named by --xp, the checkout this script lives in is measured.
        setup = Setup(work, args.runs, env, xp_env(env), args.xp_python, tuple(args.tool), args.hash_mib)
        tools = _build_tools(args, setup) if set(args.figure) - {"md5"} else []
        for name in args.figure:
            label, measure = FIGURES[name]
            progress(f"figure '{name}', timed runs per contender: {args.runs}")
            try:
                figure = measure(Figure(name, label), tools, setup)
            except CommandFailed as e:
                print(f"{label}: failed\n{e}", file=sys.stderr)
                failed = True
                continue
            figures.append(figure)
            if not args.json:
                print(_render(figure), flush=True)
    except CommandFailed as e:
        print(f"setting up failed\n{e}", file=sys.stderr)
        failed = True
    finally:
        if args.keep:
            progress(f"kept the projects and files in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(_as_json(figures, args), indent=2))
    return 1 if failed else 0


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line, with defaults filled in."""
    parser = argparse.ArgumentParser(
        prog="bench/pipeline.py",
        description=f"Time DVC {DVC_VERSION} and xp on the same demo project, side by side.",
        epilog="figures: " + ", ".join(f"{n} ({label})" for n, (label, _) in FIGURES.items()),
    )
    add = parser.add_argument
    add("--runs", type=int, default=7, metavar="N",
        help="timed runs per figure and tool; the median is reported (default 7)")
    add("--figure", action="append", choices=list(FIGURES), help="measure only this figure (repeatable; default all)")
    add("--tool", action="append", choices=["dvc", "xp"], help="measure only this tool (repeatable; default both)")
    add("--json", action="store_true", help="print the figures as JSON instead of a table")
    add("--dvc", metavar="PATH", help=f"the dvc executable (default: DVC {DVC_VERSION} from scripts/dvc-venv.sh)")
    add("--xp", metavar="PATH",
        help="the xp executable (default: `python -m pyhelper` with this interpreter and this checkout)")
    add("--xp-python", metavar="PATH", default=sys.executable,
        help="the python that imports pyhelper for the md5 figure (default: this one)")
    add("--hash-mib", type=int, default=512, metavar="MIB",
        help="size of the file hashed by the md5 figure (default 512)")
    add("--keep", action="store_true", help="keep the temporary projects and print where they are")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    args.figure = args.figure or list(FIGURES)
    args.tool = args.tool or ["dvc", "xp"]
    return args


def _build_tools(args: argparse.Namespace, setup: Setup) -> list[Tool]:
    """Create, run and commit one demo project per tool under test."""
    sys.path.insert(0, str(REPO))
    from pyhelper.demo import create

    tools = []
    for name in args.tool:
        project = create(setup.work / f"{name}-project")
        if name == "dvc":
            tool = Tool("dvc", (args.dvc or find_dvc(),), setup.env, project)
            progress(f"dvc: {tool.run('--version').strip()} in {project}")
            init_dvc(tool)
        else:
            if args.xp:
                tool = Tool("xp", (args.xp,), setup.env, project)
            else:
                tool = Tool("xp", (sys.executable, "-m", "pyhelper"), setup.xp_env, project)
            progress(f"xp: {' '.join(tool.argv)} in {project}")
        progress(f"{name}: first repro")
        tool.run("repro")
        git(project, "add", "-A")
        git(project, "commit", "-q", "--allow-empty", "-m", "First run")
        require_clean(tool)
        tools.append(tool)
    return tools


def _render(figure: Figure) -> str:
    """One aligned line: each contender's median (and MB/s for hashing) and how xp compares."""
    medians = {name: statistics.median(times) for name, times in figure.seconds.items()}
    label = f"{figure.label} {figure.bytes_hashed >> 20} MiB" if figure.bytes_hashed else figure.label
    parts = [f"{label:<16}"]
    for name, seconds in medians.items():
        text = f"{name} {seconds:.3f} s"
        if figure.bytes_hashed:
            text += f" ({figure.bytes_hashed / seconds / 1e6:.0f} MB/s)"
        parts.append(f"{text:<{26 if figure.bytes_hashed else 13}}")
    ratio = _ratio(medians)
    if ratio is not None:
        parts.append(f"{ratio:.2f}x faster" if ratio >= 1 else f"{1 / ratio:.2f}x slower")
    return "   ".join(parts).rstrip()


def _ratio(medians: dict[str, float]) -> float | None:
    """How many times faster xp is than the other contender (below 1 means slower), if both ran."""
    if "xp" not in medians or len(medians) != 2:
        return None
    other = next(v for k, v in medians.items() if k != "xp")
    return other / medians["xp"]


def _as_json(figures: list[Figure], args: argparse.Namespace) -> dict[str, object]:
    """The figures, their raw times and the setup, as a JSON-ready dict."""
    out = []
    for figure in figures:
        entry: dict[str, object] = {"name": figure.name, "label": figure.label, "unit": "s"}
        medians = {name: statistics.median(times) for name, times in figure.seconds.items()}
        for name, times in figure.seconds.items():
            contender: dict[str, object] = {"median": round(medians[name], 4), "runs": [round(t, 4) for t in times]}
            if figure.bytes_hashed:
                contender["mb_per_s"] = round(figure.bytes_hashed / medians[name] / 1e6, 1)
            entry[name] = contender
        if figure.bytes_hashed:
            entry["bytes"] = figure.bytes_hashed
        ratio = _ratio(medians)
        entry["xp_speedup"] = None if ratio is None else round(ratio, 3)
        out.append(entry)
    return {
        "version": 1,
        "runs": args.runs,
        "dvc": DVC_VERSION,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "figures": out,
    }



if __name__ == "__main__":
    sys.exit(main())
