"""`xp queue …` when the queue is RQ on Redis (`--backend redis://…` or `.xp/config`): workers on any machine."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from pyhelper.cli.render import emit_json, entry_json
from pyhelper.core.credentials import redact


def redis_queue(project):
    """The project's Redis queue when `.xp/config` selects one, else None."""
    from pyhelper.core.queue.backend import redis_queue as configured

    return configured(project)


def start(args: argparse.Namespace, project) -> int:
    """`xp queue start --backend redis://… --remote URL [-j N]`: selects the backend, starts N local workers."""
    from pyhelper.core.queue.backend import QueueConfig, check_backend, read_config, write_config
    from pyhelper.core.queue.redis_backend import check_secured, connect
    from pyhelper.errors import BadInput

    current = read_config(project)
    backend = check_backend(args.backend or current.backend)
    remote = args.remote or current.remote
    if backend != "sqlite" and not remote:
        raise BadInput("--backend redis://… needs --remote URL (the git remote experiments travel through)",
                       hint="pass --remote with a URL or path every worker can reach")
    if remote:
        from pyhelper.core.gitargs import check_remote

        check_remote(remote, what="--remote")
    if args.jobs < 0:
        raise BadInput("-j must be 0 or more", hint="pass -j N with N ≥ 0 (0: only select the backend)")
    insecure = bool(args.insecure or (current.insecure and backend == current.backend))
    if backend != "sqlite":
        connect(backend).close()  # An unreachable server is reported before anything is written.
        check_secured(backend, insecure=insecure)
    config = QueueConfig(backend, remote, args.cache_dir or current.cache_dir, current.job_timeout, insecure)
    write_config(project, config)
    if backend == "sqlite":
        print("The queue is the local one (.xp/queue.db) again.")
        return 0
    assert remote  # Checked above for every backend but sqlite.
    pids = [proc.pid for proc in spawn_workers(project, config, args.jobs, idle=args.idle)]
    if args.json:
        emit_json({"pids": pids, "backend": redact(backend), "remote": redact(remote)})
        return 0
    print(f"The queue is on {redact(backend)} (experiments travel through '{redact(remote)}'); saved in .xp/config.")
    if pids:
        print(f"Started {len(pids)} local worker(s) (pids {', '.join(map(str, pids))}). On other machines: "
              f"xp queue worker --backend {redact(backend)} --remote URL")
    return 0


def spawn_workers(project, config, count: int, *, idle: float) -> list[subprocess.Popen]:
    """Starts `count` detached `xp queue worker` processes for the project's Redis queue. The URL and the
    remote go through the environment, not argv: they may hold a password or token (`ps` shows argv)."""
    logs = project.ensure_xp_dir() / "logs"
    logs.mkdir(exist_ok=True)
    command = [sys.executable, "-m", "pyhelper", "queue", "worker", "--idle", str(idle)]
    if config.cache_dir:
        command += ["--cache-dir", config.cache_dir]
    if config.insecure:
        command.append("--insecure")
    env = {**os.environ, BACKEND_ENV: config.backend, REMOTE_ENV: config.remote}
    procs = []
    for _ in range(count):
        with open(logs / "workers.log", "ab") as out:
            procs.append(subprocess.Popen(command, cwd=project.root, stdin=subprocess.DEVNULL, stdout=out,
                                          stderr=subprocess.STDOUT, start_new_session=True, env=env))
    return procs


BACKEND_ENV = "XP_QUEUE_BACKEND"
"""The worker's Redis URL when --backend is not given (how `start` hands it over without argv)."""
REMOTE_ENV = "XP_QUEUE_REMOTE"
"""The worker's git remote when --remote is not given."""


