"""`queue kill` on the Redis queue, to its end: the cancel flag first (the run's worker sends SIGTERM,
waits its grace, then SIGKILL), and RQ's stop-job command for a run still going after that — a work
horse that no longer answers cannot carry out the flag. One implementation for the CLI and the server.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from pyhelper.core.queue.remote_watch import KILL_GRACE_SECONDS

if TYPE_CHECKING:
    from pyhelper.core.queue.redis_backend import RedisQueue

ANSWER_SECONDS = 3.0
"""How long past the grace a worker may take to report its run ended before the hard stop."""


def bound(force: bool) -> float:
    """Seconds a run may take to end after the cancel request before RQ stops it."""
    return ANSWER_SECONDS + (0 if force else KILL_GRACE_SECONDS)


def stop_the_rest(queue: RedisQueue, entry_ids: list[str], *, force: bool,
                  sleep: Callable[[float], None] = time.sleep) -> list[str]:
    """Waits `bound(force)` for the running entries among `entry_ids` to end after their cancel flag;
    stops those still running with RQ's stop-job command. Returns the ids stopped that way."""
    deadline = time.monotonic() + bound(force)
    running = [i for i in entry_ids if queue.get(i).status == "running"]
    while running and time.monotonic() < deadline:
        sleep(0.2)
        running = [i for i in running if queue.get(i).status == "running"]
    for entry_id in running:
        queue.hard_stop(entry_id)
    return running
