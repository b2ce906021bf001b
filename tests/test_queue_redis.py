"""The queue on RQ and Redis, with real parts: our own redis-server, a bare git remote as the shared
remote, `xp queue worker --backend …` processes in folders of their own, and the real `xp` command.

These tests FAIL (never skip) when redis-server is missing: `make test` installs it
(scripts/redis-setup.sh). Every wait is bounded.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from pyhelper.core.credentials import redact
from pyhelper.core.queue.redis_backend import JOB_FUNCTION, entry_key
from pyhelper.core.queue.remote_worker import LEASE_SECONDS
from tests.conftest import git
from tests.redis_fixtures import cluster_fixture, free_port, redis_server_fixture  # noqa: F401 (fixtures)
from tests.test_queue import alive, run_xp, wait_until

pytestmark = pytest.mark.timeout(120)


def _params_of(repo: Path, commit: str) -> str:
    return git(repo, "show", f"{commit}:params.yaml")


def test_a_sweep_of_6_runs_on_two_workers_and_comes_home_with_exp_pull(cluster):
    first, second = cluster.worker("a"), cluster.worker("b")
    lrs = ["0.1", "0.2", "0.3", "0.4", "0.5", "0.6"]
    entries = cluster.enqueue(f"train.lr={','.join(lrs)}", "train.sleep=0.6", name="sweep")
    assert len(entries) == 6
    # Queuing pushed every entry's commit to the shared remote under its queue ref.
    remote_queue = git(Path(cluster.remote), "for-each-ref", "--format=%(refname) %(objectname)", "refs/xp/queue/")
    assert {line.split()[1] for line in remote_queue.splitlines()} == {e["rev"] for e in entries}
    done = cluster.wait_for({f"sweep-{i}": "success" for i in range(1, 7)}, timeout=60)
    assert len(done) == 6
    found = cluster.entries()
    assert len({e.worker for e in found.values()}) == 2, "both workers should have taken entries"
    assert all(e.attempts == 1 for e in found.values())
    assert sorted(lr for lr, _ in cluster.events("end")) == lrs  # Each ran exactly once.
    # Results come home through the remote; each carries its entry's trailer and its params.
    assert set(cluster.remote_exps()) == {f"sweep-{i}" for i in range(1, 7)}
    cluster.xp("exp", "pull", cluster.remote)
    local = git(cluster.project, "for-each-ref", "--format=%(refname) %(objectname)", "refs/exps/")
    refs = {line.split()[0].rsplit("/", 1)[1]: line.split()[1] for line in local.splitlines()}
    assert set(refs) == {f"sweep-{i}" for i in range(1, 7)}
    for entry in entries:
        commit = refs[entry["name"]]
        assert f"xp-queue-entry: {entry['id']}" in git(cluster.project, "log", "-1", "--format=%B", commit)
        lr = entry["params"][0].split("=")[1]
        assert f"lr: {lr}" in _params_of(cluster.project, commit)
        assert git(cluster.project, "show", f"{commit}:metrics.json").strip() == json.dumps({"acc": float(lr)})
    # Status and logs show remote runs like local ones.
    status = json.loads(cluster.xp("queue", "status", "--json").stdout)
    assert {e["name"]: e["status"] for e in status["entries"]} == {f"sweep-{i}": "success" for i in range(1, 7)}
    assert len(status["workers"]) == 2
    log = cluster.xp("queue", "logs", "sweep-3").stdout
    assert "training lr=0.3" in log and "# recorded experiment 'sweep-3'" in log
    # The cached output went to the shared cache folder.
    assert any(p.is_file() for p in Path(cluster.cache).rglob("*"))
    assert first.poll() is None and second.poll() is None


def test_kill_9_of_a_worker_mid_stage_retries_on_the_other_and_records_once(cluster):
    doomed = cluster.worker("doomed")
    (entry,) = cluster.enqueue("train.lr=0.7", "train.sleep=4", name="survivor", extra=("--retries", "1"))
    stage = cluster.stage_pid("0.7")
    cluster.worker("healthy")
    os.killpg(doomed.pid, signal.SIGKILL)  # The worker and its work horse, as a machine that dies.
    doomed.wait(5)
    killed = time.monotonic()
    wait_until(lambda: not alive(stage), 5, "the dead worker's stage to stop")
    cluster.wait_for({"survivor": "success"}, timeout=LEASE_SECONDS + 30)
    assert time.monotonic() - killed < LEASE_SECONDS + 30
    assert [lr for lr, _ in cluster.events("start")] == ["0.7", "0.7"]
    assert [lr for lr, _ in cluster.events("end")] == ["0.7"]
    found = cluster.entries()["survivor"]
    assert found.attempts == 2 and found.status == "success"
    assert cluster.remote_exps() == {"survivor": found.exp_rev}  # Exactly one experiment ref.
    log = cluster.xp("queue", "logs", "survivor").stdout
    assert "# worker lost; retrying" in log and "(attempt 2 on" in log


def test_a_lost_worker_without_retries_fails_its_entry_as_worker_lost(cluster):
    doomed = cluster.worker("doomed")
    cluster.enqueue("train.lr=0.8", "train.sleep=60", name="lost")
    stage = cluster.stage_pid("0.8")
    cluster.worker("healthy")
    os.killpg(doomed.pid, signal.SIGKILL)
    doomed.wait(5)
    cluster.wait_for({"lost": "failed"}, timeout=LEASE_SECONDS + 30)
    assert cluster.entries()["lost"].error == "worker lost"
    assert not alive(stage)
    assert cluster.remote_exps() == {}


def test_cancel_stops_a_running_remote_entry(cluster):
    cluster.worker("a")
    cluster.enqueue("train.lr=0.9", "train.mode=trap", "train.sleep=60", name="stopme")
    stage = cluster.stage_pid("0.9")
    rows = json.loads(cluster.xp("exp", "show", "--xp-json").stdout)  # The experiments table shows it as local ones.
    assert ("stopme", "running") in [(r["name"], r["kind"]) for r in rows]
    out = cluster.xp("queue", "kill", "stopme").stdout
    assert "stopme: stopping" in out
    cluster.wait_for({"stopme": "cancelled"}, timeout=15)
    wait_until(lambda: not alive(stage), 5, "the cancelled stage to exit")
    assert [lr for lr, _ in cluster.events("sigterm")] == ["0.9"]  # SIGTERM first, as promised.
    assert cluster.remote_exps() == {}
    # A queued entry is cancelled at once and never runs.
    cluster.enqueue("train.lr=0.95", "train.sleep=60", name="blocker")
    cluster.stage_pid("0.95")
    cluster.enqueue("train.lr=0.96", name="never")
    cluster.xp("queue", "kill", "never")
    cluster.xp("queue", "kill", "--force", "blocker")
    cluster.wait_for({"blocker": "cancelled", "never": "cancelled"}, timeout=15)
    time.sleep(1)
    assert "0.96" not in [lr for lr, _ in cluster.events("start")]


def test_redis_unreachable_is_one_clear_line_and_nothing_is_queued(gen, tmp_path, xp):
    from tests.test_queue import PIPELINE

    repo = gen(PIPELINE)
    url = f"redis://127.0.0.1:{free_port()}/0"
    bad = xp("queue", "start", "--backend", url, "--remote", str(tmp_path / "r.git"), cwd=repo, expect=2)
    assert url in bad.stderr and "redis-server" in bad.stderr
    assert not (repo / ".xp" / "config").exists()  # Nothing written.
    (repo / ".xp").mkdir(exist_ok=True)
    (repo / ".xp" / "config").write_text(f"[queue]\nbackend = {url}\nremote = {tmp_path / 'r.git'}\n")
    for args in (("exp", "run", "--queue", "-S", "train.lr=0.1"), ("queue", "status"), ("queue", "logs", "x")):
        result = xp(*args, cwd=repo, expect=None)
        assert result.returncode != 0
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert any(f"cannot reach Redis at {url}" in line for line in lines), result.stderr
        assert "Traceback" not in result.stderr
    assert git(repo, "for-each-ref", "refs/xp/queue/") == ""
    worker = run_xp("queue", "worker", "--backend", url, "--remote", "x", cwd=tmp_path, expect=None, timeout=20)
    assert worker.returncode != 0 and f"cannot reach Redis at {url}" in worker.stderr


def test_a_wrong_remote_queues_nothing(cluster):
    config = cluster.project / ".xp" / "config"
    config.write_text(config.read_text().replace(cluster.remote, str(cluster.tmp / "no-such-remote.git")))
    result = cluster.xp("exp", "run", "--queue", "-S", "train.lr=0.1", expect=None)
    assert result.returncode != 0
    assert "pushing the queued commits to" in result.stderr and "no-such-remote.git" in result.stderr
    assert git(cluster.project, "for-each-ref", "refs/xp/queue/") == ""  # Nothing half written.
    assert cluster.entries() == {}


def test_a_job_whose_commit_is_not_on_the_remote_fails_with_the_reason(cluster):
    (entry,) = cluster.enqueue("train.lr=0.3", name="vanished")
    git(Path(cluster.remote), "update-ref", "-d", f"refs/xp/queue/{entry['id']}")
    cluster.worker("a")
    cluster.wait_for({"vanished": "failed"}, timeout=30)
    error = cluster.entries()["vanished"].error
    assert f"the queued commit {entry['rev'][:12]} is not on" in error
    assert cluster.events("start") == []


def test_the_first_writer_wins_and_an_identical_tree_counts_as_success(cluster):
    cluster.worker("a")
    (entry,) = cluster.enqueue("train.lr=0.4", name="twice")
    cluster.wait_for({"twice": "success"}, timeout=30)
    first = cluster.remote_exps()["twice"]
    # Following a finished entry fetches its result home (as `xp queue status` does).
    assert "# fetched experiment 'twice'" in cluster.xp("queue", "logs", "-f", "twice").stdout
    assert git(cluster.project, "for-each-ref", "--format=%(objectname)", "refs/exps/").split() == [first]
    # The same job again (as a second worker racing on it would; its stage comes from the run-cache): a new
    # commit with the same tree, refused by the remote; the ref stays the first one's and the entry succeeds.
    time.sleep(1.1)  # Commit times have a 1 s resolution: the second run's commit must differ from the first.
    queue = cluster.queue()
    queue.redis.hset(entry_key(entry["id"]), mapping={"status": "queued"})
    payload = {"entry": entry["id"], "name": "twice", "rev": entry["rev"], "baseline": entry["baseline"],
               "remote": cluster.remote, "params": entry["params"], "message": "", "retries": 0}
    queue.rq_queue().enqueue(JOB_FUNCTION, kwargs=payload, job_id=entry["id"] + "-again", job_timeout=60)
    cluster.wait_for({"twice": "success"}, timeout=30)
    wait_until(lambda: cluster.entries()["twice"].attempts == 2 and cluster.statuses()["twice"] == "success", 30,
               "the second attempt to be recorded")
    assert cluster.remote_exps() == {"twice": first}
    assert cluster.entries()["twice"].exp_rev == first
    assert "already had this result (the same tree)" in cluster.xp("queue", "logs", "twice").stdout
    # A different experiment already under that name on the remote: this run is refused, not forced.
    baseline = git(cluster.project, "rev-parse", "HEAD").strip()
    tree = git(cluster.project, "rev-parse", "HEAD^{tree}").strip()
    squatter = git(cluster.project, "commit-tree", tree, "-p", "HEAD", "-m", "someone else's").strip()
    git(cluster.project, "push", "-q", cluster.remote, f"{squatter}:refs/exps/{baseline[:2]}/{baseline[2:]}/taken")
    cluster.enqueue("train.lr=0.45", name="taken")
    cluster.wait_for({"taken": "failed"}, timeout=30)
    assert "already has a different experiment" in cluster.entries()["taken"].error
    assert cluster.remote_exps()["taken"] == squatter
    queue.close()


def test_a_push_the_remote_refuses_fails_the_entry_with_the_remote_s_reason(cluster):
    hook = Path(cluster.remote) / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\nwhile read old new ref; do case $ref in refs/exps/*) "
                    "echo 'experiments are frozen this week' >&2; exit 1;; esac; done\n")
    hook.chmod(0o755)
    cluster.worker("a")
    cluster.enqueue("train.lr=0.52", name="refused")
    cluster.wait_for({"refused": "failed"}, timeout=30)
    error = cluster.entries()["refused"].error
    assert "pushing the experiment to" in error and "pre-receive hook declined" in error
    assert "experiments are frozen this week" in error
    assert cluster.remote_exps() == {}


@pytest.mark.timeout(300)
def test_redis_stopped_mid_queue_is_reported_and_the_queue_continues_when_it_returns(cluster):
    cluster.worker("a")
    cluster.enqueue("train.lr=0.11", name="before")
    cluster.wait_for({"before": "success"}, timeout=30)
    cluster.server.stop()
    down = cluster.xp("queue", "status", expect=None)
    assert down.returncode != 0 and f"cannot reach Redis at {redact(cluster.url)}" in down.stderr
    assert cluster.server.password not in down.stderr
    assert "Traceback" not in down.stderr
    cluster.server.start()
    cluster.enqueue("train.lr=0.12", name="after")
    # Generous: on a loaded machine (a test suite and two busy loops beside) the worker's reconnect, a new
    # work horse and the run took over 60 s once.
    cluster.wait_for({"before": "success", "after": "success"}, timeout=180)
    assert set(cluster.remote_exps()) == {"before", "after"}
    assert "could not connect to Redis instance" in cluster.worker_log("a")  # RQ's own line, in the worker's output.


def test_retry_runs_a_failed_entry_again_and_remove_forgets_entries(cluster):
    broken = cluster.worker("broken", env={"XP_TEST_FAIL": "0.21"})  # This machine's runs of lr=0.21 fail.
    (entry,) = cluster.enqueue("train.lr=0.21", name="flaky")
    cluster.wait_for({"flaky": "failed"}, timeout=30)
    assert "boom: the loss diverged" in cluster.entries()["flaky"].error
    os.killpg(broken.pid, signal.SIGTERM)
    broken.wait(15)
    cluster.worker("fine")
    assert "Queued again: flaky." in cluster.xp("queue", "retry", "flaky").stdout
    cluster.wait_for({"flaky": "success"}, timeout=30)
    assert set(cluster.remote_exps()) == {"flaky"}
    assert cluster.entries()["flaky"].attempts == 1
    assert "Removed 1 entry." in cluster.xp("queue", "remove", "--success").stdout
    assert cluster.entries() == {}
    assert git(Path(cluster.remote), "for-each-ref", "refs/xp/queue/") == ""
    assert git(cluster.project, "for-each-ref", "refs/xp/queue/") == ""
    assert set(cluster.remote_exps()) == {"flaky"}  # The experiment itself stays.


def test_a_job_is_json_with_a_timeout_and_only_says_what_to_run(cluster):
    import zlib

    (entry,) = cluster.enqueue("train.lr=0.5", name="plain", extra=("--retries", "2"))
    queue = cluster.queue()
    raw = queue.redis.hgetall(f"rq:job:{entry['id']}")
    queue.close()
    assert int(raw[b"timeout"]) == 24 * 3600
    data = json.loads(zlib.decompress(raw[b"data"]))  # JSON, not pickle: json.loads would fail on a pickle.
    function, _instance, args, kwargs = data
    assert function == JOB_FUNCTION and args == []
    assert kwargs == {"entry": entry["id"], "name": "plain", "rev": entry["rev"], "baseline": entry["baseline"],
                      "remote": cluster.remote, "params": ["train.lr=0.5"], "message": "", "retries": 2}


def test_a_worker_with_a_wrong_remote_fails_the_entry_with_the_reason(cluster):
    cluster.worker("lost", remote=str(cluster.tmp / "nowhere.git"))
    cluster.enqueue("train.lr=0.5", name="astray")
    cluster.wait_for({"astray": "failed"}, timeout=30)
    error = cluster.entries()["astray"].error
    assert "cannot fetch from" in error and "nowhere.git" in error
    assert cluster.events("start") == []


def test_a_cold_shutdown_of_a_worker_kills_its_stage_too(cluster):
    proc = cluster.worker("a")
    cluster.enqueue("train.lr=0.31", "train.sleep=60", name="abandoned")
    stage = cluster.stage_pid("0.31")
    proc.send_signal(signal.SIGTERM)  # RQ: warm shutdown (waits for the job) ...
    time.sleep(1.2)
    assert alive(stage)  # RQ ignores a second signal within 1 s (a pool's duplicate).
    proc.send_signal(signal.SIGTERM)  # ... and a second one: cold shutdown, the job's process is killed.
    proc.wait(15)
    wait_until(lambda: not alive(stage), 5, "the stage to be killed with its horse")
    assert cluster.remote_exps() == {}


def test_a_run_past_its_job_timeout_fails_and_its_stage_is_stopped(cluster):
    config = cluster.project / ".xp" / "config"
    config.write_text(config.read_text() + "job-timeout = 2\n")
    cluster.worker("a")
    (entry,) = cluster.enqueue("train.lr=0.61", "train.sleep=60", name="slow")
    stage = cluster.stage_pid("0.61")
    cluster.wait_for({"slow": "failed"}, timeout=20)
    assert cluster.entries()["slow"].error == "timed out after 2 s (job-timeout in .xp/config)"
    wait_until(lambda: not alive(stage), 5, "the timed-out stage to stop")
    config.write_text(config.read_text().replace("job-timeout = 2", "job-timeout = soon"))
    bad = cluster.xp("queue", "status", expect=2)
    assert "job-timeout must be a whole number of seconds" in bad.stderr


def test_redis_restarted_while_a_stage_runs_the_run_still_records(cluster):
    cluster.worker("a")
    cluster.enqueue("train.lr=0.13", "train.sleep=4", name="through")
    cluster.stage_pid("0.13")
    cluster.server.stop()
    time.sleep(1.5)
    cluster.server.start()
    cluster.wait_for({"through": "success"}, timeout=60)
    assert set(cluster.remote_exps()) == {"through"}
    assert [lr for lr, _ in cluster.events("end")] == ["0.13"]
    assert "Traceback" not in cluster.worker_log("a")


def test_stop_shuts_the_workers_down(cluster):
    first, second = cluster.worker("a"), cluster.worker("b")
    wait_until(lambda: len(json.loads(cluster.xp("queue", "status", "--json").stdout)["workers"]) == 2, 15,
               "both workers to register")
    assert "Asked 2 worker(s)" in cluster.xp("queue", "stop").stdout
    wait_until(lambda: first.poll() is not None and second.poll() is not None, 15, "the workers to exit")


@pytest.mark.asyncio
async def test_the_editor_sees_remote_runs_like_local_ones(cluster):
    import asyncio

    from pyhelper.server import protocol as p
    from tests.lsp_client import request, started

    cluster.worker("a")
    cluster.enqueue("train.lr=0.71", name="seen")
    cluster.enqueue("train.lr=0.72", "train.sleep=60", name="held")
    async with started(cluster.project) as client:
        deadline = time.monotonic() + 30
        while True:
            status = await request(client, p.QUEUE_STATUS, p.QueueStatusParams())
            current = {e.name: e.status for e in status.entries}
            if current == {"seen": "success", "held": "running"}:
                break
            assert time.monotonic() < deadline, f"timed out waiting for seen=success, held=running (now {current})"
            await asyncio.sleep(0.2)
        assert len(status.workers) == 1
        log = await request(client, p.READ_QUEUE_LOG, p.ReadQueueLogParams(name="seen"))
        assert log.status == "success" and "training lr=0.71" in log.text
        assert log.next_offset == len(log.text.encode())
        rest = await request(client, p.READ_QUEUE_LOG, p.ReadQueueLogParams(name="seen", offset=log.next_offset))
        assert rest.text == "" and rest.next_offset == log.next_offset
        killed = await request(client, p.KILL_QUEUE_ENTRIES, p.KillQueueEntriesParams(names=["held"]))
        assert killed.names == ["held"]
        cluster.wait_for({"held": "cancelled"}, timeout=15)
        retried = await request(client, p.RETRY_QUEUE_ENTRIES, p.RetryQueueEntriesParams(names=["held"]))
        assert retried.names == ["held"]
        assert cluster.statuses()["held"] in ("queued", "running")


@pytest.mark.asyncio
async def test_the_editor_follows_a_remote_runs_log_as_it_grows(cluster):
    """xp/followQueueLog on the Redis queue: the same follower (only the queue interface), the log read from
    the entry's Redis stream, pushed as it grows and ended by a notification with `done`."""
    from pyhelper.server import protocol as p
    from tests.lsp_client import notification, request, started

    cluster.enqueue("train.lr=0.73", "train.sleep=2", name="followed")
    async with started(cluster.project) as client:
        answer = await request(client, p.FOLLOW_QUEUE_LOG, p.FollowQueueLogParams(entry="followed"))
        assert (answer.name, answer.status, answer.done) == ("followed", "queued", False)
        cluster.worker("a")
        _, last = await notification(client, p.QUEUE_LOG_UPDATED, timeout=60,
                                     where=lambda update: update.entry_id == answer.entry_id and update.done)
        updates = [params for _, method, params in client.xp_notifications if method == p.QUEUE_LOG_UPDATED]
    assert (last.status, last.reason) == ("success", "") and updates[-1] is last
    offset = answer.offset
    for update in updates:
        assert update.start == offset
        offset = update.offset
    text = answer.text + "".join(update.text for update in updates)
    assert "training lr=0.73" in text and offset == len(text.encode())


