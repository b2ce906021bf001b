"""Remote runs on the Redis queue beyond the basics: checkpoints and outputs coming home, a network cut
that must not run a stage twice, the hard stop, recovering lost entries and `--run-all`.

Real parts only: our own redis-server, a bare git remote, `xp queue worker` processes in folders of
their own, a TCP proxy process standing for the network between one worker and Redis. Every wait is
bounded.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from pyhelper.core.queue.remote_worker import KILL_GRACE_SECONDS, LEASE_SECONDS
from tests.conftest import git
from tests.redis_fixtures import TcpProxy, cluster_fixture, horse_of, make_cluster, redis_server_fixture  # noqa: F401 (fixtures)
from tests.test_checkpoints import PROJECT as CHECKPOINTING
from tests.test_queue import alive, wait_until

pytestmark = pytest.mark.timeout(150)


@pytest.fixture(name="ck_cluster")
def ck_cluster_fixture(gen, tmp_path, monkeypatch, redis_server):
    """A cluster whose project's stage makes a checkpoint per epoch (pyhelper.live) into a persisted model."""
    c = make_cluster(gen, tmp_path, monkeypatch, redis_server, CHECKPOINTING)
    yield c
    c.cleanup()


def remote_subjects(cluster, name: str) -> list[str]:
    """Subjects of the experiment's commits on the remote, newest first, down to (not including) main."""
    tip = cluster.remote_exps().get(name)
    if tip is None:
        return []
    out = git(Path(cluster.remote), "log", "--first-parent", "--format=%s", f"main..{tip}")
    return out.splitlines()


def show(cluster, *args: str) -> list[dict]:
    return json.loads(cluster.xp("exp", "show", "--xp-json", *args).stdout)


def test_a_remote_run_s_checkpoints_and_outputs_come_home(ck_cluster):
    c = ck_cluster
    c.worker("a")
    c.enqueue("epochs=3", name="ck")
    c.wait_for({"ck": "success"}, timeout=60)
    # Each checkpoint was pushed as it was made; the experiment continues the chain.
    assert remote_subjects(c, "ck") == ["xp: experiment ck", "xp: checkpoint ck@2", "xp: checkpoint ck@1",
                                        "xp: checkpoint ck@0"]
    log = c.xp("queue", "logs", "ck").stdout
    assert "# checkpoint ck@1" in log and f"pushed to {c.remote}" in log
    pulled = c.xp("exp", "pull", c.remote).stdout
    assert "Copied" in pulled and "output object(s) from the shared cache dir" in pulled
    rows = show(c)
    experiment = next(r for r in rows if r["name"] == "ck")
    assert experiment["status"] == "success" and experiment["step"] == 2
    assert [r["step"] for r in rows if r["kind"] == "checkpoint"] == [2, 1, 0]
    # The outputs came home with it: applying the remote experiment restores its model here.
    assert not (c.project / "model.bin").exists()
    c.xp("exp", "apply", "ck")
    assert (c.project / "model.bin").read_text().split()[0] == "3"
    c.xp("exp", "apply", "ck@0")  # A checkpoint's persisted output too.
    assert (c.project / "model.bin").read_text().split()[0] == "1"


@pytest.mark.asyncio
async def test_a_pull_from_the_editor_brings_the_outputs_home_as_the_cli_does(ck_cluster):
    from pyhelper.server import protocol as p
    from tests.lsp_client import request, started

    c = ck_cluster
    c.worker("a")
    c.enqueue("epochs=2", name="ed")
    c.wait_for({"ed": "success"}, timeout=60)
    async with started(c.project) as client:
        pulled = await request(client, p.PULL_EXPERIMENTS, p.SyncExperimentsParams(remote=c.remote))
    assert pulled.names == ["ed"]
    assert not (c.project / "model.bin").exists()
    c.xp("exp", "apply", "ed")  # Its model came home with it: no "no longer in the cache".
    assert (c.project / "model.bin").read_text().split()[0] == "2"


