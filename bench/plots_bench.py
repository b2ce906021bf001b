"""Times `xp plots diff` beside DVC 3.67.1's `dvc plots diff` (`python bench/plots_bench.py --help`).

The project is the demo (`xp demo`: three plots of the training run, a confusion matrix and a
picture per experiment) made a DVC project too (`dvc init`), so both tools read the same files and
the same cache. Each figure writes the HTML report (xp: one self-contained file; DVC: its
`dvc_plots/` folder) for the same revisions, named by commit id so that both resolve them alike.
The median of --runs timed runs per tool is printed with the ratio, one line per figure. A command
that fails is never timed: its output is shown and the script exits 1.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from harness import REPO, CommandFailed, child_env, find_dvc, git, progress, time_process, xp_env


def main(argv: list[str] | None = None) -> int:
    """Builds the project, times both tools on each figure, prints one line per figure."""
    parser = argparse.ArgumentParser(prog="bench/plots_bench.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, metavar="N", help="timed runs per figure and tool (default 5)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="xp-bench-plots-") as tmp:
        work = Path(tmp)
        env = child_env(work)
        xenv = xp_env(env)
        root = work / "demo"
        progress("making the demo project (xp demo)")
        made = subprocess.run([sys.executable, "-m", "pyhelper", "demo", str(root)], env=xenv, cwd=REPO,
                              capture_output=True, text=True, check=False)
        if made.returncode != 0:
            print(made.stdout + made.stderr, file=sys.stderr)
            return 1
        dvc = find_dvc()
        for step in (["init", "-q"], ["config", "core.check_update", "false"], ["config", "core.analytics", "false"]):
            subprocess.run([dvc, *step], cwd=root, env=env, check=True, capture_output=True)
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", "dvc init")
        names = subprocess.run([sys.executable, "-m", "pyhelper", "exp", "list", "--name-only"], cwd=root, env=xenv,
                               capture_output=True, text=True, check=True).stdout.split()
        revs = {name: git(root, "rev-parse", _ref(root, name)).strip() for name in names[:5]}
        figures = {
            "plots diff HEAD and the workspace": [],
            "plots diff of 2 experiments": list(revs.values())[:2],
            "plots diff of 5 experiments": list(revs.values())[:5],
        }
        failed = False
        for label, chosen in figures.items():
            try:
                xp = _median(args.runs, [sys.executable, "-m", "pyhelper", "plots", "diff", *chosen, "-o",
                                         str(work / "xp.html")], root, xenv, "xp")
                theirs = _median(args.runs, [dvc, "plots", "diff", *chosen, "-o", str(work / "dvc_plots")],
                                 root, env, "dvc")
            except CommandFailed as exc:
                print(f"{label}: failed\n{exc}", file=sys.stderr)
                failed = True
                continue
            print(f"{label:<40} dvc {theirs:6.3f} s   xp {xp:6.3f} s   dvc/xp {theirs / xp:5.1f}x", flush=True)
    return 1 if failed else 0


def _ref(root: Path, name: str) -> str:
    """The full ref of experiment `name` (xp records it where DVC looks: refs/exps/…)."""
    listed = git(root, "for-each-ref", "--format=%(refname)", "refs/exps/")
    return next(ref for ref in listed.split() if ref.rsplit("/", 1)[-1] == name)


def _median(runs: int, argv: list[str], root: Path, env: dict[str, str], name: str) -> float:
    """Median wall time of `runs` runs of one command."""
    return statistics.median(time_process(argv, root, env, name) for _ in range(runs))


if __name__ == "__main__":
    sys.exit(main())
