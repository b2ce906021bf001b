"""Hostile files, xp beside DVC 3.67.1 (`python bench/hostile_files.py --help`).

Figures (wall time of one whole `status` process, each tool bounded by --timeout seconds and a 2 GiB
address-space limit, so a tool that would eat the machine is stopped and reported as such):
- a params file that is a billion-laughs YAML bomb (9 anchors × 9 aliases);
- a params file nested 10,000 levels deep;
- the same project with an ordinary params file (the baseline both tools start from).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "DVC_NO_ANALYTICS": "1", "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "b@x.invalid",
       "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "b@x.invalid"}
LIMIT = 2 << 30


def _dvc() -> str:
    out = subprocess.run(["bash", str(REPO / "scripts" / "dvc-venv.sh")], capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


def billion_laughs() -> str:
    """The classic: each level's list holds nine aliases of the level below (9^9 leaves)."""
    lines = ['a0: &a0 "lol"']
    for level in range(1, 10):
        prev = f"*a{level - 1}"
        lines.append(f"a{level}: &a{level} [{', '.join([prev] * 9)}]")
    lines.append("train:\n  lr: 0.1")
    return "\n".join(lines) + "\n"


def deep() -> str:
    """10,000 nested mappings, then the key the stage tracks."""
    return "deep: " + "{a: " * 10_000 + "1" + "}" * 10_000 + "\ntrain:\n  lr: 0.1\n"


def project(folder: Path, params: str) -> Path:
    """A git repository with one stage tracking train.lr, and this params.yaml."""
    folder.mkdir(parents=True)
    (folder / "dvc.yaml").write_text("stages:\n  train:\n    cmd: echo train\n    params: [train.lr]\n")
    (folder / "params.yaml").write_text(params)
    for args in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "x"]):
        subprocess.run(args, cwd=folder, env=ENV, check=True)
    subprocess.run([_dvc(), "init", "-q"], cwd=folder, env=ENV, check=True)
    return folder


def timed(args: list[str], cwd: Path, timeout: float) -> str:
    """'0.21 s (exit 2: first line…)' or 'stopped after N s' / 'out of memory (2 GiB) after N s'."""
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))

    started = time.perf_counter()
    try:
        result = subprocess.run(args, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=timeout,
                                preexec_fn=limit)
    except subprocess.TimeoutExpired:
        return f"stopped after {timeout:.0f} s"
    took = time.perf_counter() - started
    said = (result.stderr.strip().splitlines() or result.stdout.strip().splitlines() or [""])[-1][:90]
    if "MemoryError" in result.stderr or "Cannot allocate memory" in result.stderr:
        return f"out of memory (2 GiB) after {took:.2f} s"
    return f"{took:.2f} s (exit {result.returncode}: {said})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timeout", type=float, default=60, help="seconds each tool may take (default 60)")
    args = parser.parse_args()
    xp = [sys.executable, "-m", "pyhelper", "status"]
    dvc = [_dvc(), "status"]
    with tempfile.TemporaryDirectory() as tmp:
        for label, params in (("ordinary params.yaml", "train:\n  lr: 0.1\n"),
                              ("billion-laughs params.yaml (9×9)", billion_laughs()),
                              ("params.yaml nested 10,000 deep", deep())):
            folder = project(Path(tmp) / label.split()[0].replace(",", ""), params)
            ours, theirs = timed(xp, folder, args.timeout), timed(dvc, folder, args.timeout)
            ratio = ""
            if ours.split()[0].replace(".", "").isdigit() and theirs.split()[0].replace(".", "").isdigit():
                ratio = f" · {float(theirs.split()[0]) / float(ours.split()[0]):.1f}× (dvc/xp)"
            elif ours.split()[0].replace(".", "").isdigit():
                ratio = " · dvc gave no answer"
            print(f"status, {label}: xp {ours} · dvc {theirs}{ratio}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