@pytest.mark.asyncio
async def test_the_editor_is_told_when_the_redis_queue_changes(cluster):
    from pyhelper.server import protocol as p
    from tests.lsp_client import notification, started

    cluster.enqueue("train.lr=0.81", name="first")  # Selects the Redis queue in .xp/config.
    async with started(cluster.project) as client:
        after = time.monotonic()
        cluster.enqueue("train.lr=0.82", "train.sleep=60", name="second")
        _, params = await notification(client, p.QUEUE_CHANGED, after=after, timeout=15,
                                       where=lambda params: params.queued == 2)
        assert params.running == 0
        cluster.worker("a")
        await notification(client, p.QUEUE_CHANGED, after=after, timeout=30,
                           where=lambda params: params.running == 1)


@pytest.mark.asyncio
async def test_the_editors_start_queue_starts_rq_workers_and_follows_them_home(cluster):
    """Start Queue in the editor on a project whose queue is on Redis: RQ workers (not local ones that would
    find nothing) run the entry, the progress counts it to the end, and the experiment comes home."""
    import asyncio

    from lsprotocol import types as lsp

    from pyhelper.server import protocol as p
    from tests.lsp_client import request, started

    cluster.enqueue("train.lr=0.71", name="from-editor")
    async with started(cluster.project) as client:
        client.progress_reports["queue"] = []
        result = await request(client, p.START_QUEUE, p.StartQueueParams(jobs=1, work_done_token="queue"))
        assert result.workers == 1
        deadline = time.monotonic() + 100
        while not any(isinstance(r, lsp.WorkDoneProgressEnd) for r in client.progress_reports["queue"]):
            assert time.monotonic() < deadline, f"the progress never ended: {client.progress_reports['queue']}"
            await asyncio.sleep(0.2)
    begin, *_, end = client.progress_reports["queue"]
    assert redact(cluster.url) in begin.title, begin.title
    assert end.message == "queue finished: 1 experiment(s)", end.message
    assert cluster.statuses()["from-editor"] == "success"
    local = git(cluster.project, "for-each-ref", "--format=%(refname)", "refs/exps/")
    assert local.strip().endswith("/from-editor"), "the experiment is brought home as the progress follows it"
