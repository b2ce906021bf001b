"""`xp queue …`: start workers, watch, kill, stop, remove, retry; and `xp exp run --queue/--run-all`."""

from __future__ import annotations

import argparse
import os
import sys
import time

from pyhelper.cli.render import duration, emit_json, entry_json, table


def _project():
    from pyhelper.core.project import find_project

    return find_project()










def queued(entries, *, as_json: bool) -> None:
    """Prints what was queued."""
    if as_json:
        emit_json([entry_json(e) for e in entries])
        return
    for entry in entries:
        print(f"Queued '{entry.name}'" + (f": {' '.join(entry.params)}" if entry.params else ""))
    print(f"{len(entries)} experiment(s) queued. Run them with `xp queue start -j N` or `xp exp run --run-all`.")


def run_all(project, jobs: int, *, as_json: bool) -> int:
    """`exp run --run-all -j N`: starts N workers here and shows progress until what is queued now is done
    (the local queue or the Redis one alike)."""
    from pyhelper.core.queue.service import open_queue

    started = time.monotonic()
    tty = sys.stderr.isatty()
    last = [""]

    def tick(entries: list) -> None:
        count = {s: sum(1 for e in entries if e.status == s) for s in ("queued", "running", "failed")}
        done = sum(1 for e in entries if e.status in ("success", "failed", "cancelled"))
        total = len(entries)
        elapsed = time.monotonic() - started
        eta = f", ETA {elapsed / done * (total - done):.0f}s" if done and done < total else ""
        line = (f"{done}/{total} done ({count['failed']} failed), {count['running']} running, "
                f"{count['queued']} queued, {elapsed:.1f}s elapsed{eta}")
        if tty:
            print("\r" + line.ljust(len(last[0])), end="", file=sys.stderr, flush=True)
        elif line.split(",")[:3] != last[0].split(",")[:3]:
            print(line, file=sys.stderr, flush=True)
        last[0] = line

    queue = open_queue(project)
    try:
        ran = queue.run_all(jobs, tick)
    except KeyboardInterrupt:
        print(f"{chr(10) if tty else ''}Interrupted: stopped {queue.started} worker(s); what they ran is failed "
              f"(or queued again if it has retries), the rest stays queued. See `xp queue status`.", file=sys.stderr)
        return 130
    finally:
        queue.close()
    if tty:
        print(file=sys.stderr)
    final = ran.entries
    by_status = {s: [e for e in final if e.status == s]
                 for s in ("success", "failed", "cancelled", "queued", "running")}
    left = by_status["queued"] + by_status["running"]
    if as_json:
        emit_json([entry_json(e) for e in final])
        return 1 if by_status["failed"] or left else 0
    print(f"Queue done in {time.monotonic() - started:.1f}s: {len(by_status['success'])} succeeded, "
          f"{len(by_status['failed'])} failed, {len(by_status['cancelled'])} cancelled.")
    for entry in by_status["failed"]:
        print(f"  failed: {entry.name}: {entry.error} (see `xp queue logs {entry.name}`)")
    if left:
        print(f"  {len(left)} not finished: no worker is left to run them (start workers with "
              f"`{queue.start_hint}`{'' if queue.where else '; see .xp/logs/workers.log'}).")
    if ran.fetched:
        print(f"Fetched {len(ran.fetched)} experiment(s){queue.where}: {', '.join(ran.fetched)}.")
    return 1 if by_status["failed"] or left else 0


def start(args: argparse.Namespace) -> int:
    """`xp queue start -j N` (with --backend/--remote: first choose where the queue is)."""
    project = _project()
    if args.backend or args.remote:  # RQ on Redis (or back to sqlite): saved in .xp/config.
        from pyhelper.cli.queue_remote import select_backend

        if not select_backend(args, project):
            return 0
    queue = _queue()
    try:
        pids = queue.start_workers(args.jobs, idle=args.idle)
    finally:
        queue.close()
    if args.json:
        emit_json({"pids": pids, **queue.about})
        return 0
    if pids:
        print(f"Started {len(pids)} worker(s){queue.where} (pids {', '.join(map(str, pids))}); they exit after "
              f"{args.idle:g}s with nothing to do. Watch with `xp queue status`.")
    if queue.where:
        print(f"Workers on other machines: {queue.start_hint}")
    return 0


