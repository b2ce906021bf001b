"""Git and file-system faults around experiments: objects deleted or pruned by `git gc` behind one
experiment, `git gc --prune=now` beside a checkpointed run, and `.xp` on a read-only mount."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import GIT_ENV, git, train_stage
from tests.test_checkpoints import PROJECT as CHECKPOINTED
from tests.test_experiments import exps, one_line_error

PROJECT = {
    "dvc.yaml": train_stage(params=["lr"], metrics=["metrics.json"]),
    "params.yaml": "lr: 0.1\n",
    "train.py": """
        import json
        lr = float(open("params.yaml").read().split()[1])
        json.dump({"acc": lr * 2}, open("metrics.json", "w"))
        """,
}


def loose(repo: Path, oid: str) -> Path:
    """The loose object file of `oid` (experiments are written loose; nothing packs them in these tests)."""
    return repo / ".git" / "objects" / oid[:2] / oid[2:]


@pytest.fixture
def three(gen, xp) -> Path:
    """A project with experiments good, bad and good2, and bad's commit deleted from the object database."""
    repo = gen(PROJECT)
    for name, lr in (("good", "0.2"), ("bad", "0.3"), ("good2", "0.4")):
        xp("exp", "run", "-n", name, "-S", f"lr={lr}", cwd=repo)
    loose(repo, exps(repo)["bad"]).unlink()
    return repo


def test_a_deleted_experiment_commit_flags_that_row_only(three, xp):
    shown = xp("exp", "show", cwd=three)
    assert "Traceback" not in shown.stderr
    lines = {line.lstrip("├└─│ ").split()[0]: line for line in shown.stdout.splitlines()[1:]}
    assert "broken" in lines["bad"] and "0.4" in lines["good"] and "0.8" in lines["good2"]
    assert "`xp exp remove bad`" in shown.stderr, "the warning names the fix"
    rows = {r["name"]: r for r in json.loads(xp("exp", "show", "--xp-json", cwd=three).stdout)}
    assert rows["bad"]["status"] == "broken" and "xp exp remove bad" in rows["bad"]["errors"]["git"]
    assert rows["good"]["metrics"]["metrics.json"] == {"acc": 0.4}
    records = json.loads(xp("exp", "show", "--json", cwd=three).stdout)[1]["experiments"]
    by_name = {e["name"]: e["revs"][0] for e in records}
    assert "xp exp remove bad" in by_name["bad"]["error"]["msg"] and by_name["good"]["error"] is None
    # The other experiments' commands work; the broken one's answer is one line with the fix.
    assert "0.4" in xp("exp", "diff", "good", cwd=three).stdout
    xp("exp", "branch", "good", "kept", cwd=three)
    for args in (("exp", "diff", "bad"), ("exp", "diff", "good", "bad"), ("exp", "branch", "bad", "lost")):
        assert "`xp exp remove bad`" in one_line_error(xp(*args, cwd=three, expect=2))
    assert "lost" not in git(three, "branch")
    xp("exp", "remove", "bad", cwd=three)
    assert "broken" not in xp("exp", "show", cwd=three).stdout


def test_a_deleted_tree_or_middle_checkpoint_flags_that_experiment_only(gen, xp):
    repo = gen(CHECKPOINTED)
    xp("exp", "run", "-n", "a", cwd=repo)
    xp("exp", "run", "-n", "b", "-S", "epochs=2", cwd=repo)
    chain_b = git(repo, "log", "--first-parent", "--format=%H", f"HEAD..{exps(repo)['b']}").split()
    loose(repo, chain_b[1]).unlink()  # A checkpoint in the middle of b's chain.
    rows = {r["name"]: r for r in json.loads(xp("exp", "show", "--xp-json", cwd=repo).stdout)}
    assert rows["b"]["status"] == "broken" and "xp exp remove b" in rows["b"]["errors"]["git"]
    assert rows["a"]["status"] == "success" and rows["a@2"]["kind"] == "checkpoint"
    tree_a = git(repo, "rev-parse", f"{exps(repo)['a']}^{{tree}}").strip()
    loose(repo, tree_a).unlink()
    rows = {r["name"]: r for r in json.loads(xp("exp", "show", "--xp-json", cwd=repo).stdout)}
    assert rows["a"]["status"] == "broken" and "xp exp remove a" in rows["a"]["errors"]["git"]
    assert "`xp exp remove a`" in one_line_error(xp("exp", "branch", "a", "x", cwd=repo, expect=2))


