"""Faults in the object cache and while outputs are written: bit rot is refused, never checked out, and
a checkout killed half way leaves the old file or the new one, never a torn one (issue 17, items 6 and 7)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import GIT_ENV, git
from tests.test_experiments import one_line_error, reproduced
from tests.test_repro import PIPELINE, set_lr


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def object_of(repo: Path, md5sum: str) -> Path:
    return repo / ".xp" / "cache" / "files" / "md5" / md5sum[:2] / md5sum[2:]


def rot(repo: Path, md5sum: str, *, stat_hides_it: bool) -> Path:
    """Flips one bit of a (read-only) cache object and puts its size, mode and mtime back, as bit rot would.

    With `stat_hides_it`, xp's stat index also holds the object's new stat with its old md5, as it does on
    a file system whose ctime is coarse (or when the bit flips on disk, under the file system).
    """
    obj = object_of(repo, md5sum)
    st = obj.stat()
    os.chmod(obj, 0o644)
    data = bytearray(obj.read_bytes())
    data[len(data) // 2] ^= 0x01
    obj.write_bytes(bytes(data))
    os.chmod(obj, st.st_mode)
    os.utime(obj, ns=(st.st_atime_ns, st.st_mtime_ns))
    now = obj.stat()
    assert now.st_size == st.st_size and now.st_mtime_ns == st.st_mtime_ns
    if stat_hides_it:
        with sqlite3.connect(repo / ".xp" / "index.db") as db:
            db.execute("DELETE FROM stat_index WHERE path LIKE ?", (f"%/{md5sum[2:]}",))
            db.execute("INSERT INTO stat_index VALUES (?,?,?,?,?,?)",
                       (str(obj.resolve()), now.st_ino, now.st_size, now.st_mtime_ns, now.st_ctime_ns, md5sum))
    return obj


@pytest.mark.parametrize("stat_hides_it", [False, True])
def test_exp_apply_refuses_a_rotten_object_and_leaves_the_workspace_file(gen, xp, stat_hides_it):
    repo = reproduced(gen, xp)
    xp("exp", "run", "-S", "train.lr=0.3", "-n", "a", cwd=repo)
    wanted = md5(repo / "model.bin")
    git(repo, "checkout", "-q", "--", ".")
    xp("repro", cwd=repo)  # Back to HEAD's model (from the run-cache).
    before = (repo / "model.bin").read_bytes()
    rot(repo, wanted, stat_hides_it=stat_hides_it)

    line = one_line_error(xp("exp", "apply", "a", cwd=repo, expect=2))
    assert wanted[2:] in line and "does not hold what its name says (bit rot?)" in line and "xp repro" in line
    assert (repo / "model.bin").read_bytes() == before, "the workspace file is left as it was"
    assert not [p for p in repo.iterdir() if p.name.startswith(".xp-tmp")], "no temp file left behind"

    # The bad object was dropped, so `xp repro` (now on the experiment's params) caches a good one.
    assert not object_of(repo, wanted).exists()
    xp("repro", cwd=repo)
    assert md5(repo / "model.bin") == wanted and md5(object_of(repo, wanted)) == wanted


@pytest.mark.parametrize("stat_hides_it", [False, True])
def test_runs_restore_refuses_a_rotten_object(gen, xp, stat_hides_it):
    repo = gen(PIPELINE)
    xp("repro", cwd=repo)
    old = json.loads(xp("runs", "list", "--stage", "train", "--json", cwd=repo).stdout)[0]
    model = next(o for o in old["outs"] if o["path"] == "model.txt")
    set_lr(repo, "0.3")
    xp("repro", cwd=repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "lr 0.3")
    before = (repo / "model.txt").read_bytes()
    rot(repo, model["md5"], stat_hides_it=stat_hides_it)

    result = xp("runs", "restore", old["id"], cwd=repo, expect=2)
    line = one_line_error(result)
    assert model["md5"][2:] in line and "does not hold what its name says" in line and "xp repro" in line
    assert "up to date" not in result.stdout
    assert (repo / "model.txt").read_bytes() == before, "the workspace file is left as it was"
    assert "lr: 0.3" in (repo / "params.yaml").read_text(), "nothing else was restored either"


BIG = 100 * 1024 * 1024

SLOW_PROJECT = {
    "dvc.yaml": """
        stages:
          train:
            cmd: python train.py
            deps: [train.py]
            params: [train.fill]
            outs: [big.bin]
        """,
    "params.yaml": "train:\n  fill: 1\n",
    "train.py": f"""
        import re
        fill = int(re.search(r"fill: (\\d+)", open("params.yaml").read()).group(1))
        block = bytes([fill]) * (1024 * 1024)
        with open("big.bin", "wb") as f:
            for _ in range({BIG // (1024 * 1024)}):
                f.write(block)
        """,
}


def writing(repo: Path) -> bool:
    """True once a checkout of big.bin has begun: a temporary file beside it, or big.bin gone or short."""
    try:
        short = (repo / "big.bin").stat().st_size < BIG
    except FileNotFoundError:
        short = True
    return short or any(p.name.startswith(".xp-tmp") for p in repo.iterdir())


def test_apply_killed_mid_copy_leaves_the_old_or_the_new_file_never_a_torn_one(gen, xp):
    repo = gen(SLOW_PROJECT)
    xp("repro", cwd=repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "fill 1")
    xp("exp", "run", "-S", "train.fill=2", "-n", "two", cwd=repo)
    new = md5(repo / "big.bin")
    git(repo, "checkout", "-q", "--", ".")
    xp("repro", cwd=repo)
    old = md5(repo / "big.bin")
    assert old != new

    # Kill `exp apply` while it writes the 100 MB output: the moment it starts writing.
    killed = False
    for _attempt in range(10):
        proc = subprocess.Popen([sys.executable, "-m", "pyhelper", "exp", "apply", "two"], cwd=repo,
                                env={**os.environ, **GIT_ENV}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            if writing(repo):
                proc.send_signal(signal.SIGKILL)
                killed = True
                break
            time.sleep(0.001)
        proc.wait()
        if killed:
            break
        git(repo, "checkout", "-q", "--", ".")  # It finished first: try again from the old state.
        xp("repro", cwd=repo)
    # A failure, never a skip: copying and hashing 100 MB takes far longer than the 1 ms poll above.
    assert killed, "the copy always finished before it could be killed (10 tries)"

    output = repo / "big.bin"
    assert output.is_file() and md5(output) in (old, new), "the output is the old one or the new one, whole"
    # The next apply finishes the job and cleans up what the killed one left.
    xp("exp", "apply", "two", cwd=repo)
    assert md5(repo / "big.bin") == new
    assert not [p.name for p in repo.iterdir() if p.name.startswith(".xp-tmp")], "no temp file left behind"