def worker(args: argparse.Namespace) -> int:
    """`xp queue worker` (started by `xp queue start`)."""
    from pyhelper.core.queue.worker import work

    backend = args.backend or os.environ.get("XP_QUEUE_BACKEND")
    if backend and backend != "sqlite":  # An RQ worker, on any machine: no project needed.
        from pyhelper.cli.queue_remote import worker as remote_worker

        return remote_worker(args)
    ran = work(_project(), idle=5.0 if args.idle is None else args.idle)
    print(f"worker {os.getpid()} exits after {ran} experiment(s)", flush=True)
    return 0


def _queue():
    """The project's queue (local or on Redis: `.xp/config` says), to be closed."""
    from pyhelper.core.queue.service import open_queue

    return open_queue(_project())


def status(args: argparse.Namespace) -> int:
    """`xp queue status`."""
    from pyhelper.core.credentials import redact

    queue = _queue()
    try:
        current = queue.view()
        url = getattr(getattr(queue, "queue", None), "url", None)
    finally:
        queue.close()
    names = {e.id: e.name for e in current.entries}
    if args.json:
        emit_json({**({"backend": redact(url)} if url else {}),
                   "entries": [entry_json(e) for e in current.entries],
                   "workers": [{"id": w.id, "pid": w.pid, "host": w.host, "entry": w.entry,
                                "entryName": names.get(w.entry) if w.entry else None, "stopping": bool(w.stopping),
                                "started": w.started, "heartbeat": w.heartbeat} for w in current.workers]})
        return 0
    if not current.entries:
        print(f"The queue{queue.where} is empty. Queue experiments with `xp exp run --queue -S key=v1,v2`.")
    else:
        rows = [[e.name, e.status, " ".join(e.params) or "-", e.worker or "-", duration(e.duration),
                 (e.error[:60] if e.error else "-")] for e in current.entries]
        print(table(["Experiment", "Status", "Params", "Worker", "Duration", "Error"], rows))
    print()
    if current.workers:
        print(f"{len(current.workers)} worker(s){queue.where}:")
        for w in current.workers:
            doing = f"running '{names.get(w.entry, w.entry)}'" if w.entry else "idle"
            doing += ", stopping" if w.stopping else ""
            print(f"  {w.id}  pid {w.pid} on {w.host}  {doing}")
    elif queue.where:
        print(f"No worker listens{queue.where} (start one with `{queue.start_hint}`).")
    else:
        hint = f" (start them with `{queue.start_hint}`)." if current.count("queued") else "."
        print("No worker is running" + hint)
    if current.fetched:
        print(f"Fetched {len(current.fetched)} finished experiment(s): {', '.join(current.fetched)}.")
    return 0


def logs(args: argparse.Namespace) -> int:
    """`xp queue logs NAME [-f]`: the entry's log; following a run prints its lines as they come and ends when
    it does (a remote run's experiment is then fetched home)."""
    queue = _queue()
    try:
        entry = queue.find(args.name)
        offset = 0
        last_worker = time.monotonic()
        while True:
            current = queue.get(entry.id)  # Read before the log: a final status means every line is in.
            chunk = queue.read_log(entry.id, offset)
            offset += len(chunk)
            sys.stdout.write(chunk.decode("utf-8", errors="replace"))
            sys.stdout.flush()
            if not args.follow or current.status not in ("queued", "running"):
                if offset == 0:
                    print(f"'{entry.name}' is {current.status} and has no log yet.")
                if args.follow:
                    for name in queue.finished([current]):
                        print(f"# fetched experiment '{name}'{queue.where}")
                return 0
            if current.status == "queued" and not queue.view().workers:
                if time.monotonic() - last_worker > 10:  # Following would never end.
                    print(f"'{entry.name}' is still queued and no worker is running{queue.where}; start one with "
                          f"`{queue.start_hint}`.", file=sys.stderr)
                    return 0
            else:
                last_worker = time.monotonic()
            time.sleep(0.3)
    finally:
        queue.close()


