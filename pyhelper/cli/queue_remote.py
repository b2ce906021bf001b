"""`xp queue …` when the queue is RQ on Redis (`--backend redis://…` or `.xp/config`): workers on any machine."""

from __future__ import annotations

import argparse
import os

from pyhelper.cli.render import emit_json
from pyhelper.core.credentials import redact


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
    from pyhelper.core.queue.service import spawn_workers

    pids = [proc.pid for proc in spawn_workers(project, config, args.jobs, idle=args.idle)]
    if args.json:
        emit_json({"pids": pids, "backend": redact(backend), "remote": redact(remote)})
        return 0
    print(f"The queue is on {redact(backend)} (experiments travel through '{redact(remote)}'); saved in .xp/config.")
    if pids:
        print(f"Started {len(pids)} local worker(s) (pids {', '.join(map(str, pids))}). On other machines: "
              f"xp queue worker --backend {redact(backend)} --remote URL")
    return 0


def worker(args: argparse.Namespace) -> int:
    """`xp queue worker --backend redis://… --remote URL`: run jobs here until stopped (or idle)."""
    from pyhelper.core.credentials import PASSWORD_FILE_ENV
    from pyhelper.core.queue.backend import check_backend
    from pyhelper.core.queue.remote_worker import work
    from pyhelper.core.queue.service import BACKEND_ENV, REMOTE_ENV

    if args.password_file:
        os.environ[PASSWORD_FILE_ENV] = args.password_file
    backend = args.backend or os.environ.get(BACKEND_ENV) or ""
    ran = work(check_backend(backend), remote=args.remote or os.environ.get(REMOTE_ENV, ""),
               cache_dir=args.cache_dir, mirror_dir=args.mirror_dir, idle=args.idle or None, insecure=args.insecure)
    print(f"worker {os.getpid()} exits after {ran} experiment(s)", flush=True)
    return 0

