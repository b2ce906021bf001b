"""A big sparse output and `exp apply`, xp beside DVC 3.67.1 (`python bench/sparse_apply.py --help`).

The project's one stage writes a sparse file of --gib GiB (a few KiB of data, the rest a hole: a
preallocated array, a disk image). Both tools run two experiments (the file differs), then apply
the first one. Figures, one line each with both tools and the ratio:
- `exp apply` of the first experiment (wall time of the whole process);
- a no-op `repro` right after it (xp remembers what apply wrote; a tool that does not hashes it all);
- the disk the cache and the workspace copy take (`du`: blocks in use, not the file size).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from harness import CommandFailed, find_dvc, time_process, xp_env

ENV = xp_env({**os.environ, "DVC_NO_ANALYTICS": "1", "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "b@x.invalid",
              "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "b@x.invalid"})


def project(folder: Path, size: int, *, dvc: str | None) -> Path:
    """A git repository whose stage `make` writes a sparse big.bin of `size` bytes from param `tag`."""
    folder.mkdir(parents=True)
    (folder / "dvc.yaml").write_text("stages:\n  make:\n    cmd: python make.py\n    deps: [make.py]\n"
                                     "    params: [tag]\n    outs: [big.bin]\n")
    (folder / "params.yaml").write_text("tag: a\n")
    (folder / "make.py").write_text(
        'tag = open("params.yaml").read().split(":")[1].strip()\n'
        'with open("big.bin", "wb") as out:\n'
        '    out.write(tag.encode() * 4096)\n'
        f'    out.truncate({size})\n')
    subprocess.run(["git", "init", "-q"], cwd=folder, env=ENV, check=True)
    if dvc:
        subprocess.run([dvc, "init", "-q"], cwd=folder, env=ENV, check=True)
    subprocess.run(["git", "add", "-A"], cwd=folder, env=ENV, check=True)
    subprocess.run(["git", "commit", "-qm", "x"], cwd=folder, env=ENV, check=True)
    return folder


def timed(argv: list[str], cwd: Path) -> float:
    """Wall time of one whole process; a non-zero exit raises CommandFailed with what it said."""
    return time_process(argv, cwd, ENV, Path(argv[0]).name)


def disk(*paths: Path) -> int:
    """Bytes in use (blocks), as `du` counts them."""
    total = 0
    for path in paths:
        for root, _, names in os.walk(path) if path.is_dir() else [(str(path.parent), [], [path.name])]:
            for name in names:
                full = Path(root) / name
                if full.is_file() and not full.is_symlink():
                    total += full.stat().st_blocks * 512
    return total


def line(label: str, dvc: float, xp: float, unit: str = "s") -> str:
    if unit == "s":
        ratio = f"{dvc / xp:.2f}x faster" if xp <= dvc else f"{xp / dvc:.2f}x slower"
        return f"{label:<44} dvc {dvc:8.3f} s   xp {xp:8.3f} s   {ratio}"
    ratio = f"{dvc / xp:.1f}x less" if 0 < xp <= dvc else "-"
    return f"{label:<44} dvc {dvc / 1e6:8.1f} MB  xp {xp / 1e6:8.1f} MB  {ratio}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gib", type=float, default=1.0, help="size of the sparse output in GiB (default 1)")
    args = parser.parse_args()
    size = int(args.gib * (1 << 30))
    dvc = find_dvc()
    xp = [sys.executable, "-m", "pyhelper"]
    with tempfile.TemporaryDirectory(prefix="xp-bench-sparse-") as tmp:
        try:
            ours = project(Path(tmp) / "xp", size, dvc=None)
            theirs = project(Path(tmp) / "dvc", size, dvc=dvc)
            for cwd, tool in ((ours, xp), (theirs, [dvc])):
                timed([*tool, "exp", "run", "-n", "a"], cwd)
                timed([*tool, "exp", "run", "-n", "b", "-S", "tag=b"], cwd)
            print(f"sparse output of {args.gib:g} GiB, two experiments, then the first applied", flush=True)
            apply_dvc, apply_xp = timed([dvc, "exp", "apply", "a"], theirs), timed([*xp, "exp", "apply", "a"], ours)
            print(line("exp apply a", apply_dvc, apply_xp), flush=True)
            repro_dvc, repro_xp = timed([dvc, "repro"], theirs), timed([*xp, "repro"], ours)
            print(line("no-op repro right after exp apply", repro_dvc, repro_xp), flush=True)
            print(line("cache on disk", disk(theirs / ".dvc" / "cache"), disk(ours / ".xp" / "cache"), "b"))
            print(line("workspace big.bin on disk", disk(theirs / "big.bin"), disk(ours / "big.bin"), "b"))
        except CommandFailed as e:
            print(e, file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