def kill(args: argparse.Namespace) -> int:
    """`xp queue kill NAME…`."""
    queue = _queue()
    try:
        killed = queue.kill(args.names, force=args.force)
    finally:
        queue.close()
    if args.json:
        emit_json([{"id": e.id, "name": e.name, "was": e.status} for e in killed.entries])
        return 0
    from pyhelper.core.queue.remote_kill import bound

    for entry in killed.entries:
        what = "cancelled" if entry.status == "queued" else ("killing" if args.force else "stopping")
        print(f"{entry.name}: {what}")
        if entry.id in killed.hard_stopped:  # The worker did not answer (a hung work horse).
            print(f"{entry.name}: still running {bound(args.force):.0f} s after the cancel request; "
                  f"stopped with RQ's stop-job command", file=sys.stderr)
    return 0


def stop(args: argparse.Namespace) -> int:
    """`xp queue stop [--kill]`."""
    queue = _queue()
    try:
        count = queue.stop_workers(kill_running=args.kill)
    finally:
        queue.close()
    if args.json:
        emit_json({"workers": count})
        return 0
    print(f"Asked {count} worker(s){queue.where} to stop"
          + (" now." if args.kill else " after their current experiment."))
    return 0


def remove(args: argparse.Namespace) -> int:
    """`xp queue remove`."""
    statuses: tuple[str, ...] = ()
    if args.all:
        statuses = ("queued", "success", "failed", "cancelled")
    else:
        statuses = tuple(s for s, on in (("queued", args.queued), ("success", args.success),
                                           ("failed", args.failed), ("cancelled", args.cancelled)) if on)
    queue = _queue()
    try:
        removed = queue.remove(args.names, statuses)
        left = queue.view().count("cancelled") if "failed" in statuses and "cancelled" not in statuses else 0
    finally:
        queue.close()
    if args.json:
        emit_json([{"id": e.id, "name": e.name, "status": e.status} for e in removed])
        return 0
    print(f"Removed {len(removed)} entr{'y' if len(removed) == 1 else 'ies'}.")
    if left:
        # Killed entries are cancelled, not failed (they did not fail): say where they went.
        print(f"{left} cancelled entr{'y is' if left == 1 else 'ies are'} left: `--cancelled` removes "
              f"{'it' if left == 1 else 'them'}.")
    return 0


def retry(args: argparse.Namespace) -> int:
    """`xp queue retry NAME…`."""
    queue = _queue()
    try:
        entries = queue.retry(args.names)
    finally:
        queue.close()
    if args.json:
        emit_json([entry_json(e) for e in entries])
        return 0
    print(f"Queued again: {', '.join(e.name for e in entries)}.")
    return 0


def recover(args: argparse.Namespace) -> int:
    """`xp queue recover [--dry]`."""
    queue = _queue()
    try:
        found = queue.recover(dry=args.dry)
    finally:
        queue.close()
    rows = [e if isinstance(e, dict) else {"id": e.id, "name": e.name, "status": e.status, "params": list(e.params)}
            for e in found.entries]
    if args.json:
        emit_json([{k: r[k] for k in ("id", "name", "status", "params")} for r in rows])
        return 0
    if not rows:
        print(f"Nothing to recover: the queue knows every queued commit ({found.known}).")
        return 0
    print(table(["Name", "Status", "Params"], [[r["name"], r["status"], " ".join(r["params"]) or "-"] for r in rows]))
    verb = "Would recover" if args.dry else "Recovered"
    queued = sum(1 for r in rows if r["status"] == "queued")
    print(f"{verb} {len(rows)} entr{'y' if len(rows) == 1 else 'ies'} from git ({queued} to run"
          f"{'; start workers with `xp queue start -j N`' if queued and not args.dry else ''}).")
    return 0


def _backend_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", metavar="URL", help="redis://HOST:PORT/DB: the queue on RQ and Redis (saved in "
                   ".xp/config by `start`); sqlite: the local queue")
    p.add_argument("--remote", metavar="URL", help="the shared git remote experiments travel through")
    p.add_argument("--cache-dir", metavar="DIR", help="the shared output cache workers write to (a folder every "
                   "machine reaches)")
    p.add_argument("--insecure", action="store_true", help="accept a Redis that needs no password (anyone who "
                   "reaches it could queue work for the workers; see SECURITY.md)")


