"""Times the queue on RQ and Redis on loopback (`python bench/redis_queue_bench.py [--runs N]`).

Starts its own redis-server (scripts/redis-setup.sh installs it) on a free port, a bare git
repository as the shared remote, a project queuing on Redis and 2 workers (`xp queue worker
--backend …`) in folders of their own. Figures (median of N single experiments, trivial stage):
enqueue → stage start (the queue command, the RQ job, the worker's fetch into its mirror and its
private work tree), and queue → result home (the queue command, then `xp queue logs -f`, which
ends when the run is recorded and fetches its experiment ref home). Each run checks that the
experiment really came home.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STAGE = ("import os, time; open(os.environ['BENCH_STARTS'], 'a').write(str(time.time()) + chr(10)); "
         "open('out.txt', 'w').write('${p}')")


def _run(*args: str, cwd: Path) -> str:
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def _xp(*args: str, cwd: Path) -> str:
    return _run(sys.executable, "-m", "pyhelper", *args, cwd=cwd)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _entry_id(project: Path, name: str) -> str:
    status = json.loads(_xp("queue", "status", "--json", cwd=project))
    return next(e["id"] for e in status["entries"] if e["name"] == name)


def main() -> int:
    """Runs the figures and prints them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="single experiments timed (the median is shown)")
    args = parser.parse_args()
    server = _run("bash", str(ROOT / "scripts" / "redis-setup.sh"), cwd=ROOT).strip()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        port = _free_port()
        url = f"redis://127.0.0.1:{port}/0"
        redis = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", tmp_name],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        workers: list[subprocess.Popen] = []
        try:
            time.sleep(0.3)
            remote = tmp / "remote.git"
            _run("git", "init", "-q", "--bare", str(remote), cwd=tmp)
            project = tmp / "project"
            project.mkdir()
            (project / "dvc.yaml").write_text(
                f'stages:\n  s:\n    cmd: python -c "{STAGE}"\n    params: [p]\n    outs: [out.txt]\n')
            (project / "params.yaml").write_text("p: 0\n")
            _run("git", "init", "-q", "-b", "main", cwd=project)
            _run("git", "add", "-A", cwd=project)
            _run("git", "-c", "user.name=bench", "-c", "user.email=b@b", "commit", "-qm", "bench", cwd=project)
            _run("git", "push", "-q", str(remote), "main", cwd=project)
            _xp("queue", "start", "--backend", url, "--remote", str(remote), "--cache-dir", str(tmp / "cache"),
                "-j", "0", cwd=project)
            for label in ("a", "b"):
                home = tmp / f"machine-{label}"
                home.mkdir()
                workers.append(subprocess.Popen(
                    [sys.executable, "-m", "pyhelper", "queue", "worker", "--backend", url, "--remote", str(remote),
                     "--cache-dir", str(tmp / "cache"), "--mirror-dir", str(home / "mirrors"), "--idle", "0"],
                    cwd=home, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                    env={**os.environ, "BENCH_STARTS": str(tmp / "starts")}))
            time.sleep(1.0)
            import redis as redis_client

            client = redis_client.Redis(port=port)
            to_start, to_home, phases = [], [], []
            for run in range(args.runs + 1):  # The first run warms the workers' mirrors; it is not counted.
                name = f"bench-{run}"
                begun = time.time()
                _xp("exp", "run", "--queue", "-S", f"p={run + 1}", "-n", name, cwd=project)
                queued_at = time.time()
                follow = _xp("queue", "logs", "-f", name, cwd=project)  # Ends when it is done, fetching it home.
                home_at = time.time()
                if f"# fetched experiment '{name}'" not in follow:
                    sys.exit(f"{name} was not fetched home:\n{follow}")
                if name not in _run("git", "for-each-ref", "refs/exps/", cwd=project):
                    sys.exit(f"{name} did not come home")
                starts = sorted(float(line) for line in (tmp / "starts").read_text().split())
                started = next((t for t in starts if t >= begun), None)
                if run:
                    to_home.append(home_at - begun)
                    if started is not None:
                        to_start.append(started - begun)
                    # The entry's log stream ids are Redis's millisecond clock: when the horse began and
                    # when the experiment was pushed.
                    stream = client.xrange(f"xp:log:{_entry_id(project, name)}")
                    ids = [int(item_id.split(b"-")[0]) / 1000 for item_id, _ in stream]
                    if ids and started is not None:
                        phases.append((queued_at - begun, ids[0] - queued_at, started - ids[0],
                                       ids[-1] - started, home_at - ids[-1]))
        finally:
            for proc in workers:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                    proc.wait(10)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    os.killpg(proc.pid, signal.SIGKILL)
            redis.terminate()
            redis.wait(10)
    print(f"redis queue, 2 workers, loopback: enqueue -> stage start   xp {statistics.median(to_start):.3f} s")
    print(f"redis queue, 2 workers, loopback: queue -> result home     xp {statistics.median(to_home):.3f} s"
          f"  (median of {len(to_home)}: `xp exp run --queue`, then `xp queue logs -f` until it is fetched home)")
    if phases:
        names = ("exp run --queue", "-> horse starts", "-> stage starts", "-> stage + snapshot + push",
                 "-> logs -f sees it, fetches it home, exits")
        print("  phases (median): " + ", ".join(f"{n} {statistics.median(p[i] for p in phases):.3f} s"
                                                for i, n in enumerate(names)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
