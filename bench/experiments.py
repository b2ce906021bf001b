"""Times DVC 3.67.1 and xp side by side on experiments (`python bench/experiments.py --help`).

Both tools work on the same projects: experiments are git refs in DVC's layout, so each tool
lists what the other recorded. The figures (exp run overhead over a trivial stage; exp show
--json with 100, 300 and 1,000 experiments, cold and warm, with peak RSS; exp diff, exp branch,
exp apply) are in exp_figures.py; running, timing and checking commands is in harness.py. Each
line is the median of whole processes (the largest value, for peak RSS), the tools' runs
interleaved; a command that fails is never timed: its output is shown and the script exits 1.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys

from exp_figures import FIGURES, Bench, Line
from harness import DVC_VERSION, Setup, Tool, find_dvc, progress, run_figures

LABEL_WIDTH = 40


def main(argv: list[str] | None = None) -> int:
    """Build the projects, measure the chosen figures, print them; 1 when any command failed."""
    args = _parse_args(argv)
    lines, failed, total = run_figures(args, "xp-bench-exp-", FIGURES, _bench, _render)
    if args.json:
        print(json.dumps(_as_json(lines, args, total), indent=2))
    return 1 if failed else 0


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line, with defaults filled in."""
    parser = argparse.ArgumentParser(
        prog="bench/experiments.py",
        description=f"Time DVC {DVC_VERSION} and xp on experiments (run, show, diff, branch, apply), "
                    "side by side on the same projects.",
        epilog="figures, in the order they run: " + ", ".join(FIGURES)
               + ". The experiments are recorded with this checkout's `xp exp save`, whatever --xp says.",
    )
    add = parser.add_argument
    add("--runs", type=int, default=5, metavar="N",
        help="timed runs per figure and tool; the median is reported (default 5)")
    add("--figure", action="append", choices=list(FIGURES), help="measure only this figure (repeatable; default all)")
    add("--tool", action="append", choices=["dvc", "xp"], help="measure only this tool (repeatable; default both)")
    add("--json", action="store_true", help="print the figures as JSON instead of a table")
    add("--dvc", metavar="PATH", help=f"the dvc executable (default: DVC {DVC_VERSION} from scripts/dvc-venv.sh)")
    add("--xp", metavar="PATH",
        help="the xp executable (default: `python -m pyhelper` with this interpreter and this checkout)")
    add("--dvc-1000", action="store_true",
        help="also time DVC at 1,000 experiments (about 35 s per cold run; left out by default)")
    add("--keep", action="store_true", help="keep the temporary projects and print where they are")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    args.figure = args.figure or list(FIGURES)
    args.tool = args.tool or ["dvc", "xp"]
    return args


def _bench(args: argparse.Namespace, setup: Setup) -> Bench:
    """The tools' commands and environments; the projects are built when a figure first needs them."""
    argv: dict[str, tuple[str, ...]] = {}
    envs: dict[str, dict[str, str]] = {}
    if "dvc" in args.tool:
        argv["dvc"], envs["dvc"] = (args.dvc or find_dvc(),), setup.env
        version = Tool("dvc", argv["dvc"], setup.env, setup.work).run("--version").strip()
        progress(f"dvc: {version}: {argv['dvc'][0]}")
    if "xp" in args.tool:
        if args.xp:
            argv["xp"], envs["xp"] = (args.xp,), setup.env
        else:
            argv["xp"], envs["xp"] = (sys.executable, "-m", "pyhelper"), setup.xp_env
        progress(f"xp: {' '.join(argv['xp'])}")
    return Bench(setup, argv, envs, args.dvc_1000)


def _render(line: Line) -> str:
    """One aligned line: each contender's value, how xp compares, and xp's target."""
    values = line.summary()
    parts = [f"{line.label:<{LABEL_WIDTH}}"]
    for name, value in values.items():
        text = f"{name} {value:.3f} s" if line.unit == "s" else f"{name} {value:.1f} {line.unit}"
        parts.append(f"{text:<13}")
    ratio = _ratio(values)
    if ratio is not None:
        more, less = ("faster", "slower") if line.unit == "s" else ("less", "more")
        parts.append(f"{ratio:.2f}x {more}" if ratio >= 1 else f"{1 / ratio:.2f}x {less}")
    if line.target is not None and "xp" in values:
        verdict = "met" if values["xp"] <= line.target else "MISSED"
        parts.append(f"(xp target <= {line.target:g} {line.unit}: {verdict})")
    if line.note:
        parts.append(f"[{line.note}]")
    return "   ".join(parts).rstrip()


def _ratio(values: dict[str, float]) -> float | None:
    """How many times better xp is than DVC (faster, or less memory); below 1 means worse."""
    if "xp" not in values or "dvc" not in values or values["xp"] <= 0:
        return None
    return values["dvc"] / values["xp"]


def _as_json(lines: list[Line], args: argparse.Namespace, total: float) -> dict[str, object]:
    """The lines, their raw values and the setup, as a JSON-ready dict."""
    out = []
    for line in lines:
        values = line.summary()
        entry: dict[str, object] = {"name": line.name, "label": line.label, "unit": line.unit,
                                    "summary": "max" if line.peak else "median"}
        for name, raw in line.seconds.items():
            entry[name] = {"value": round(values[name], 4), "runs": [round(v, 4) for v in raw]}
        ratio = _ratio(values)
        entry["xp_better_by"] = None if ratio is None else round(ratio, 3)
        if line.target is not None:
            entry["xp_target"] = line.target
            entry["xp_target_met"] = values["xp"] <= line.target if "xp" in values else None
        if line.note:
            entry["note"] = line.note
        out.append(entry)
    return {
        "version": 1,
        "runs": args.runs,
        "dvc": DVC_VERSION,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "total_seconds": round(total, 1),
        "figures": out,
    }


if __name__ == "__main__":
    sys.exit(main())
