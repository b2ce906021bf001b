"""Queue requests: start and stop workers, status, a log chunk by offset, a log followed, kill, retry."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pyhelper.errors import XpError
from pyhelper.server import convert
from pyhelper.server import protocol as p
from pyhelper.server.errors import rpc_error, translated
from pyhelper.server.limits import MAX_JOBS

if TYPE_CHECKING:
    from pyhelper.core.project import Project
    from pyhelper.core.queue.service import Queue
    from pyhelper.server.queue_logs import Follower
    from pyhelper.server.server import XpServer


def start_queue(ls: XpServer, params: p.StartQueueParams) -> p.StartQueueResult:
    """`xp queue start -j N` (detached workers: they outlive the server); with a progress token,
    the queue's counts are reported until nothing is queued or running (Cancel = stop and kill)."""
    from pyhelper.core.queue.service import open_queue
    from pyhelper.core.queue.worker import DEFAULT_IDLE_SECONDS
    from pyhelper.errors import BadInput

    if not 1 <= params.jobs <= MAX_JOBS:
        raise BadInput(f"jobs must be between 1 and {MAX_JOBS} (got {params.jobs:,})",
                       hint=f"start at most {MAX_JOBS} workers; each runs one experiment at a time")
    project = ls.project()
    queue = open_queue(project)
    try:
        workers = queue.start_workers(params.jobs, idle=DEFAULT_IDLE_SECONDS)
    finally:
        queue.close()
    token = params.work_done_token
    if token is not None:
        from pyhelper.server import progress

        progress.begin(ls, token, f"xp: running the queue{queue.where} ({len(workers)} workers)",
                       on_cancel=lambda: _stop_all(project))
        threading.Thread(target=_follow_queue, args=(ls, project, token), daemon=True,
                         name="xp-queue-progress").start()
    return p.StartQueueResult(workers=len(workers))


def _stop_all(project: Project) -> None:
    """The progress's Cancel: every worker stops, and what runs is killed."""
    queue = _queue(project)
    try:
        queue.stop_workers(kill_running=True)
    finally:
        queue.close()


def _follow_queue(ls: XpServer, project: Project, token: int | str) -> None:
    """Reports running/queued/finished counts every half second until the queue has nothing left to do
    (a remote queue's finished experiments are fetched home as it looks)."""
    from pyhelper.server import progress

    active = ("queued", "running")
    watched: set[str] = set()
    last = ""
    idle_since = time.monotonic()
    try:
        queue = _queue(project)
    except Exception as error:  # A broken queue database, Redis gone: say it and stop following.
        progress.end(ls, token, f"the queue cannot be read: {error}")
        return
    try:
        while True:
            try:
                now = queue.view()
            except Exception as error:
                progress.end(ls, token, f"the queue cannot be read: {error}")
                return
            watched |= {e.id for e in now.entries if e.status in active}
            mine = [e for e in now.entries if e.id in watched]
            running, queued = sum(e.status == "running" for e in mine), sum(e.status == "queued" for e in mine)
            failed = sum(e.status == "failed" for e in mine)
            done = len(mine) - running - queued
            if running or queued:
                idle_since = time.monotonic()
            text = f"{running} running, {queued} queued, {done} finished" + (f" ({failed} failed)" if failed else "")
            if text != last:
                progress.report(ls, token, text)
                last = text
            # Finished, or no worker left to do what is queued (stopped), or nothing ever showed up.
            if (not running and not queued and (watched or time.monotonic() - idle_since > 5)) \
                    or (not now.workers and not running and time.monotonic() - idle_since > 5):
                progress.end(ls, token,
                             f"queue finished: {done} experiment(s)" + (f", {failed} failed" if failed else ""))
                return
            time.sleep(0.5)
    finally:
        queue.close()


def _queue(project: Project) -> Queue:
    from pyhelper.core.queue.service import open_queue

    return open_queue(project)


def stop_queue(ls: XpServer, params: p.StopQueueParams) -> p.StopQueueResult:
    """`xp queue stop [--kill]`."""
    queue = _queue(ls.project())
    try:
        queue.stop_workers(kill_running=params.kill)
    finally:
        queue.close()
    return p.StopQueueResult()


def queue_status(ls: XpServer, params: p.QueueStatusParams) -> p.QueueStatusResult:
    """`xp queue status`."""
    queue = _queue(ls.project())
    try:
        current = queue.view()
    finally:
        queue.close()
    return p.QueueStatusResult(entries=[convert.entry(e) for e in current.entries],
                               workers=[convert.worker(w) for w in current.workers])


