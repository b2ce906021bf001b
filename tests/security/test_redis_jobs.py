"""The Redis surface: other Redis clients, forged jobs, open servers, secrets, TLS.

Every Redis client can write into xp's RQ queue. These attacks come from a client that is not xp: a
job naming `os.system`, foreign callbacks, a pickled payload, xp's function with forged fields or a
remote of its own. Each must be refused without running anything, while the worker goes on running
xp's own jobs. The server in these tests has a password (and, in one test, only speaks TLS).
"""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import pytest

from pyhelper.core.credentials import redact, redact_text
from pyhelper.core.queue.redis_backend import FAILURE_CALLBACK, JOB_FUNCTION, RQ_QUEUE
from tests.conftest import git
from tests.redis_fixtures import (  # noqa: F401 (fixtures)
    PASSWORD,
    RedisServer,
    cluster_fixture,
    make_cluster,
    redis_server_fixture,
)
from tests.test_queue import PIPELINE, run_xp, wait_until


def rq_queue(cluster, serializer=None):
    """xp's RQ queue as any other Redis client sees it."""
    from rq import Queue
    from rq.serializers import JSONSerializer

    return Queue(RQ_QUEUE, connection=cluster.queue().redis, serializer=serializer or JSONSerializer)


def failed_reason(cluster, job_id: str, timeout: float = 60) -> str:
    """Waits until RQ put the job among the failed ones; the failure text it recorded."""
    from rq.job import Job
    from rq.serializers import JSONSerializer

    client = cluster.queue().redis

    def failed():
        try:
            job = Job.fetch(job_id, connection=client, serializer=JSONSerializer)
        except Exception:  # noqa: BLE001 - not there yet.
            return None
        if job.get_status(refresh=True) != "failed":
            return None
        result = job.latest_result()
        return (result.exc_string if result else "") or "failed"

    return wait_until(failed, timeout, f"job {job_id} to be refused")


def valid_payload(cluster, entry: dict) -> dict:
    """xp's own payload for a queued entry (what the laptop enqueued)."""
    return {"entry": entry["id"], "name": entry["name"], "rev": entry["rev"], "baseline": entry["baseline"],
            "remote": cluster.remote, "params": entry["params"], "message": "", "retries": 0}


def test_a_job_naming_another_function_or_callback_is_refused_and_the_worker_goes_on(cluster, tmp_path):
    marker = tmp_path / "pwned"
    queue = rq_queue(cluster)
    from rq import Callback

    attacks = {
        "func": queue.enqueue("os.system", f"touch {marker}-func", job_id="attack-func"),
        "kwargs": queue.enqueue("subprocess.check_call", kwargs={"args": ["touch", f"{marker}-kw"]},
                                job_id="attack-kwargs"),
        "builtin": queue.enqueue("builtins.exec", f"open('{marker}-exec', 'w')", job_id="attack-exec"),
    }
    (entry,) = cluster.enqueue("train.lr=0.31", name="decoy")
    cluster.queue().redis.hset(f"xp:entry:{entry['id']}", "status", "queued")
    # xp's own function, but with a callback that is not xp's: RQ would import and call it on failure/success.
    forged = valid_payload(cluster, entry) | {"rev": "0" * 40}
    attacks["callback"] = queue.enqueue(JOB_FUNCTION, kwargs=forged, job_id="attack-callback",
                                        on_failure=Callback("os.system"), on_success=Callback("os.system"))
    cluster.worker("a")
    for name, job in attacks.items():
        reason = failed_reason(cluster, job.id)
        assert "refused job" in reason, (name, reason)
    assert not list(tmp_path.glob("pwned*"))
    cluster.wait_for({"decoy": "success"}, timeout=60)  # xp's own job still runs.
    assert ("refused job attack-func: it names the function 'os.system', not xp's"
            in failed_reason(cluster, "attack-func"))
    assert "not xp's" in failed_reason(cluster, "attack-callback")
    assert cluster.entries()["decoy"].attempts == 1  # The forged job on its entry never touched it.