def worker(args: argparse.Namespace) -> int:
    """`xp queue worker --backend redis://… --remote URL`: run jobs here until stopped (or idle)."""
    from pyhelper.core.credentials import PASSWORD_FILE_ENV
    from pyhelper.core.queue.backend import check_backend
    from pyhelper.core.queue.remote_worker import work

    if args.password_file:
        os.environ[PASSWORD_FILE_ENV] = args.password_file
    backend = args.backend or os.environ.get(BACKEND_ENV) or ""
    ran = work(check_backend(backend), remote=args.remote or os.environ.get(REMOTE_ENV, ""),
               cache_dir=args.cache_dir, mirror_dir=args.mirror_dir, idle=args.idle or None, insecure=args.insecure)
    print(f"worker {os.getpid()} exits after {ran} experiment(s)", flush=True)
    return 0














def run_all(project, jobs: int, *, as_json: bool) -> int:
    """`xp exp run --run-all -j N` on the Redis queue: starts N local workers, shows progress until what is
    queued now (and anything queued meanwhile) is finished — by these workers or any other — then stops
    them and fetches the experiments home (with their outputs from the shared cache dir)."""
    import signal

    from pyhelper.core.queue.backend import read_config
    from pyhelper.core.queue.redis_backend import bring_home
    from pyhelper.errors import BadInput

    if jobs < 0:
        raise BadInput("-j must be 0 or more", hint="pass -j N with N ≥ 0 (0: only the workers already running)")
    config = read_config(project)
    queue = redis_queue(project)
    started, since = time.monotonic(), time.time()
    procs: list[subprocess.Popen] = []
    try:
        ours = {e.id for e in queue.entries(("queued", "running"))}
        procs = spawn_workers(project, config, jobs, idle=0)
        tty = sys.stderr.isatty()
        last, idle_since = "", time.monotonic()
        while True:
            mine = [e for e in queue.entries() if e.id in ours or e.created >= since]
            done = sum(1 for e in mine if e.status in ("success", "failed", "cancelled"))
            count = {s: sum(1 for e in mine if e.status == s) for s in ("queued", "running", "failed")}
            elapsed = time.monotonic() - started
            eta = f", ETA {elapsed / done * (len(mine) - done):.0f}s" if done and done < len(mine) else ""
            line = (f"{done}/{len(mine)} done ({count['failed']} failed), {count['running']} running, "
                    f"{count['queued']} queued, {elapsed:.1f}s elapsed{eta}")
            if tty:
                print("\r" + line.ljust(len(last)), end="", file=sys.stderr, flush=True)
            elif line.split(",")[:3] != last.split(",")[:3]:
                print(line, file=sys.stderr, flush=True)
            last = line
            if done == len(mine):
                break
            if count["running"] or queue.workers():
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since > 10:  # Nobody is left to run what is queued.
                break
            time.sleep(0.3)
        if tty:
            print(file=sys.stderr)
        fetched = bring_home(project, queue.remote, mine)
    except KeyboardInterrupt:
        print(f"{chr(10) if sys.stderr.isatty() else ''}Interrupted: stopping the {len(procs)} worker(s) started "
              f"here; what they ran is failed (or queued again if it has retries). See `xp queue status`.",
              file=sys.stderr)
        return 130
    finally:
        for proc in procs:  # RQ's warm shutdown: an idle worker exits at once, a busy one after its run.
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        queue.close()
    by_status = {s: [e for e in mine if e.status == s] for s in ("success", "failed", "cancelled", "queued", "running")}
    left = by_status["queued"] + by_status["running"]
    if as_json:
        emit_json([entry_json(e) for e in mine])
        return 1 if by_status["failed"] or left else 0
    print(f"Queue done in {time.monotonic() - started:.1f}s: {len(by_status['success'])} succeeded, "
          f"{len(by_status['failed'])} failed, {len(by_status['cancelled'])} cancelled.")
    for entry in by_status["failed"]:
        print(f"  failed: {entry.name}: {entry.error} (see `xp queue logs {entry.name}`)")
    if left:
        print(f"  {len(left)} not finished: no worker is left to run them (start workers with "
              f"`xp queue worker --backend {redact(config.backend)} --remote URL`).")
    if fetched:
        print(f"Fetched {len(fetched)} experiment(s) from '{redact(queue.remote)}': {', '.join(fetched)}.")
    return 1 if by_status["failed"] or left else 0
