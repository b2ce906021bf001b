"""Times checkpoints and `import pyhelper.live` (`python bench/checkpoint_bench.py --help`).

Figures (xp only: DVC 3 has no checkpoints):
- import: what `import pyhelper.live` costs, as `python -X importtime` reports it (median of runs);
- files-only: make_checkpoint() outside an xp run (it only writes DVCLive's files);
- unchanged: make_checkpoint() under `xp exp run` in a workspace of ~50 small files (2 edited per
  step) plus a 100 MB `persist: true` output written once;
- rewritten: the same, but the 100 MB output is rewritten before every checkpoint (a model
  saved every epoch), so each checkpoint must hash and store 100 MB.

Each checkpoint is timed inside the training loop (perf_counter around make_checkpoint(), which
blocks until xp answered that the commit is recorded). The first checkpoints of a run are
reported apart (they hash and store the output the first time). One line per figure.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from harness import CommandFailed, child_env, failure, git, progress, work_folder, xp_env

SMALL_FILES = 50
OUTPUT_MIB = 100

TRAIN = """
import json, os, sys, time
from pyhelper.live import Live

steps, mode = int(sys.argv[1]), sys.argv[2]
data = bytearray(os.urandom({mib} << 20)) if mode != "files-only" else None
times = []
with Live() as live:
    for step in range(steps):
        for i in range(2):
            with open(f"src/f{{i}}.txt", "w") as f:
                f.write(f"step {{step}}\\n")
        if data is not None and (mode == "rewritten" or step == 0):
            data[:8] = step.to_bytes(8, "little")
            with open("model.bin", "wb") as f:
                f.write(data)
        live.log_metric("train/loss", 1 / (step + 1))
        started = time.perf_counter()
        rev = live.make_checkpoint()
        times.append(time.perf_counter() - started)
        assert (rev is None) == (mode == "files-only"), rev
        live.next_step()
        time.sleep(0.1)  # Training between checkpoints; the stat of a file just written settles.
with open(os.environ["BENCH_OUT"], "w") as f:
    json.dump(times, f)
"""

DVC_YAML = """stages:
  train:
    cmd: python train.py ${steps} ${mode}
    deps: [train.py]
    params: [steps, mode]
    outs:
      - model.bin:
          persist: true
"""


def make_project(root: Path) -> None:
    """A git repository with ~50 small files, the training stage and its params."""
    root.mkdir()
    git(root, "init", "-q")
    (root / "src").mkdir()
    for i in range(SMALL_FILES - 3):
        (root / "src" / f"f{i}.txt").write_text(f"file {i}\n" * 20)
    (root / "train.py").write_text(TRAIN.format(mib=OUTPUT_MIB))
    (root / "dvc.yaml").write_text(DVC_YAML)
    (root / "params.yaml").write_text("steps: 3\nmode: unchanged\n")
    (root / ".gitignore").write_text("/.xp/\n/model.bin\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "bench project")


def run_xp(root: Path, env: dict[str, str], *args: str) -> None:
    argv = [sys.executable, "-m", "pyhelper", *args]
    result = subprocess.run(argv, cwd=root, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise CommandFailed(failure("xp", argv, result.returncode, result.stderr + result.stdout))


def checkpoint_times(root: Path, env: dict[str, str], mode: str, steps: int, name: str) -> list[float]:
    """Seconds each make_checkpoint() blocked, in one run of `steps` steps."""
    out = root.parent / f"{name}.json"
    env = {**env, "BENCH_OUT": str(out)}
    if mode == "files-only":
        argv = [sys.executable, "train.py", str(steps), mode]
        result = subprocess.run(argv, cwd=root, env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise CommandFailed(failure("python", argv, result.returncode, result.stderr))
    else:
        run_xp(root, env, "exp", "run", "-q", "-n", name, "-S", f"steps={steps}", "-S", f"mode={mode}")
        chain = git(root, "log", "--first-parent", "--format=%s", f"HEAD..refs/exps/{_exp_dir(root)}/{name}")
        if chain.count("xp: checkpoint") != steps:
            raise CommandFailed(f"expected {steps} checkpoints, the chain holds:\n{chain}")
    return json.loads(out.read_text())


def _exp_dir(root: Path) -> str:
    head = git(root, "rev-parse", "HEAD").strip()
    return f"{head[:2]}/{head[2:]}"


def import_ms(env: dict[str, str], runs: int) -> list[float]:
    """Milliseconds `import pyhelper.live` takes, as -X importtime reports it (cumulative)."""
    found = []
    for _ in range(runs):
        result = subprocess.run([sys.executable, "-X", "importtime", "-c", "import pyhelper.live"], env=env,
                                capture_output=True, text=True, check=False)
        line = next(x for x in result.stderr.splitlines() if x.rstrip().endswith("| pyhelper.live"))
        found.append(int(line.split("|")[1]) / 1000)
    return found


def ms(seconds: list[float]) -> str:
    values = sorted(s * 1000 for s in seconds)
    p90 = values[min(len(values) - 1, int(len(values) * 0.9))]
    return f"median {statistics.median(values):.1f} ms, p90 {p90:.1f} ms, max {values[-1]:.1f} ms (n={len(values)})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="import timings (default 10)")
    parser.add_argument("--steps", type=int, default=20, help="checkpoints per run (default 20)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    figures: dict[str, dict] = {}
    lines: list[str] = []
    with work_folder("xp-ckbench-", args.keep) as work:
        try:
            env = xp_env(child_env(work))
            root = work / "project"
            make_project(root)
            progress(f"project in {root}")
            values = import_ms(env, args.runs)
            figures["import"] = {"ms": values}
            lines.append(f"import pyhelper.live: median {statistics.median(values):.1f} ms, "
                         f"max {max(values):.1f} ms (n={len(values)}; budget 50 ms)")
            warm = 2  # The first checkpoints store the output for the first time; reported apart.
            for mode, label in (("files-only", "make_checkpoint() outside an xp run (files only)"),
                                ("unchanged", f"checkpoint, {SMALL_FILES} small files + {OUTPUT_MIB} MB persisted "
                                              "output unchanged between checkpoints"),
                                ("rewritten", f"checkpoint, {SMALL_FILES} small files + {OUTPUT_MIB} MB persisted "
                                              "output rewritten before each checkpoint")):
                steps = args.steps if mode != "rewritten" else max(4, args.steps // 3)
                progress(f"figure '{mode}': {steps} checkpoints")
                times = checkpoint_times(root, env, mode, steps, f"bench-{mode}")
                figures[mode] = {"seconds": times}
                first = ", ".join(f"{t * 1000:.0f}" for t in times[:warm])
                lines.append(f"{label}: {ms(times[warm:])}; first {warm}: {first} ms (budget 30 ms)")
        except CommandFailed as exc:
            print(f"failed\n{exc}", file=sys.stderr)
            return 1
    if args.json:
        print(json.dumps(figures))
    else:
        for line in lines:
            print(line)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "")
    sys.exit(main())