def test_outputs_travel_through_the_projects_remote_storage_without_a_shared_cache_dir(ck_cluster, tmp_path):
    """A worker on another machine (no shared disk) pushes the run's outputs to the project's remote storage;
    the laptop's `exp pull` fetches them, and `exp apply` restores the model and a checkpoint's state."""
    c = ck_cluster
    c.xp("remote", "add", "-d", "storage", str(tmp_path / "storage"))
    git(c.project, "add", "-A")
    git(c.project, "commit", "-qm", "remote storage")
    c.worker("far", shared_cache=False)
    c.enqueue("epochs=2", name="far")
    c.wait_for({"far": "success"}, timeout=90)
    assert "pushed to remote storage 'storage'" in c.xp("queue", "logs", "far").stdout
    assert not [p for p in Path(c.cache).rglob("*") if p.is_file()], "nothing went through a shared cache dir"
    pulled = c.xp("exp", "pull", c.remote).stdout
    assert "fetched from remote 'storage'" in pulled, pulled
    c.xp("exp", "apply", "far")
    assert (c.project / "model.bin").read_text().split()[0] == "2"
    c.xp("exp", "apply", "far@0")  # A checkpoint's persisted state came too.
    assert (c.project / "model.bin").read_text().split()[0] == "1"


def test_a_remote_run_killed_mid_way_keeps_its_checkpoints(ck_cluster):
    c = ck_cluster
    doomed = c.worker("doomed")
    c.enqueue("epochs=50", "delay=0.3", name="cut")
    wait_until(lambda: len(remote_subjects(c, "cut")) >= 2, 40, "two checkpoints on the remote")
    c.xp("exp", "pull", c.remote)  # Mid-run, the chain so far comes home; its entry says it is running.
    running = next(r for r in show(c) if r["name"] == "cut")
    assert running["status"] == "running" and running["step"] >= 1
    os.killpg(doomed.pid, signal.SIGKILL)  # The machine is lost mid-run.
    doomed.wait(5)
    c.worker("other")  # Its maintenance notices the lapsed lease (no retries: the entry fails).
    c.wait_for({"cut": "failed"}, timeout=LEASE_SECONDS + 30)
    assert c.entries()["cut"].error == "worker lost"
    subjects = remote_subjects(c, "cut")
    steps = [int(s.rsplit("@", 1)[1]) for s in subjects]
    assert all(s.startswith("xp: checkpoint cut@") for s in subjects) and steps == list(range(steps[0], -1, -1))
    c.xp("exp", "pull", c.remote)
    experiment = next(r for r in show(c) if r["name"] == "cut")
    assert experiment["status"] == "failed" and experiment["step"] == steps[0]
    assert f"failed at step {steps[0]}" in c.xp("exp", "show").stdout
    # Applying its newest checkpoint brings back the model of that step.
    c.xp("exp", "apply", f"cut@{steps[0]}")
    assert (c.project / "model.bin").read_text().split()[0] == str(steps[0] + 1)


def test_a_worker_cut_off_redis_stops_its_stage_and_the_retry_records_once(cluster, redis_server):
    proxy = TcpProxy(redis_server)
    try:
        cluster.worker("far", url=proxy.url)  # This machine reaches Redis only through the proxy.
        cluster.enqueue("train.lr=0.77", "train.mode=trap", "train.sleep=12", name="split",
                        extra=("--retries", "1"))
        first = cluster.stage_pid("0.77")
        cluster.worker("near")
        proxy.cut()
        cut_at = time.time()
        # The far worker cannot renew its lease: its stage is stopped before the lease lapses, so the
        # retry on the near worker never runs beside it.
        wait_until(lambda: not alive(first), LEASE_SECONDS, "the cut-off worker's stage to stop")
        cluster.wait_for({"split": "success"}, timeout=LEASE_SECONDS + 45)
    finally:
        proxy.cut()
    starts = [(pid, at) for lr, pid, at in _timed(cluster, "start") if lr == "0.77"]
    assert [pid for pid, _ in starts][0] == first and len(starts) == 2
    stopped = [at for lr, pid, at in _timed(cluster, "sigterm") if pid == first]
    assert stopped and stopped[0] - cut_at < LEASE_SECONDS and stopped[0] < starts[1][1], \
        "the first stage was stopped before the retry started"
    assert [lr for lr, _ in cluster.events("end")] == ["0.77"]  # It ran to its end exactly once.
    assert list(cluster.remote_exps()) == ["split"]
    entry = cluster.entries()["split"]
    assert entry.attempts == 2 and entry.exp_rev == cluster.remote_exps()["split"]
    assert f"xp-queue-entry: {entry.id}" in git(Path(cluster.remote), "log", "-1", "--format=%B", entry.exp_rev)


def _timed(cluster, kind: str) -> list[tuple[str, int, float]]:
    """The stage's side-channel lines of this kind with their times: (lr, pid, epoch seconds)."""
    rows = [line.split() for line in cluster.log.read_text().splitlines() if line.strip()]
    return [(r[1], int(r[2]), float(r[3])) for r in rows if r[0] == kind]