@pytest.mark.parametrize("field, value, why", [
    ("name", "--upload-pack=touch MARKER", "'name' is not a valid experiment name"),
    ("name", "x" * 300, "'name' is longer than 100 characters"),
    ("rev", "HEAD", "'rev' and 'baseline' must be full commit ids"),
    ("rev", "--upload-pack=touch MARKER", "'rev'"),
    ("entry", "../../etc", "'entry' is not a queue entry id"),
    ("params", ["a=1"] * 5000, "'params' must be a list of at most 1000 short strings"),
    ("params", ["a=\x1b]52;c;cHduZWQ=\x07"], "'params' must be a list"),
    ("message", "m" * 70000, "'message' is longer than 65536 characters"),
    ("retries", 10 ** 9, "'retries' must be a whole number from 0 to 100"),
    ("shell", "touch MARKER", "unknown field 'shell'"),
])
def test_xp_s_function_with_a_forged_field_is_refused(cluster, tmp_path, field, value, why):
    (entry,) = cluster.enqueue("train.lr=0.32", name="victim")
    marker = str(tmp_path / "pwned")
    value = value.replace("MARKER", marker) if isinstance(value, str) else value
    job = rq_queue(cluster).enqueue(JOB_FUNCTION, kwargs=valid_payload(cluster, entry) | {field: value},
                                    job_id="forged", on_failure=Callback(FAILURE_CALLBACK))
    cluster.worker("a")
    assert why in failed_reason(cluster, job.id)
    cluster.wait_for({"victim": "success"}, timeout=60)
    assert not Path(marker).exists()
    assert cluster.entries()["victim"].attempts == 1


def Callback(name):  # noqa: N802 - RQ's class, imported late (rq is imported only when used).
    from rq import Callback as RqCallback

    return RqCallback(name)


def test_a_pickled_job_is_never_unpickled(cluster, tmp_path):
    from rq.serializers import DefaultSerializer

    marker = tmp_path / "pwned"
    # A pickle whose loading runs a command (what a pickle-reading worker would do).
    evil = rq_queue(cluster, serializer=DefaultSerializer).enqueue("os.system", f"touch {marker}", job_id="pickled")
    (entry,) = cluster.enqueue("train.lr=0.33", name="after-pickle")
    cluster.worker("a")
    cluster.wait_for({"after-pickle": "success"}, timeout=60)
    time.sleep(1)
    assert not marker.exists()
    wait_until(lambda: f"refused job {evil.id}: its payload is not JSON" in cluster.worker_log("a"), 30,
               "the worker to say it refused the pickle")
    assert "Traceback" not in cluster.worker_log("a")
    assert cluster.workers[0].poll() is None  # The worker is still there.


def test_a_job_cannot_send_the_worker_to_another_remote(cluster, tmp_path):
    # The entry is real, but the job names a remote of the attacker's: its `cmd` would run on the worker.
    evil = tmp_path / "evil"
    git(tmp_path, "init", "-q", "-b", "main", str(evil))
    (evil / "dvc.yaml").write_text(f"stages:\n  own:\n    cmd: touch {tmp_path / 'pwned'}\n")
    git(evil, "add", "-A")
    git(evil, "commit", "-q", "-m", "evil")
    from rq.job import Job
    from rq.serializers import JSONSerializer

    remotes = {"honest-a": str(evil), "honest-b": f"--upload-pack=touch {tmp_path / 'pwned'};"}
    for name, remote in remotes.items():
        (entry,) = cluster.enqueue("train.lr=0.34", name=name)
        client = cluster.queue().redis
        Job.fetch(entry["id"], connection=client, serializer=JSONSerializer).cancel()  # Only the forged job is left.
        rq_queue(cluster).enqueue(JOB_FUNCTION, kwargs=valid_payload(cluster, entry) | {"remote": remote},
                                  job_id=f"forged-{name}", job_timeout=60)
    cluster.worker("a")
    cluster.wait_for({"honest-a": "success", "honest-b": "success"}, timeout=90)
    assert not (tmp_path / "pwned").exists()
    assert set(cluster.remote_exps()) == {"honest-a", "honest-b"}  # Run from the worker's own remote, recorded there.


def test_a_worker_needs_its_own_remote(cluster):
    proc = run_xp("queue", "worker", "--backend", cluster.url, "--idle", "1", cwd=cluster.tmp, expect=2)
    assert "a worker needs --remote URL" in proc.stderr


def test_an_open_redis_is_refused_unless_insecure(gen, tmp_path, monkeypatch):
    server = RedisServer(tmp_path / "open-redis", password=None)
    server.start()
    c = None
    try:
        c = make_cluster_on(gen, tmp_path, monkeypatch, server)
        worker = run_xp("queue", "worker", "--backend", server.url, "--remote", c.remote, "--idle", "1",
                        cwd=tmp_path, expect=2)
        assert "accepts clients without a password" in worker.stderr and "--insecure" in worker.stderr
        assert worker.stderr.count("\n") == 1
        start = c.xp("queue", "start", "--backend", server.url, "--remote", c.remote, expect=2)
        assert "accepts clients without a password" in start.stderr
        assert not (c.project / ".xp" / "config").exists()
        c.xp("queue", "start", "--backend", server.url, "--remote", c.remote, "-j", "0", "--insecure")
        assert "insecure = yes" in (c.project / ".xp" / "config").read_text()
        c.enqueue("train.lr=0.35", name="open")
        c.xp("exp", "run", "--run-all", "-j", "1", timeout=120)  # Its workers inherit --insecure.
        assert c.statuses() == {"open": "success"}
    finally:
        if c is not None:
            c.cleanup()
        server.stop()


