"""Faults the queue survives, each one made to really happen: kill -9, SIGTERM, races, broken files.

Invariants 2 and 3 of DESIGN.md: an experiment is recorded whole or not at all, a dead worker's
entry is reported (never "running" forever), and no entry runs twice.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time

import pytest

from pyhelper.core.queue.db import LEASE_SECONDS
from pyhelper.core.queue.worker import KILL_GRACE_SECONDS
from tests.conftest import GIT_ENV
from tests.test_queue import alive, queue_fixture, wait_until  # noqa: F401 (the `queue` fixture)

pytestmark = pytest.mark.timeout(90)

REAPED_WITHIN = LEASE_SECONDS + 5  # The lease runs out, then the next look at the queue reaps the entry.


def test_kill_9_of_a_worker_mid_run_fails_its_entry_as_worker_lost(queue):
    queue.enqueue("train.lr=0.1", "train.sleep=60", name="doomed")
    (pid,) = queue.start(jobs=1, idle=1)
    stage = queue.stage_pid("0.1")
    os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()
    queue.wait_for({"doomed": "failed"}, timeout=REAPED_WITHIN)
    assert time.monotonic() - killed <= REAPED_WITHIN
    entry = queue.entry("doomed")
    assert entry["error"] == "worker lost"
    assert "doomed" not in queue.exp_refs()  # Nothing half-recorded.
    wait_until(lambda: not alive(stage), 5, "the dead worker's stage to be stopped by the reaper")
    assert queue.status()["workers"] == []


def test_a_frozen_worker_loses_its_lease_and_cannot_record_afterwards(queue):
    queue.enqueue("train.lr=0.1", "train.sleep=60", name="frozen")
    (pid,) = queue.start(jobs=1, idle=30)
    stage = queue.stage_pid("0.1")
    os.kill(pid, signal.SIGSTOP)  # Alive but silent: only the lease can tell.
    try:
        stopped = time.monotonic()
        assert queue.statuses() == {"frozen": "running"}
        queue.wait_for({"frozen": "failed"}, timeout=REAPED_WITHIN)
        assert LEASE_SECONDS - 2 <= time.monotonic() - stopped <= REAPED_WITHIN
        wait_until(lambda: not alive(stage), 5, "the frozen worker's stage to be stopped by the reaper")
    finally:
        os.kill(pid, signal.SIGCONT)
    queue.xp("queue", "stop")
    wait_until(lambda: not alive(pid), 15, "the thawed worker to exit")
    entry = queue.entry("frozen")
    assert entry["status"] == "failed" and entry["error"] == "worker lost"  # Its late outcome was not written.
    assert queue.exp_refs() == {}


def test_kill_9_of_a_worker_with_retries_runs_the_entry_again_exactly_once(queue):
    queue.enqueue("train.lr=0.1", name="again", extra=("--retries", "1"))
    queue.enqueue("train.lr=0.2", name="next")
    (pid,) = queue.start(jobs=1, idle=1, env={"XP_TEST_SLOW": "60"})  # This worker's stages hang.
    first = queue.stage_pid("0.1")
    os.kill(pid, signal.SIGKILL)
    queue.start(jobs=1, idle=1)  # A healthy worker runs the next one, waits to reap the lost entry, runs it.
    queue.wait_for({"again": "success", "next": "success"}, timeout=REAPED_WITHIN + 15)
    assert not alive(first)  # The orphaned stage was killed, so it cannot finish beside the retry.
    assert sorted(queue.starts()) == ["0.1", "0.1", "0.2"]
    assert sorted(lr for _, lr, _, _ in queue.events("end")) == ["0.1", "0.2"]
    entry = queue.entry("again")
    assert entry["attempts"] == 2
    assert queue.exp_refs()["again"] == entry["experimentRev"]
    assert "worker lost; retrying" in _events(queue, entry["id"])


def _events(queue, entry_id: str) -> str:
    from pyhelper.core.project import Project
    from pyhelper.core.queue.db import QueueDb

    db = QueueDb(Project(queue.repo))
    try:
        return " | ".join(f"{status}: {detail}" for _, _, entry, status, detail in db.events_since(0)
                          if entry == entry_id)
    finally:
        db.close()


def test_kill_9_of_the_stage_only_fails_the_entry_and_the_queue_moves_on(queue):
    queue.enqueue("train.lr=0.1", "train.sleep=60", name="victim")
    queue.enqueue("train.lr=0.2", name="after")
    queue.start(jobs=1, idle=1)
    os.kill(queue.stage_pid("0.1"), signal.SIGKILL)
    queue.wait_for({"victim": "failed", "after": "success"})
    entry = queue.entry("victim")
    assert entry["exitCode"] in (-9, 137)
    assert entry["error"].startswith("stage 'train' exited with code")
    assert "victim" not in queue.exp_refs() and "after" in queue.exp_refs()


def test_sigterm_to_a_worker_stops_its_stage_and_gives_the_entry_back(queue):
    queue.enqueue("train.lr=0.1", "train.sleep=60", "train.mode=trap", name="interrupted")
    queue.enqueue("train.lr=0.2", name="untouched")
    (pid,) = queue.start(jobs=1, idle=30)
    stage = queue.stage_pid("0.1")
    os.kill(pid, signal.SIGTERM)
    wait_until(lambda: not alive(pid), 10, "the worker to exit after SIGTERM")
    assert not alive(stage)
    assert [e for e, lr, _, _ in queue.events()] == ["start", "sigterm"]  # The stage got SIGTERM first.
    entry = queue.entry("interrupted")
    assert entry["status"] == "failed" and "worker was stopped" in entry["error"]
    assert queue.statuses()["untouched"] == "queued"  # The worker did not take another entry.
    assert queue.workspaces() == [] and queue.exp_refs() == {}
    assert queue.status()["workers"] == []


def test_sigterm_to_run_all_stops_the_workers_it_started(queue):
    queue.enqueue("train.lr=0.1", "train.sleep=60", "train.mode=trap", name="watched")
    queue.enqueue("train.lr=0.2", name="waiting")
    run_all = subprocess.Popen([sys.executable, "-m", "pyhelper", "exp", "run", "--run-all", "-j", "1"],
                               cwd=queue.repo, env={**os.environ, **GIT_ENV}, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        queue.stage_pid("0.1")
        queue.pids.update(w["pid"] for w in queue.status()["workers"])
        run_all.send_signal(signal.SIGTERM)
        _, err = run_all.communicate(timeout=KILL_GRACE_SECONDS + 10)
    finally:
        if run_all.poll() is None:
            run_all.kill()
    assert run_all.returncode == 130
    assert "Interrupted: stopped 1 worker(s)" in err
    assert ("sigterm", "0.1") in [(e, lr) for e, lr, _, _ in queue.events()]
    assert queue.statuses() == {"watched": "failed", "waiting": "queued"}
    assert queue.status()["workers"] == [] and queue.workspaces() == []


def test_two_queue_starts_at_once_never_run_an_entry_twice(queue):
    lrs = [f"0.{i}" for i in range(1, 9)]
    queue.enqueue(f"train.lr={','.join(lrs)}", "train.sleep=0.2", name="race")
    env = {**os.environ, **GIT_ENV}
    command = [sys.executable, "-m", "pyhelper", "queue", "start", "-j", "2", "--idle", "1", "--json"]
    starters = [subprocess.Popen(command, cwd=queue.repo, stdout=subprocess.PIPE, text=True, env=env)
                for _ in range(2)]
    for starter in starters:
        out, _ = starter.communicate(timeout=30)
        queue.pids.update(json.loads(out)["pids"])
    queue.wait_for({f"race-{i}": "success" for i in range(1, 9)}, timeout=40)
    assert sorted(queue.starts()) == lrs
    assert all(e["attempts"] == 1 for e in queue.status()["entries"])
    assert len({e["worker"] for e in queue.status()["entries"]}) > 1  # Several workers shared the work.


def test_a_failing_stage_fails_its_entry_with_exit_code_and_log_tail_and_the_next_runs(queue):
    queue.enqueue("train.lr=0.1", "train.mode=fail", name="broken")
    queue.enqueue("train.lr=0.2", name="fine")
    out = queue.xp("exp", "run", "--run-all", "-j", "1", expect=1).stdout
    assert "1 succeeded, 1 failed" in out
    assert "failed: broken: stage 'train' exited with code 3: boom: the loss diverged" in out
    entry = queue.entry("broken")
    assert entry["status"] == "failed" and entry["exitCode"] == 3
    assert "boom: the loss diverged" in queue.xp("queue", "logs", "broken").stdout
    assert queue.statuses()["fine"] == "success"
    assert "broken" not in queue.exp_refs()


def test_kill_of_a_queued_entry_cancels_it_and_it_never_runs(queue):
    queue.enqueue("train.lr=0.1,0.2", name="k")
    assert json.loads(queue.xp("queue", "kill", "k-2", "--json").stdout)[0]["was"] == "queued"
    queue.xp("exp", "run", "--run-all", "-j", "1")
    assert queue.statuses() == {"k-1": "success", "k-2": "cancelled"}
    assert queue.starts() == ["0.1"]
    assert "already finished" in queue.xp("queue", "kill", "k-2", expect=2).stderr


def test_kill_of_a_running_entry_sends_sigterm_to_its_process_group(queue):
    queue.enqueue("train.lr=0.1", "train.sleep=60", "train.mode=trap", name="polite")
    queue.enqueue("train.lr=0.2", "train.sleep=60", name="forced")
    queue.enqueue("train.lr=0.3", name="then")
    queue.start(jobs=1, idle=1)
    queue.stage_pid("0.1")
    assert "polite: stopping" in queue.xp("queue", "kill", "polite").stdout
    queue.wait_for({"polite": "cancelled"}, timeout=10)
    assert ("sigterm", "0.1") in [(e, lr) for e, lr, _, _ in queue.events()]
    assert queue.entry("polite")["exitCode"] in (143, -15)

    forced = queue.stage_pid("0.2")
    started = time.monotonic()
    assert "forced: killing" in queue.xp("queue", "kill", "forced", "--force").stdout
    queue.wait_for({"forced": "cancelled", "then": "success"}, timeout=15)
    assert time.monotonic() - started < KILL_GRACE_SECONDS  # SIGKILL at once, no grace period.
    assert queue.entry("forced")["exitCode"] in (-9, 137) and not alive(forced)
    assert set(queue.exp_refs()) == {"then"}


def test_kill_escalates_to_sigkill_when_the_stage_ignores_sigterm(queue):
    queue.enqueue("train.lr=0.1", "train.sleep=60", "train.mode=ignore_term", name="stubborn")
    queue.start(jobs=1, idle=1)
    stage = queue.stage_pid("0.1")
    queue.xp("queue", "kill", "stubborn")
    killed = time.monotonic()
    queue.wait_for({"stubborn": "cancelled"}, timeout=KILL_GRACE_SECONDS + 10)
    assert ("sigterm-ignored", "0.1") in [(e, lr) for e, lr, _, _ in queue.events()]
    assert not alive(stage)  # Marked cancelled only once the whole process group is gone.
    assert time.monotonic() - killed >= KILL_GRACE_SECONDS - 1.5  # It had its grace period first.


def test_a_deleted_database_means_an_empty_queue_and_the_refs_still_tell(queue):
    queue.enqueue("train.lr=0.1", "train.sleep=1.5", name="recorded")
    queue.enqueue("train.lr=0.2,0.3", name="lost")
    (pid,) = queue.start(jobs=1, idle=30)
    queue.wait_for({"recorded": "running"})
    for suffix in ("", "-wal", "-shm"):
        (queue.repo / ".xp" / f"queue.db{suffix}").unlink(missing_ok=True)
    out = queue.xp("queue", "status").stdout
    assert "The queue is empty." in out
    assert len(queue.queue_refs()) == 3  # What was queued is still in git.
    # The worker finishes what it runs (the experiment is recorded), sees its database is gone, exits.
    wait_until(lambda: not alive(pid), 15, "the worker to exit once its database file was deleted")
    assert "recorded" in queue.exp_refs()
    assert queue.starts() == ["0.1"]
    queue.enqueue("train.lr=0.4", name="fresh")  # The new, empty queue works.
    queue.xp("exp", "run", "--run-all", "-j", "1")
    assert queue.statuses() == {"fresh": "success"}


@pytest.mark.parametrize("damage", ["garbage", "malformed"])
def test_a_corrupt_database_gives_one_clear_line_on_every_queue_command(queue, damage):
    queue.enqueue("train.lr=0.1,0.2", name="c")
    db = queue.repo / ".xp" / "queue.db"
    queue.xp("queue", "status")  # Checkpoints the WAL into the file, so damage to the file is seen.
    for suffix in ("-wal", "-shm"):
        (queue.repo / ".xp" / f"queue.db{suffix}").unlink(missing_ok=True)
    if damage == "garbage":
        db.write_bytes(b"this is not a database\n" * 200)
    else:
        data = bytearray(db.read_bytes())
        data[4096:8192] = b"\xff" * 4096  # A page of the table, not the header.
        db.write_bytes(bytes(data))
    refs = queue.queue_refs()
    commands = [
        ("queue", "status"), ("queue", "status", "--json"), ("queue", "logs", "c-1"), ("queue", "kill", "c-1"),
        ("queue", "stop"), ("queue", "remove", "--all"), ("queue", "retry", "c-1"), ("queue", "start", "-j", "1"),
        ("exp", "run", "--queue", "-S", "train.lr=0.7"), ("exp", "run", "--run-all"),
    ]
    for args in commands:
        result = queue.xp(*args, expect=2)
        assert result.stderr.count("\n") == 1, (args, result.stderr)
        assert str(db) in result.stderr and "move it away" in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
    assert queue.queue_refs() == refs  # Nothing was queued.
    assert not (queue.repo / ".xp" / "logs" / "workers.log").exists()  # No worker was started.


def test_disk_full_in_a_stage_fails_its_entry_cleanly(queue):
    queue.enqueue("train.lr=0.1", "train.mode=enospc", name="full")
    queue.enqueue("train.lr=0.2", name="roomy")
    queue.xp("exp", "run", "--run-all", "-j", "1", expect=1)
    assert queue.statuses() == {"full": "failed", "roomy": "success"}
    assert "No space left on device" in queue.xp("queue", "logs", "full").stdout
    assert set(queue.exp_refs()) == {"roomy"}
    assert queue.workspaces() == []


def test_a_write_error_while_xp_caches_outputs_fails_the_entry_cleanly(queue):
    """The worker may write at most 1 MB per file (RLIMIT_FSIZE, as a full disk would stop it); the
    stage lifts the limit for itself and writes a 3 MB output, which xp then fails to copy into the cache."""
    queue.enqueue("train.lr=0.1", "train.big=3000000", name="huge")
    queue.enqueue("train.lr=0.2", name="small")
    limit = 1_000_000

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))

    worker = subprocess.Popen([sys.executable, "-m", "pyhelper", "queue", "worker", "--idle", "1"], cwd=queue.repo,
                              env={**os.environ, **GIT_ENV}, preexec_fn=small_files,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    queue.pids.add(worker.pid)
    try:
        queue.wait_for({"huge": "failed", "small": "success"}, timeout=30)
    finally:
        worker.wait(timeout=15)
    entry = queue.entry("huge")
    assert "File too large" in entry["error"] or "No space" in entry["error"], entry["error"]
    assert set(queue.exp_refs()) == {"small"}
    cache = queue.repo / ".xp" / "cache"
    assert all(p.stat().st_size < limit for p in cache.rglob("*") if p.is_file())  # No half-written object.
    assert queue.workspaces() == []