def test_a_stage_ignoring_sigterm_is_killed_and_a_hung_horse_is_stopped_by_rq(cluster):
    worker = cluster.worker("a")
    cluster.enqueue("train.lr=0.88", "train.mode=ignore_term", "train.sleep=60", name="stubborn")
    stage = cluster.stage_pid("0.88")
    begun = time.monotonic()
    assert "stubborn: stopping" in cluster.xp("queue", "kill", "stubborn").stdout
    wait_until(lambda: not alive(stage), KILL_GRACE_SECONDS + 5, "SIGKILL after the grace")
    assert time.monotonic() - begun >= KILL_GRACE_SECONDS - 0.5  # SIGTERM first, ignored, then the grace ran out.
    assert [lr for lr, _ in cluster.events("sigterm-ignored")] == ["0.88"]
    cluster.wait_for({"stubborn": "cancelled"}, timeout=10)
    # A work horse that no longer answers (frozen here) cannot carry out the cancel flag: RQ's stop-job
    # command is the hard stop; it kills the horse and the stage's process group.
    cluster.enqueue("train.lr=0.89", "train.mode=ignore_term", "train.sleep=60", name="hung")
    stage = cluster.stage_pid("0.89")
    horse = horse_of(worker.pid, stage)
    os.kill(horse, signal.SIGSTOP)
    killed = cluster.xp("queue", "kill", "hung", timeout=60)
    assert "stopped with RQ's stop-job command" in killed.stderr
    wait_until(lambda: not alive(stage) and not alive(horse), 10, "RQ to stop the hung run")
    assert cluster.events("sigterm-ignored") == [("0.88", cluster.events("sigterm-ignored")[0][1])]
    entry = cluster.entries()["hung"]
    assert entry.status == "cancelled" and entry.error == "cancelled (stopped by RQ)"
    # The worker itself goes on with the next entry.
    cluster.enqueue("train.lr=0.9", name="after")
    cluster.wait_for({"after": "success"}, timeout=30)
    assert cluster.remote_exps().keys() == {"after"}


def test_run_all_runs_what_is_queued_with_progress_and_brings_it_home(cluster):
    cluster.enqueue("train.lr=0.31,0.32,0.33", name="all")
    result = cluster.xp("exp", "run", "--run-all", "-j", "2", timeout=90)
    assert "Queue done in" in result.stdout and "3 succeeded, 0 failed" in result.stdout
    assert "3/3 done (0 failed)" in result.stderr  # Plain progress lines when not on a terminal.
    assert "Fetched 3 experiment(s)" in result.stdout
    assert sorted(lr for lr, _ in cluster.events("end")) == ["0.31", "0.32", "0.33"]
    local = git(cluster.project, "for-each-ref", "--format=%(refname)", "refs/exps/").split()
    assert sorted(ref.rsplit("/", 1)[1] for ref in local) == ["all-1", "all-2", "all-3"]
    # The workers it started are gone; with nothing queued and no worker, it says so and ends at once.
    wait_until(lambda: json.loads(cluster.xp("queue", "status", "--json").stdout)["workers"] == [], 20,
               "the run-all workers to exit")
    cluster.enqueue("train.lr=0.34", name="stranded")
    began = time.monotonic()
    stranded = cluster.xp("exp", "run", "--run-all", "-j", "0", expect=1, timeout=60)
    assert "1 not finished: no worker is left" in stranded.stdout and time.monotonic() - began < 30


def test_recover_rebuilds_the_entries_redis_lost_from_the_remote(cluster):
    cluster.worker("a")
    cluster.enqueue("train.lr=0.41", name="finished")
    cluster.wait_for({"finished": "success"}, timeout=30)
    os.killpg(cluster.workers[0].pid, signal.SIGTERM)
    cluster.workers[0].wait(15)
    cluster.enqueue("train.lr=0.42,0.43", name="pending")
    queue = cluster.queue()
    queue.redis.flushall()  # Redis lost everything (a restart without its append-only file).
    queue.close()
    assert "is empty" in cluster.xp("queue", "status").stdout
    dry = cluster.xp("queue", "recover", "--dry").stdout
    assert "Would recover 3 entries" in dry and cluster.entries() == {}
    out = cluster.xp("queue", "recover").stdout
    assert "Recovered 3 entries from git (2 to run" in out
    assert cluster.statuses() == {"finished": "success", "pending-1": "queued", "pending-2": "queued"}
    assert cluster.entries()["finished"].exp_rev == cluster.remote_exps()["finished"]
    assert "Nothing to recover: the queue knows every queued commit (3)" in cluster.xp("queue", "recover").stdout
    cluster.worker("b")
    cluster.wait_for({"pending-1": "success", "pending-2": "success"}, timeout=45)
    assert sorted(lr for lr, _ in cluster.events("end")) == ["0.41", "0.42", "0.43"]  # The finished one ran once.
    assert set(cluster.remote_exps()) == {"finished", "pending-1", "pending-2"}


