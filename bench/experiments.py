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
import sys

from exp_figures import FIGURES, Bench, Line
from harness import DVC_VERSION, Setup, bench_parser, parse_bench_args, run_figures, run_info, tool_commands

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
    parser = bench_parser(
        "bench/experiments.py",
        f"Time DVC {DVC_VERSION} and xp on experiments (run, show, diff, branch, apply), "
        "side by side on the same projects.",
        "figures, in the order they run: " + ", ".join(FIGURES)
        + ". The experiments are recorded with this checkout's `xp exp save`, whatever --xp says.",
        FIGURES, runs=5,
    )
    parser.add_argument("--dvc-1000", action="store_true",
                        help="also time DVC at 1,000 experiments (about 35 s per cold run; left out by default)")
    return parse_bench_args(parser, argv, FIGURES)


def _bench(args: argparse.Namespace, setup: Setup) -> Bench:
    """The tools' commands and environments; the projects are built when a figure first needs them."""
    return Bench(setup, *tool_commands(args, setup), args.dvc_1000)


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
    return {**run_info(args), "total_seconds": round(total, 1), "figures": out}


if __name__ == "__main__":
    sys.exit(main())