def test_git_gc_prune_now_beside_a_checkpointed_run_loses_nothing(gen, xp):
    repo = gen({**CHECKPOINTED, "params.yaml": "epochs: 6\ndelay: 0.3\n"})
    run = subprocess.Popen([sys.executable, "-m", "pyhelper", "exp", "run", "-n", "long"], cwd=repo,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env={**os.environ, **GIT_ENV})
    try:
        pruned = 0
        while run.poll() is None:
            gc = subprocess.run(["git", "gc", "--prune=now", "--quiet"], cwd=repo, capture_output=True, text=True)
            pruned += gc.returncode == 0
            time.sleep(0.2)
        out, err = run.communicate()
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == 0, err
    assert pruned >= 2, "gc ran while the run lived"
    git(repo, "gc", "--prune=now", "--quiet")
    git(repo, "fsck", "--no-dangling", "--connectivity-only")
    rows = {r["name"]: r for r in json.loads(xp("exp", "show", "--xp-json", cwd=repo).stdout)}
    assert rows["long"]["status"] == "success" and rows["long"]["step"] == 5
    assert [rows[f"long@{step}"]["kind"] for step in range(6)] == ["checkpoint"] * 6
    assert not rows["long"]["errors"]


def test_git_gc_waits_out_an_experiment_being_recorded_and_xp_waits_out_a_running_gc(gen):
    """xp holds git's own gc lock (`gc.pid`) while it writes an experiment: a `git gc` then refuses, and a gc
    that holds the lock first is waited for before xp writes anything."""
    import threading

    from pyhelper.core.experiments.save import gc_held
    from pyhelper.core.git.gitcore import open_repository
    from pyhelper.core.processes import hostname

    repo = gen(PROJECT)
    handle = open_repository(str(repo))
    with gc_held(handle), gc_held(handle):  # Nested holders of one process share it.
        assert (repo / ".git" / "gc.pid").read_text().split() == [str(os.getpid()), hostname()]
        gc = subprocess.run(["git", "gc", "--prune=now"], cwd=repo, capture_output=True, text=True)
        assert gc.returncode != 0 and "gc is already running" in gc.stderr, gc.stderr
    assert not (repo / ".git" / "gc.pid").exists(), "the lock is given back"
    assert subprocess.run(["git", "gc", "--prune=now", "--quiet"], cwd=repo).returncode == 0

    # A live process on this machine holds it (as a running `git gc` does): xp waits until it ends.
    holder = subprocess.Popen(["sleep", "60"])
    try:
        (repo / ".git" / "gc.pid").write_text(f"{holder.pid} {hostname()}")
        entered = threading.Event()

        def record() -> None:
            with gc_held(handle):
                entered.set()

        thread = threading.Thread(target=record, daemon=True)
        thread.start()
        assert not entered.wait(1.0), "xp wrote while a gc held the lock"
        holder.kill()
        holder.wait()
        assert entered.wait(60), "xp never wrote after the gc ended"
        thread.join(60)
    finally:
        holder.kill()
    # A stale lock (its process is gone) is not waited for: git does not wait for it either.
    (repo / ".git" / "gc.pid").write_text(f"{holder.pid} {hostname()}")
    with gc_held(handle):
        assert (repo / ".git" / "gc.pid").read_text().split()[0] == str(os.getpid())


def test_a_read_only_xp_dir_reads_and_refuses_writes_in_one_line(gen, xp, tmp_path):
    repo = gen(PROJECT)
    xp("exp", "run", "-n", "kept", "-S", "lr=0.2", cwd=repo)
    xp("exp", "run", "--queue", "-n", "waiting", "-S", "lr=0.6", cwd=repo)
    saved = tmp_path / "saved-xp"
    subprocess.run(["cp", "-a", str(repo / ".xp"), str(saved)], check=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(repo / ".xp")], capture_output=True, text=True)
    assert mounted.returncode == 0, f"this test needs a tmpfs (root, as CI runs): {mounted.stderr}"
    try:
        subprocess.run(["cp", "-a", f"{saved}/.", str(repo / ".xp")], check=True)
        subprocess.run(["mount", "-o", "remount,ro", str(repo / ".xp")], check=True)
        assert "lr=0.2" in xp("runs", "list", cwd=repo).stdout
        assert "waiting" in xp("queue", "status", cwd=repo).stdout
        shown = xp("exp", "show", cwd=repo)
        assert "kept" in shown.stdout and "waiting" in shown.stdout and not shown.stderr
        assert not xp("status", cwd=repo).stderr, "the stat index is read, never written, and nothing is said"
        assert "0.4" in xp("metrics", "show", cwd=repo).stdout
        for args in (("repro",), ("exp", "run", "-S", "lr=0.3"), ("exp", "run", "--queue", "-S", "lr=0.8"),
                     ("queue", "remove", "--all")):
            line = one_line_error(xp(*args, cwd=repo, expect=2))
            assert "read-only" in line.lower() or "readonly" in line, line
    finally:
        subprocess.run(["umount", str(repo / ".xp")], check=True)