def test_a_retry_after_a_lost_machine_starts_the_checkpoint_chain_over(ck_cluster):
    c = ck_cluster
    doomed = c.worker("doomed")
    (entry,) = c.enqueue("epochs=4", "delay=0.6", name="again", extra=("--retries", "1"))
    wait_until(lambda: len(remote_subjects(c, "again")) >= 2, 40, "two checkpoints on the remote")
    earlier = c.remote_exps()["again"]
    os.killpg(doomed.pid, signal.SIGKILL)
    doomed.wait(5)
    c.worker("healthy")
    c.wait_for({"again": "success"}, timeout=LEASE_SECONDS + 60)
    # The retry's chain replaced the lost run's checkpoints (one chain, every step once, all of run 2).
    assert remote_subjects(c, "again") == ["xp: experiment again"] + [f"xp: checkpoint again@{s}" for s in (3, 2, 1, 0)]
    tip = c.remote_exps()["again"]
    runs = {json.loads(git(Path(c.remote), "log", "-1", "--format=%B", f"{tip}~{n}").split("xp-checkpoint: ")[1]
                       .splitlines()[0])["run"] for n in range(1, 5)}
    assert runs == {f"{entry['id']}.2"}
    replaced = subprocess.run(["git", "merge-base", "--is-ancestor", earlier, tip], cwd=c.remote)
    assert replaced.returncode == 1, "the lost run's checkpoints are no longer under the experiment"
    c.xp("exp", "pull", c.remote)
    c.xp("exp", "apply", "again")
    assert (c.project / "model.bin").read_text().split()[0] == "4"


def test_a_stalled_worker_s_run_gives_up_its_lease_and_runs_once_elsewhere(cluster):
    stalled = cluster.worker("stalled")
    cluster.enqueue("train.lr=0.66", "train.mode=trap", "train.sleep=15", name="stall", extra=("--retries", "1"))
    first = cluster.stage_pid("0.66")
    cluster.worker("fine")
    os.kill(stalled.pid, signal.SIGSTOP)  # The worker stops renewing the lease; Redis is still reachable.
    try:
        wait_until(lambda: not alive(first), LEASE_SECONDS, "the stalled worker's stage to stop")
        cluster.wait_for({"stall": "success"}, timeout=LEASE_SECONDS + 45)
    finally:
        os.kill(stalled.pid, signal.SIGCONT)
    starts = [(pid, at) for lr, pid, at in _timed(cluster, "start") if lr == "0.66"]
    stopped = [at for _, pid, at in _timed(cluster, "sigterm") if pid == first]
    assert len(starts) == 2 and stopped and stopped[0] < starts[1][1]
    assert [lr for lr, _ in cluster.events("end")] == ["0.66"]
    assert list(cluster.remote_exps()) == ["stall"] and cluster.entries()["stall"].attempts == 2
    assert "# worker lost; retrying" in cluster.xp("queue", "logs", "stall").stdout


@pytest.mark.asyncio
async def test_kill_from_the_editor_stops_a_hung_run_with_rq_too(cluster):
    """XP's Kill in VS Code goes as far as `xp queue kill`: a run whose work horse is frozen is stopped by RQ."""
    from pyhelper.server import protocol as p
    from tests.lsp_client import request, started

    worker = cluster.worker("a")
    cluster.enqueue("train.lr=0.97", "train.mode=ignore_term", "train.sleep=60", name="frozen")
    stage = cluster.stage_pid("0.97")
    horse = horse_of(worker.pid, stage)
    os.kill(horse, signal.SIGSTOP)
    async with started(cluster.project) as client:
        began = time.monotonic()
        killed = await request(client, p.KILL_QUEUE_ENTRIES, p.KillQueueEntriesParams(names=["frozen"]))
        assert killed.names == ["frozen"] and time.monotonic() - began < 3  # It answers at once; RQ acts later.
        wait_until(lambda: not alive(stage) and not alive(horse), KILL_GRACE_SECONDS + 15, "RQ to stop the frozen run")
    entry = cluster.entries()["frozen"]
    assert entry.status == "cancelled" and entry.error == "cancelled (stopped by RQ)"
