"""Real project shapes, xp beside DVC 3.67.1 (`python bench/real_projects.py --help`).

Figures (median wall time of whole processes, the two tools' runs interleaved):
- `status` on one `foreach` stage of 1,347 items (a real project's shape), nothing run yet;
- `status` on a project whose pipelines live in 50 subfolder dvc.yaml files;
- the collection of those 50 dvc.yaml files inside xp (one process, no start-up), the target ≤ 100 ms.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from harness import CommandFailed, find_dvc, time_process  # noqa: E402

from tests import real_projects  # noqa: E402

ENV = {**os.environ, "DVC_NO_ANALYTICS": "1", "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "b@x.invalid",
       "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "b@x.invalid"}


def _run(args: list[str], cwd: Path) -> float:
    """Wall time of one whole process; a non-zero exit raises CommandFailed with what it said."""
    return time_process(args, cwd, ENV, Path(args[0]).name)


def _init(repo: Path, dvc: str) -> None:
    for args in (["git", "init", "-q", "-b", "main"], [dvc, "init", "-q"], ["git", "add", "-A"],
                 ["git", "commit", "-q", "-m", "init"]):
        _run(args, repo)


def _fifty(repo: Path) -> None:
    for i in range(50):
        folder = repo / "pipelines" / f"p{i:02d}"
        folder.mkdir(parents=True)
        (folder / "dvc.yaml").write_text(
            "stages:\n" + "".join(
                f"  s{j}:\n    cmd: python make.py {j}\n    deps: [make.py]\n    params: [lr]\n    outs: [out{j}.txt]\n"
                for j in range(3)))
        (folder / "params.yaml").write_text("lr: 0.1\n")
        (folder / "make.py").write_text("import sys\nopen(f'out{sys.argv[1]}.txt', 'w').write('x')\n")


def _side_by_side(label: str, repo: Path, dvc: str, runs: int) -> None:
    xp_cmd = [sys.executable, "-m", "pyhelper", "status", "--json"]
    dvc_cmd = [dvc, "status", "--json"]
    _run(xp_cmd, repo)  # Warm both (the stat index, DVC's site caches).
    _run(dvc_cmd, repo)
    xs, ds = [], []
    for _ in range(runs):
        xs.append(_run(xp_cmd, repo))
        ds.append(_run(dvc_cmd, repo))
    x, d = statistics.median(xs), statistics.median(ds)
    print(f"{label}: xp {x:.3f} s · dvc {d:.3f} s · xp {d / x:.1f}× faster", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/real_projects.py", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per tool and figure (default 5)")
    args = parser.parse_args(argv)
    dvc = find_dvc()
    work = Path(tempfile.mkdtemp(prefix="xp-bench-real-"))
    try:
        big = work / "foreach"
        real_projects.big_foreach(big, items=1347)
        _init(big, dvc)
        _side_by_side("status, one foreach stage of 1,347 items", big, dvc, args.runs)

        fifty = work / "fifty"
        _fifty(fifty)
        _init(fifty, dvc)
        _side_by_side("status, 150 stages in 50 subfolder dvc.yaml files", fifty, dvc, args.runs)

        from pyhelper.core.pipeline.dvcfile import read_pipeline

        times = []
        for _ in range(max(args.runs, 5)):
            started = time.perf_counter()
            from pyhelper.core.pipeline.collect import collect

            found = collect(fifty)
            times.append(time.perf_counter() - started)
        assert len(found.pipelines) == 50, found.pipelines
        parse = []
        for _ in range(max(args.runs, 5)):
            started = time.perf_counter()
            pipeline = read_pipeline(fifty)
            parse.append(time.perf_counter() - started)
        assert len(pipeline.stages) == 150
        print(f"collect 50 dvc.yaml files (in process): xp {statistics.median(times) * 1000:.1f} ms "
              f"(target ≤ 100 ms); collect + parse all 150 stages: {statistics.median(parse) * 1000:.1f} ms",
              flush=True)
    except CommandFailed as e:
        print(e, file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