@pytest.fixture
def bare_cluster(gen, tmp_path, monkeypatch, redis_server):
    """A project pushed to a bare remote, its queue not selected yet; every worker stopped after."""
    c = make_cluster_on(gen, tmp_path, monkeypatch, redis_server)
    yield c
    c.cleanup()


def make_cluster_on(gen, tmp_path, monkeypatch, server):
    """A project pushed to a bare remote, the queue not yet selected (make_cluster selects it)."""
    from tests.redis_fixtures import Cluster

    monkeypatch.setenv("XP_TEST_LOG", str(tmp_path / "calls.log"))
    project = gen(PIPELINE)
    c = Cluster(tmp_path, project, server, tmp_path / "calls.log")
    git(tmp_path, "init", "-q", "--bare", c.remote)
    git(project, "push", "-q", c.remote, "main")
    return c


def test_a_wrong_password_is_one_line_without_the_password(cluster):
    wrong = cluster.url.replace(PASSWORD, "not-the-password")
    proc = run_xp("queue", "worker", "--backend", wrong, "--remote", cluster.remote, cwd=cluster.tmp, expect=2)
    assert "refused xp's credentials" in proc.stderr and "not-the-password" not in proc.stderr
    assert proc.stderr.count("\n") == 1


def test_secrets_stay_out_of_output_argv_redis_and_files(bare_cluster):
    c = bare_cluster
    shown = []
    started = c.xp("queue", "start", "--backend", c.url, "--remote", c.remote, "--cache-dir", c.cache, "-j", "1",
                   "--json")
    shown.append(started.stdout + started.stderr)
    pids = json.loads(started.stdout)["pids"]
    c.spawned.extend(pids)
    for pid in pids:  # What `ps` shows of the workers xp started.
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode()
        assert PASSWORD not in argv and "queue\0worker" in argv
    c.enqueue("train.lr=0.36", name="secretive")
    c.wait_for({"secretive": "success"}, timeout=60)
    for args in (("queue", "status"), ("queue", "status", "--json"), ("queue", "logs", "secretive"),
                 ("exp", "show", "--json")):
        result = c.xp(*args)
        shown.append(result.stdout + result.stderr)
    shown.append((c.project / ".xp" / "logs" / "workers.log").read_text(errors="replace"))
    assert all(PASSWORD not in text for text in shown), [t for t in shown if PASSWORD in t][0][:300]
    client = c.queue().redis
    for key in client.scan_iter("*"):  # Every value any Redis client can read.
        kind = client.type(key)
        values = {b"hash": lambda k: b" ".join(client.hgetall(k).values()), b"string": client.get,
                  b"stream": lambda k: repr(client.xrange(k)).encode()}.get(kind, lambda k: b"")(key)
        assert PASSWORD.encode() not in (values or b""), key
    config = c.project / ".xp" / "config"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600


def test_a_password_from_the_environment_or_a_file_keeps_the_url_bare(bare_cluster, tmp_path, redis_server):
    c = bare_cluster
    bare = redis_server.bare_url
    refused = c.xp("queue", "start", "--backend", bare, "--remote", c.remote, "-j", "0", expect=2)
    assert "refused xp's credentials" in refused.stderr
    secret_file = tmp_path / "redis-password"
    secret_file.write_text(PASSWORD + "\n")
    env = {"XP_REDIS_PASSWORD": PASSWORD}
    run_xp("queue", "start", "--backend", bare, "--remote", c.remote, "-j", "0", cwd=c.project, env=env)
    assert PASSWORD not in (c.project / ".xp" / "config").read_text()
    run_xp("exp", "run", "--queue", "-S", "train.lr=0.37", "-n", "from-env", cwd=c.project, env=env)
    c.worker("f", url=bare, extra=("--password-file", str(secret_file)))
    c.wait_for({"from-env": "success"}, timeout=60)


def test_a_tls_only_redis_with_a_test_ca(gen, tmp_path, monkeypatch):
    server = RedisServer(tmp_path / "tls-redis", tls=True)
    server.start()
    c = None
    try:
        c = make_cluster(gen, tmp_path, monkeypatch, server, PIPELINE)
        assert c.url.startswith("rediss://")
        c.worker("tls")
        c.enqueue("train.lr=0.38", name="over-tls")
        c.wait_for({"over-tls": "success"}, timeout=60)
        plain = c.url.replace("rediss://", "redis://").split("?")[0]
        proc = run_xp("queue", "status", "--json", cwd=c.project, expect=0)
        assert "over-tls" in proc.stdout
        refused = run_xp("queue", "worker", "--backend", plain, "--remote", c.remote, cwd=tmp_path, expect=2)
        assert "cannot reach Redis" in refused.stderr and PASSWORD not in refused.stderr
    finally:
        if c is not None:
            c.cleanup()
        server.stop()


