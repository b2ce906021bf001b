"""Times DVC 3.67.1 and xp side by side on the demo project (`python bench/pipeline.py --help`).

Each tool gets its own copy of the project built by `pyhelper.demo.create`; every figure is the
median wall time of whole processes, with the tools' runs interleaved so that a slow moment of
the machine hits both. A command that fails stops its figure: its output is shown and the script
exits non-zero, because a time for a failed command would mean nothing. The figures themselves
are in figures.py, the running and timing in harness.py.
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import sys

from figures import FIGURES
from harness import (
    DVC_VERSION,
    REPO,
    Figure,
    Setup,
    Tool,
    bench_parser,
    git,
    init_dvc,
    parse_bench_args,
    progress,
    require_clean,
    run_figures,
    run_info,
    tool_commands,
)


def main(argv: list[str] | None = None) -> int:
    """Build both projects, measure the chosen figures, print them; 1 when any command failed."""
    args = _parse_args(argv)
    # In the order asked for on the command line.
    figures = {name: functools.partial(_measure, name) for name in args.figure}
    lines, failed, _ = run_figures(args, "xp-bench-", figures, _bench, _render,
                                   xp_python=args.xp_python, hash_mib=args.hash_mib)
    if args.json:
        print(json.dumps(_as_json(lines, args), indent=2))
    return 1 if failed else 0


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line, with defaults filled in."""
    parser = bench_parser(
        "bench/pipeline.py",
        f"Time DVC {DVC_VERSION} and xp on the same demo project, side by side.",
        "figures: " + ", ".join(f"{n} ({label})" for n, (label, _) in FIGURES.items()),
        FIGURES, runs=7,
    )
    add = parser.add_argument
    add("--xp-python", metavar="PATH", default=sys.executable,
        help="the python that imports pyhelper for the md5 figure (default: this one)")
    add("--hash-mib", type=int, default=512, metavar="MIB",
        help="size of the file hashed by the md5 figure (default 512)")
    return parse_bench_args(parser, argv, FIGURES)


def _bench(args: argparse.Namespace, setup: Setup) -> tuple[list[Tool], Setup]:
    """The tools on their projects (none when only md5 is measured, which needs no project), and the setup."""
    return (_build_tools(args, setup) if set(args.figure) - {"md5"} else []), setup


def _measure(name: str, bench: tuple[list[Tool], Setup]) -> list[Figure]:
    """The figure `name` of figures.py, measured on the tools."""
    label, measure = FIGURES[name]
    tools, setup = bench
    return [measure(Figure(name, label), tools, setup)]


def _build_tools(args: argparse.Namespace, setup: Setup) -> list[Tool]:
    """Create, run and commit one demo project per tool under test."""
    sys.path.insert(0, str(REPO))
    from pyhelper.demo import create

    argv, envs = tool_commands(args, setup)
    tools = []
    for name in args.tool:
        tool = Tool(name, argv[name], envs[name], create(setup.work / f"{name}-project"))
        if name == "dvc":
            init_dvc(tool)
        progress(f"{name}: first repro in {tool.project}")
        tool.run("repro")
        git(tool.project, "add", "-A")
        git(tool.project, "commit", "-q", "--allow-empty", "-m", "First run")
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
    return {**run_info(args), "figures": out}


if __name__ == "__main__":
    sys.exit(main())
