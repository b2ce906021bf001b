"""Real parts for the Redis queue's tests: a redis-server of our own, a bare git remote, RQ workers.

The server runs on 127.0.0.1 on a free port with its data in the test's temp folder (append-only
file on, so a restart keeps the queue) and a password, as SECURITY.md asks of every set-up (xp refuses
a Redis that needs none); with `tls=True` it speaks only TLS, with a CA and certificate the test
makes. Workers are `xp queue worker --backend …` processes, each in its own folder with its own
mirror, as on separate machines. Everything started is
stopped after the test; every wait is bounded.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pyhelper.core.queue.redis_backend import RedisQueue
from tests.conftest import GIT_ENV, git
from tests.test_queue import PIPELINE, alive, run_xp, wait_until


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


PASSWORD = "xp-test-secret-7f3a"
"""The test servers' password (the redaction tests look for it in everything xp shows)."""


def make_test_ca(folder: Path) -> dict[str, str]:
    """A CA and a server certificate for 127.0.0.1 signed by it (openssl), valid for two days."""
    folder.mkdir(parents=True, exist_ok=True)

    def openssl(*args: str) -> None:
        result = subprocess.run(["openssl", *args], cwd=folder, capture_output=True, text=True)
        assert result.returncode == 0, f"openssl {' '.join(args)} failed: {result.stderr}"

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=xp test CA")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=127.0.0.1")
    (folder / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf")
    return {"ca": str(folder / "ca.pem"), "cert": str(folder / "server.pem"), "key": str(folder / "server.key")}


class RedisServer:
    """A redis-server process of the test's own."""

    def __init__(self, folder: Path, *, password: str | None = PASSWORD, tls: bool = False):
        binary = shutil.which("redis-server")
        if binary is None:  # A failure, not a skip: CI must have it (scripts/redis-setup.sh installs it).
            pytest.fail("redis-server is missing: run `bash scripts/redis-setup.sh` (apt-get install -y redis-server)")
        self.binary = binary
        self.folder = folder
        self.port = free_port()
        self.password = password
        self.tls = make_test_ca(folder / "tls") if tls else None
        auth = f":{password}@" if password else ""
        self.bare_url = f"{'rediss' if tls else 'redis'}://127.0.0.1:{self.port}/0"
        """The URL without the password (give it through XP_REDIS_PASSWORD)."""
        query = f"?ssl_ca_certs={self.tls['ca']}" if self.tls else ""
        self.bare_url += query
        self.url = f"{'rediss' if tls else 'redis'}://{auth}127.0.0.1:{self.port}/0{query}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        """Starts the server (again, on the same port and data) and waits until it answers."""
        self.folder.mkdir(parents=True, exist_ok=True)
        ports = ["--port", str(self.port)]
        if self.tls:
            ports = ["--port", "0", "--tls-port", str(self.port), "--tls-cert-file", self.tls["cert"],
                     "--tls-key-file", self.tls["key"], "--tls-ca-cert-file", self.tls["ca"],
                     "--tls-auth-clients", "no"]
        auth = ["--requirepass", self.password] if self.password else []
        self.proc = subprocess.Popen(
            [self.binary, *ports, "--bind", "127.0.0.1", "--dir", str(self.folder), "--save", "",
             "--appendonly", "yes", "--appendfsync", "always", "--protected-mode", "no", *auth],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        import redis

        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)

        def answers() -> bool:
            try:
                return bool(client.ping())
            except redis.exceptions.ConnectionError:
                return False

        wait_until(answers, 10, "redis-server to answer")
        client.close()

    def stop(self) -> None:
        """Stops the server (SIGTERM, then SIGKILL) and waits for it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None


class Cluster:
    """A laptop's project queuing on Redis, a bare remote, and workers in folders of their own."""

    def __init__(self, tmp: Path, project: Path, server: RedisServer, log: Path):
        self.tmp = tmp
        self.project = project
        self.server = server
        self.log = log
        self.remote = str(tmp / "remote.git")
        self.cache = str(tmp / "shared-cache")
        self.workers: list[subprocess.Popen] = []
        self.spawned: list[int] = []
        """Pids of workers xp itself started (`queue start -j N`), each the leader of its own session."""

    @property
    def url(self) -> str:
        """The Redis URL."""
        return self.server.url

    def xp(self, *args: str, **kwargs) -> subprocess.CompletedProcess[str]:
        """`xp ARGS` in the laptop's project."""
        return run_xp(*args, cwd=self.project, **kwargs)

    def enqueue(self, *sets: str, name: str | None = None, extra: tuple[str, ...] = ()) -> list[dict]:
        """`xp exp run --queue -S …`; the queued entries as JSON."""
        args = [a for s in sets for a in ("-S", s)] + (["-n", name] if name else [])
        return json.loads(self.xp("exp", "run", "--queue", "--json", *extra, *args).stdout)

    def worker(self, label: str, env: dict[str, str] | None = None, remote: str | None = None,
               url: str | None = None, extra: tuple[str, ...] = (), shared_cache: bool = True) -> subprocess.Popen:
        """Starts `xp queue worker --backend … --remote …` in a folder of its own (a machine of its own)."""
        home = self.tmp / f"machine-{label}"
        home.mkdir(exist_ok=True)
        with open(home / "worker.log", "ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "pyhelper", "queue", "worker", "--backend", url or self.url,
                 "--remote", remote or self.remote, *(["--cache-dir", self.cache] if shared_cache else []),
                 "--mirror-dir", str(home / "mirrors"),
                 "--idle", "0", *extra],
                cwd=home, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                env={**os.environ, **GIT_ENV, **(env or {})})
        self.workers.append(proc)
        return proc

    def worker_log(self, label: str) -> str:
        """What a worker printed."""
        path = self.tmp / f"machine-{label}" / "worker.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def queue(self) -> RedisQueue:
        """The queue as the laptop sees it (in this process: quicker to poll than the CLI)."""
        return RedisQueue(self.url, remote=self.remote)

    def entries(self) -> dict[str, dict]:
        """Entry name → its fields (as `xp queue status --json` would show them)."""
        queue = self.queue()
        try:
            return {e.name: e for e in queue.entries()}
        finally:
            queue.close()

    def statuses(self) -> dict[str, str]:
        """Entry name → status."""
        return {name: e.status for name, e in self.entries().items()}

    def wait_for(self, wanted: dict[str, str], timeout: float = 30) -> dict[str, str]:
        """Waits until the named entries have these statuses."""
        return wait_until(lambda: (s := self.statuses()) and all(s.get(k) == v for k, v in wanted.items()) and s,
                          timeout, lambda: f"statuses {wanted} (now {self.statuses()})", interval=0.2)

    def remote_exps(self) -> dict[str, str]:
        """Experiment name → commit, on the shared remote."""
        out = git(Path(self.remote), "for-each-ref", "--format=%(refname) %(objectname)", "refs/exps/")
        return {line.split()[0].rsplit("/", 1)[1]: line.split()[1] for line in out.splitlines()}

    def events(self, kind: str) -> list[tuple[str, int]]:
        """The stage's side-channel lines of this kind: (lr, pid)."""
        if not self.log.exists():
            return []
        rows = [line.split() for line in self.log.read_text().splitlines() if line.strip()]
        return [(r[1], int(r[2])) for r in rows if r[0] == kind]

    def stage_pid(self, lr: str, timeout: float = 30) -> int:
        """The pid of the stage with this lr once it started."""
        return wait_until(lambda: next((p for t, p in self.events("start") if t == lr), None), timeout,
                          f"the stage with lr={lr} to start")

    def cleanup(self) -> None:
        """Stops every worker (and its horse) and every stage a test left running."""
        for pid in self.spawned:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        for proc in self.workers:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for proc in self.workers:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        for _, pid in self.events("start"):
            if alive(pid):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)
        # Workers xp started without telling the test their pids (the editor's Start Queue): any process
        # whose command line names this test's folder.
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit() or int(proc.name) == os.getpid():
                continue
            with contextlib.suppress(OSError):
                if str(self.tmp).encode() in (proc / "cmdline").read_bytes():
                    os.kill(int(proc.name), signal.SIGKILL)


