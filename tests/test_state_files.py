"""xp's own state files damaged (issue 17, item 9): the stat index is a cache and is rebuilt (said once);
the run-cache gets one line naming the file and the fix. Never a traceback."""

from __future__ import annotations

import pytest

from tests.test_experiments import PROJECT, reproduced


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_damaged_stat_index_is_rebuilt_and_said_once(gen, xp, damage):
    repo = reproduced(gen, xp)
    index = repo / ".xp" / "index.db"
    data = index.read_bytes()
    index.write_bytes(b"not a database at all\n" * 100 if damage == "garbage" else data[: len(data) // 2])
    said = []
    for args in (("status",), ("repro",), ("exp", "run", "-S", "train.lr=0.2", "-n", f"after-{damage}")):
        result = xp(*args, cwd=repo)
        assert "Traceback" not in result.stderr
        said += [line for line in result.stderr.splitlines() if line.startswith("note: the stat index")]
    if damage == "garbage":
        assert len(said) == 1 and "was unreadable" in said[0] and "started afresh" in said[0], said
    first = xp("status", cwd=repo)
    assert "note: the stat index" not in first.stderr  # Rebuilt once, fine since.
    assert (repo / ".xp" / "index.db.broken").exists() or damage == "truncated"


def test_a_damaged_run_cache_is_one_line_with_the_fix(gen, xp):
    repo = reproduced(gen, xp)
    runs = repo / ".xp" / "runs.db"
    runs.write_bytes(b"\0garbage" * 500)
    for args in (("runs", "list"), ("repro", "-f"), ("exp", "run", "-S", "train.lr=0.3")):
        result = xp(*args, cwd=repo, expect=2)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
        assert f"the run-cache {runs} cannot be read" in lines[0] and "mv " in lines[0]
    runs.rename(runs.with_name("runs.db.broken"))
    xp("repro", "-f", cwd=repo)
    assert "train" in xp("runs", "list", cwd=repo).stdout


def test_an_orphan_branch_is_named_as_such(gen, xp):
    from tests.conftest import git

    repo = reproduced(gen, xp)
    git(repo, "checkout", "-q", "--orphan", "fresh")
    result = xp("exp", "run", cwd=repo, expect=2)
    assert "the branch 'fresh' has no commits yet (an orphan branch)" in result.stderr
    assert "git switch -" in result.stderr


def test_a_full_disk_is_one_line_and_nothing_half_written(gen, xp, tmp_path):
    import hashlib
    import subprocess

    files = dict(PROJECT)
    files["train.py"] = PROJECT["train.py"] + 'open("model.bin", "w").write("x" * 2_000_000)\n'
    repo = gen(files)
    (repo / ".xp").mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(repo / ".xp")],
                             capture_output=True, text=True)
    assert mounted.returncode == 0, f"this test needs a small tmpfs (root, as CI runs): {mounted.stderr}"
    try:
        for args in (("repro",), ("exp", "run", "--temp", "-S", "train.lr=0.2")):
            result = xp(*args, cwd=repo, expect=2)
            lines = result.stderr.strip().splitlines()
            assert "Traceback" not in result.stderr, result.stderr
            assert lines[-1].startswith(("error: cannot write", "error: could not write")), lines
            assert "No space left on device" in lines[-1] and "free some disk space" in lines[-1], lines
        for obj in (repo / ".xp").rglob("*"):  # Whatever landed in the cache is whole.
            if obj.is_file() and "files/md5" in obj.as_posix() and not obj.name.endswith(".dir"):
                assert hashlib.md5(obj.read_bytes()).hexdigest() == obj.parent.name + obj.name
    finally:
        subprocess.run(["umount", str(repo / ".xp")], check=True)


def test_a_lock_of_binary_garbage_is_one_line(gen, xp):
    import os

    repo = reproduced(gen, xp)
    (repo / "dvc.lock").write_bytes(b"\x85" + os.urandom(2000))
    for args in (("status",), ("repro", "--dry"), ("exp", "run", "-S", "train.lr=0.2")):
        result = xp(*args, cwd=repo, expect=2)
        assert "dvc.lock:1: is not UTF-8 text (byte 0x85 at offset 0)" in result.stderr, result.stderr
        assert "git checkout -- dvc.lock" in result.stderr and "Traceback" not in result.stderr


def test_a_nearly_full_disk_is_one_line_for_the_queue_and_run_cache_never_a_bus_error(gen, xp):
    """SQLite's WAL index (-shm) is memory-mapped: grown on a full disk, it ended xp with SIGBUS at 11-59 KB free."""
    import subprocess

    repo = gen(PROJECT)
    xp_dir = repo / ".xp"
    xp_dir.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(xp_dir)],
                             capture_output=True, text=True)
    assert mounted.returncode == 0, f"this test needs a small tmpfs (root, as CI runs): {mounted.stderr}"
    try:
        for free_kib in (60, 40, 20, 8):
            for leftover in xp_dir.iterdir():
                leftover.unlink() if leftover.is_file() else None
            available = int(subprocess.run(["df", "--output=avail", "-B1", str(xp_dir)], capture_output=True,
                                           text=True, check=True).stdout.split()[-1])
            (xp_dir / "fill").write_bytes(b"\0" * max(0, available - free_kib * 1024))
            for args in (("exp", "run", "--queue", "-S", "train.lr=0.2"), ("queue", "status"), ("runs", "list")):
                result = xp(*args, cwd=repo, expect=None)
                said = f"{free_kib} KiB free, xp {' '.join(args)}: rc {result.returncode}\n{result.stderr}"
                assert result.returncode == 2, said  # -7 / 135 was the bus error
                assert "Traceback" not in result.stderr and "move it away" not in result.stderr, said
                assert "No space left on device" in result.stderr and "free some disk space" in result.stderr, said
    finally:
        subprocess.run(["umount", str(xp_dir)], check=True)
    xp("status", cwd=repo)  # With room again, the same project works (exit 0).