@pytest.mark.parametrize("url, shown", [
    ("redis://:hunter2@host:6379/0", "redis://:***@host:6379/0"),
    ("rediss://alice:hunter2@host/0?ssl_ca_certs=/ca.pem", "rediss://alice:***@host/0?ssl_ca_certs=/ca.pem"),
    ("https://bob:ghp_TOKEN123@github.com/o/r.git", "https://bob:***@github.com/o/r.git"),
    ("https://x.io/r.git?access_token=abc&ref=1", "https://x.io/r.git?access_token=***&ref=1"),
    ("/srv/git/project.git", "/srv/git/project.git"),
    ("git@github.com:o/r.git", "git@github.com:o/r.git"),
])
def test_redact(url, shown):
    assert redact(url) == shown
    assert "hunter2" not in redact_text(f"fatal: could not read from {url}: denied")


def test_queue_recover_reads_a_hostile_remote_s_trailers_as_data(cluster, tmp_path):
    marker = tmp_path / "pwned"
    tree = git(cluster.project, "rev-parse", "HEAD^{tree}").strip()
    details = json.dumps({"name": f"--upload-pack=touch {marker}", "retries": "lots", "params": [{"x": 1}, "a=\x1b[2J"],
                          "message": 5})
    hostile = git(cluster.project, "commit-tree", tree, "-p", "HEAD", "-m",
                  f"xp: queued experiment x\n\nxp-queue-entry: 0123456789ab\nxp-queue-details: {details}").strip()
    git(cluster.project, "push", "-q", cluster.remote, f"{hostile}:refs/xp/queue/0123456789ab",
        f"{hostile}:refs/xp/queue/not-an-entry")
    found = json.loads(cluster.xp("queue", "recover", "--json").stdout)
    assert found == [{"id": "0123456789ab", "name": "recovered-0123456789ab", "status": "queued", "params": []}]
    assert cluster.entries()["recovered-0123456789ab"].retries == 0
    assert not marker.exists()


def test_outputs_home_never_copies_outside_the_caches(cluster, tmp_path):
    # A pulled experiment's checkpoint trailer names an "md5" that is a path: copied from the shared cache dir
    # into the local cache, it would land outside both (a `.dir` name skipped the content check).
    victim = tmp_path / "victim.dir"
    local_files = cluster.project / ".xp" / "cache" / "files"
    md5 = ".." + os.path.relpath(victim, local_files)
    shared = tmp_path / "deep" / "er" / "est" / "shared-cache"  # Deeper than the local cache: another source.
    (shared / "files" / "md5").mkdir(parents=True)
    config = cluster.project / ".xp" / "config"
    config.write_text(config.read_text().replace(cluster.cache, str(shared)))
    source = Path(os.path.normpath(shared / "files" / "md5" / md5[:2] / md5[2:]))
    assert source != victim and source.is_relative_to(tmp_path)
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_text("[]")  # An empty manifest: it names no files, so only itself is copied.
    baseline = git(cluster.project, "rev-parse", "HEAD").strip()
    tree = git(cluster.project, "rev-parse", "HEAD^{tree}").strip()
    trailer = json.dumps({"step": 1, "stage": "train", "outs": {"model.txt": {"md5": md5, "size": 1}}})
    evil = git(cluster.project, "commit-tree", tree, "-p", "HEAD", "-m",
               f"xp: checkpoint 1\n\nxp-checkpoint: {trailer}").strip()
    git(cluster.project, "push", "-q", cluster.remote, f"{evil}:refs/exps/{baseline[:2]}/{baseline[2:]}/hostile")
    git(cluster.project, "update-ref", "-d", f"refs/exps/{baseline[:2]}/{baseline[2:]}/hostile")
    cluster.xp("exp", "pull", cluster.remote, "hostile", expect=None)
    assert not victim.exists()


def test_remotes_that_git_would_read_as_options_are_refused_everywhere_on_the_queue(cluster, tmp_path):
    marker = tmp_path / "pwned"
    evil = f"--upload-pack=touch {marker};"
    worker = run_xp("queue", "worker", "--backend", cluster.url, "--remote", evil, cwd=tmp_path, expect=2)
    assert "the worker's --remote '--upload-pack=" in worker.stderr and "starts with '-'" in worker.stderr
    start = cluster.xp("queue", "start", "--backend", cluster.url, "--remote", f"ext::sh -c touch% {marker}", expect=2)
    assert "'ext' transport" in start.stderr
    config = cluster.project / ".xp" / "config"
    config.write_text(config.read_text().replace(f"remote = {cluster.remote}", f"remote = {evil}"))
    status = cluster.xp("queue", "status", expect=2)
    assert f"{config}: the queue's remote '--upload-pack=" in status.stderr
    assert not marker.exists()
