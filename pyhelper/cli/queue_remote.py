"""`xp queue …` when the queue is RQ on Redis (`--backend redis://…` or `.xp/config`): workers on any machine."""

from __future__ import annotations

import argparse
import os
import sys

from pyhelper.core.credentials import redact


def select_backend(args: argparse.Namespace, project) -> bool:
    """`xp queue start --backend redis://… --remote URL`: checks and saves the queue's backend in `.xp/config`
    (`--backend sqlite`: the local queue again); True when workers should be started (not for sqlite)."""
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
        from pyhelper.core.git.gitargs import check_remote

        check_remote(remote, what="--remote")
    if args.jobs < 0:
        raise BadInput("-j must be 0 or more", hint="pass -j N with N ≥ 0 (0: only select the backend)")
    insecure = bool(args.insecure or (current.insecure and backend == current.backend))
    if backend != "sqlite":
        connect(backend).close()  # An unreachable server is reported before anything is written.
        check_secured(backend, insecure=insecure)
    write_config(project, QueueConfig(backend, remote, args.cache_dir or current.cache_dir, current.job_timeout,
                                      insecure))
    if backend == "sqlite":
        print("The queue is the local one (.xp/queue.db) again.", file=sys.stderr if args.json else sys.stdout)
        return False
    assert remote  # Checked above for every backend but sqlite.
    if not args.json:
        print(f"The queue is on {redact(backend)} (experiments travel through '{redact(remote)}'); saved in "
              ".xp/config.")
    return True


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