def add_arguments(queue: argparse.ArgumentParser) -> None:
    """Adds the sub-commands of `xp queue` to its parser."""
    cmds = queue.add_subparsers(dest="queue_command", metavar="COMMAND", required=True)
    p = cmds.add_parser("start", help="start N detached worker processes")
    p.add_argument("-j", "--jobs", type=int, default=1, metavar="N")
    p.add_argument("--idle", type=float, default=5.0, metavar="SECONDS", help="exit after this long with nothing to do")
    p.add_argument("--json", action="store_true", help="print the workers' pids as JSON")
    _backend_arguments(p)
    p.set_defaults(handler="queue:start")
    p = cmds.add_parser("worker", help="run queued experiments in this process (what `start` launches)",
                        description="Run queued experiments. With --backend redis://…, an RQ worker that can run "
                                    "on any machine: it fetches each entry's commit from --remote, runs it in a "
                                    "temp work tree and pushes the experiment ref back. It runs only xp's own jobs "
                                    "(anything else in Redis is refused and logged), always from its own --remote, "
                                    "and refuses a Redis that needs no password unless --insecure. Safe set-up: "
                                    "a password (XP_REDIS_PASSWORD, --password-file or redis://USER:PW@HOST/DB), "
                                    "a private network, TLS across networks (rediss://HOST:PORT/DB?ssl_ca_certs=CA); "
                                    "see SECURITY.md.")
    p.add_argument("--idle", type=float, metavar="SECONDS", help="exit after this long with nothing to do "
                   "(default 5; with --backend: never)")
    _backend_arguments(p)
    p.add_argument("--mirror-dir", metavar="DIR", help="where the worker keeps its mirrors of the repository "
                   "(default ~/.cache/xp/mirrors)")
    p.add_argument("--password-file", metavar="FILE", help="read the Redis password from FILE's first line (or set "
                   "XP_REDIS_PASSWORD; both keep it out of `ps`). --backend and --remote default to "
                   "XP_QUEUE_BACKEND and XP_QUEUE_REMOTE")
    p.set_defaults(handler="queue:worker")
    p = cmds.add_parser("status", help="entries and live workers")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler="queue:status")
    p = cmds.add_parser("logs", help="an entry's log")
    p.add_argument("name")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing until the entry finishes")
    p.set_defaults(handler="queue:logs")
    p = cmds.add_parser("kill", help="cancel queued entries, stop running ones")
    p.add_argument("names", nargs="+", metavar="NAME")
    p.add_argument("--force", action="store_true", help="SIGKILL at once instead of SIGTERM and a grace period")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler="queue:kill")
    p = cmds.add_parser("stop", help="stop the workers after their current experiment")
    p.add_argument("--kill", action="store_true", help="stop the running experiments too")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler="queue:stop")
    p = cmds.add_parser("remove", help="remove entries")
    p.add_argument("names", nargs="*", metavar="NAME")
    for flag in ("queued", "success", "failed", "cancelled", "all"):
        p.add_argument(f"--{flag}", action="store_true",
                       help={"all": "every entry that is not running",
                             "failed": "every failed entry (killed ones are cancelled: --cancelled)"}.get(
                           flag, f"every {flag} entry"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler="queue:remove")
    p = cmds.add_parser("retry", help="queue finished entries again")
    p.add_argument("names", nargs="+", metavar="NAME")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler="queue:retry")
    p = cmds.add_parser("recover", help="rebuild lost queue entries from git (refs/xp/queue/)",
                        description="Re-create the entries of every queued commit the queue does not know "
                                    "(.xp/queue.db deleted or moved away; on Redis: entries Redis lost, rebuilt "
                                    "from the shared remote): those whose experiment is in git as success, the "
                                    "others as queued.")
    p.add_argument("--dry", action="store_true", help="only show what would be recovered")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler="queue:recover")