@pytest.fixture(name="redis_server")
def redis_server_fixture(tmp_path):
    """A running redis-server of this test's own (stopped after)."""
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


def make_cluster(gen, tmp_path: Path, monkeypatch, redis_server: RedisServer, files: dict) -> Cluster:
    """A laptop's project made of `files`, queuing on `redis_server`, pushed to a bare remote."""
    log = tmp_path / "calls.log"
    monkeypatch.setenv("XP_TEST_LOG", str(log))
    project = gen(files)
    c = Cluster(tmp_path, project, redis_server, log)
    git(tmp_path, "init", "-q", "--bare", c.remote)
    git(project, "push", "-q", c.remote, "main")
    c.xp("queue", "start", "--backend", c.url, "--remote", c.remote, "--cache-dir", c.cache, "-j", "0")
    return c


@pytest.fixture(name="cluster")
def cluster_fixture(gen, tmp_path, monkeypatch, redis_server):
    """The laptop's project (queue on Redis, pushed to a bare remote) and a way to start workers."""
    c = make_cluster(gen, tmp_path, monkeypatch, redis_server, PIPELINE)
    yield c
    c.cleanup()


PROXY = r"""
import socket, sys, threading

listen = socket.socket()
listen.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listen.bind(("127.0.0.1", int(sys.argv[1])))
listen.listen(64)
print("ready", flush=True)

def pipe(source, sink):
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    for sock in (source, sink):
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

def serve(client):
    upstream = socket.create_connection(("127.0.0.1", int(sys.argv[2])))
    threading.Thread(target=pipe, args=(client, upstream), daemon=True).start()
    pipe(upstream, client)

while True:
    conn, _ = listen.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
"""


class TcpProxy:
    """A TCP proxy process in front of redis-server: killing it cuts whoever talks through it off Redis
    (open connections die, new ones are refused), as a network cut would."""

    def __init__(self, server: RedisServer):
        self.port = free_port()
        self.url = server.url.replace(f":{server.port}/", f":{self.port}/")
        self.proc = subprocess.Popen([sys.executable, "-c", PROXY, str(self.port), str(server.port)],
                                     stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        assert self.proc.stdout is not None and self.proc.stdout.readline().strip() == "ready"

    def cut(self) -> None:
        """Kills the proxy (SIGKILL): the network between its clients and Redis is gone."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(5)


def parent_of(pid: int) -> int:
    """The parent process id of `pid` (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return int(handle.read().rsplit(")", 1)[1].split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return 0


def horse_of(worker_pid: int, stage_pid: int) -> int:
    """The RQ work horse (the worker's child) above a stage's process."""
    pid = stage_pid
    while pid > 1:
        up = parent_of(pid)
        if up == worker_pid:
            return pid
        pid = up
    raise AssertionError(f"stage {stage_pid} does not run under worker {worker_pid}")