def read_queue_log(ls: XpServer, params: p.ReadQueueLogParams) -> p.ReadQueueLogResult:
    """The log of an entry from a byte offset on (`xp queue logs`, one chunk)."""
    from pyhelper.errors import BadInput
    from pyhelper.server.queue_logs import read_chunk

    if params.offset < 0:
        raise BadInput(f"offset must be 0 or more (got {params.offset})", hint="start at 0")
    queue = _queue(ls.project())
    try:
        entry = queue.find(params.name)  # Before the log: a finished status means every line is in.
        chunk, _ = read_chunk(queue, entry, params.offset)
    finally:
        queue.close()
    return p.ReadQueueLogResult(text=chunk.text, next_offset=chunk.end, status=entry.status)


def kill_queue_entries(ls: XpServer, params: p.KillQueueEntriesParams) -> p.KillQueueEntriesResult:
    """`xp queue kill`; answered at once (on Redis, a run still going after its grace is stopped by RQ
    after the answer)."""
    queue = _queue(ls.project())
    try:
        killed = queue.kill(list(params.names), force=params.force, answer_first=True)
    finally:
        queue.close()
    return p.KillQueueEntriesResult(names=[e.name for e in killed.entries])


def retry_queue_entries(ls: XpServer, params: p.RetryQueueEntriesParams) -> p.RetryQueueEntriesResult:
    """`xp queue retry`."""
    queue = _queue(ls.project())
    try:
        return p.RetryQueueEntriesResult(names=[e.name for e in queue.retry(list(params.names))])
    finally:
        queue.close()


async def follow_queue_log(ls: XpServer, params: p.FollowQueueLogParams) -> p.FollowQueueLogResult:
    """`xp queue logs -f` for the editor: the log so far in the answer, the rest pushed as `xp/queueLogUpdated`
    by a follower (`queue_logs.py`) until the entry finishes."""
    loop = asyncio.get_running_loop()
    answer, follower = await loop.run_in_executor(ls.thread_pool, translated(_first_chunk), ls, params)
    try:
        ls.log_followers.replace(answer.entry_id, follower)
    except XpError as exc:
        raise rpc_error(exc) from None
    if follower is not None:
        # The answer is sent by a callback the loop runs after this one: whatever the follower hands the
        # loop comes after it, so the client knows the entry before its first notification.
        loop.call_soon(follower.start)
    return answer


def _first_chunk(ls: XpServer, params: p.FollowQueueLogParams) -> tuple[p.FollowQueueLogResult, Follower | None]:
    """The follow's answer, and the follower to start (None when the entry finished and all its log is in)."""
    from pyhelper.errors import BadInput
    from pyhelper.server.queue_logs import Follower, read_chunk

    if params.offset < 0:
        raise BadInput(f"offset must be 0 or more (got {params.offset})", hint="start at 0")
    project = ls.project()
    queue = _queue(project)
    try:
        entry = queue.find(params.entry)
        chunk, last = read_chunk(queue, entry, params.offset)
    finally:
        queue.close()
    answer = p.FollowQueueLogResult(entry_id=entry.id, name=entry.name, status=entry.status, text=chunk.text,
                                    offset=chunk.end, done=last)
    return answer, None if last else Follower(ls, project, entry, chunk.end)


async def unfollow_queue_log(ls: XpServer, params: p.UnfollowQueueLogParams) -> p.UnfollowQueueLogResult:
    """Stops following an entry's log. Answered on the event loop after the notifications already handed to
    it, so none for the entry comes after the answer."""
    return p.UnfollowQueueLogResult(followed=ls.log_followers.stop(params.entry_id))


HANDLERS: dict[str, Callable[..., Any]] = {
    p.START_QUEUE: start_queue,
    p.STOP_QUEUE: stop_queue,
    p.QUEUE_STATUS: queue_status,
    p.READ_QUEUE_LOG: read_queue_log,
    p.KILL_QUEUE_ENTRIES: kill_queue_entries,
    p.RETRY_QUEUE_ENTRIES: retry_queue_entries,
}

LOOP_HANDLERS: dict[str, Callable[..., Any]] = {
    p.FOLLOW_QUEUE_LOG: follow_queue_log,
    p.UNFOLLOW_QUEUE_LOG: unfollow_queue_log,
}
"""Run on the event loop (their reading is done in the thread pool): the order of their answers and the
notifications of `queue_logs.py` is the order in which the client gets them."""


def register(server: XpServer) -> None:
    """Registers the queue requests, each run on a worker thread (following a log: on the event loop)."""
    for method, handler in HANDLERS.items():
        server.feature(method)(server.thread()(translated(handler)))
    for method, handler in LOOP_HANDLERS.items():
        server.feature(method)(handler)
