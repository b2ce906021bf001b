"""Queue logs sent to the editor: chunks cut after a whole character, and the followers that push them.

`xp/readQueueLog` answers one chunk. `xp/followQueueLog` answers one and leaves a follower behind: a
thread that looks at the entry a few times a second, only through the queue interface (`open_queue`,
so the SQLite queue and the Redis one alike), and sends what the log gained as `xp/queueLogUpdated`.
It stops after a last notification with `done` once the entry finished and all of its log was sent,
and also when the client unfollows, the entry is removed, the server shuts down, or a day passed.
There is one follower per entry; following an entry again replaces its follower.

A log is text a stage printed, or, on the Redis queue, lines anyone with access to Redis wrote: it
is sent in chunks of at most `MAX_LOG_CHUNK` bytes, decoded as UTF-8 with anything undecodable
shown as U+FFFD, and a character cut at a chunk's end is held back for the next chunk.
"""

from __future__ import annotations

import codecs
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pyhelper.server import protocol as p
from pyhelper.server.limits import MAX_FOLLOW_SECONDS, MAX_FOLLOWED, MAX_LOG_CHUNK

if TYPE_CHECKING:
    from pyhelper.core.project import Project
    from pyhelper.core.queue.db import Entry, Status
    from pyhelper.core.queue.service import Queue
    from pyhelper.server.server import XpServer

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.25
"""How often a follower looks at its entry: a line printed reaches the editor within about this."""
UNREADABLE_SECONDS = 30.0
"""How long the queue may fail to answer (Redis restarting, a locked database) before following gives up."""


@dataclass(frozen=True)
class Chunk:
    """Log text, and the byte offset just after the bytes it was decoded from."""

    text: str
    end: int


def read_chunk(queue: Queue, entry: Entry, offset: int) -> tuple[Chunk, bool]:
    """The entry's log from byte `offset` on (at most `MAX_LOG_CHUNK` bytes), and whether that is the
    whole rest of it: the entry (as given, read before the log) has finished and less than a chunk was left."""
    from pyhelper.core.queue.service import FINISHED

    data = queue.read_log(entry.id, offset, MAX_LOG_CHUNK)
    last = entry.status in FINISHED and len(data) < MAX_LOG_CHUNK
    return decode(data, offset, last=last), last


def decode(data: bytes, offset: int, *, last: bool) -> Chunk:
    """`data`, the log from byte `offset` on, as text. A character cut at its end is left for the next
    chunk (`end` stops before it) unless `last` says none follows; bytes that are not UTF-8 become U+FFFD
    and are passed over, so `end` always moves past them."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    text = decoder.decode(data, final=last)
    held, _ = decoder.getstate()
    return Chunk(text, offset + len(data) - len(held))


class Follower:
    """One entry's log followed for the client: a thread sending `xp/queueLogUpdated` until it is stopped
    or sends one with `done`."""

    def __init__(self, ls: XpServer, project: Project, entry: Entry, offset: int):
        self.ls = ls
        self.project = project
        self.entry_id = entry.id
        self.status = entry.status
        self.offset = offset
        self.on_end: Callable[[Follower], None] = lambda follower: None
        """Called from the thread once it ends (the registry forgets it)."""
        # Held while a notification is handed to the event loop, so that once `stop` returns nothing more
        # is sent: the answer to `xp/unfollowQueueLog` is then the last word about this entry.
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"xp-queue-log-{entry.id}")

    def start(self) -> None:
        """Starts following (the first look is `POLL_SECONDS` away)."""
        self._thread.start()

    def stop(self) -> None:
        """Stops following; no notification is sent after this returns."""
        with self._lock:
            self._stopped.set()

    def _send(self, text: str, end: int, status: Status, *, done: bool, reason: str = "") -> bool:
        """Sends what the log gained since `self.offset`; False when the follower was stopped meanwhile."""
        params = p.QueueLogUpdatedParams(entry_id=self.entry_id, start=self.offset, text=text, offset=end,
                                         status=status, done=done, reason=reason)
        with self._lock:
            if self._stopped.is_set():
                return False
            self.ls.send_notification(p.QUEUE_LOG_UPDATED, params)
        self.offset, self.status = end, status
        return True

    def _run(self) -> None:
        try:
            self._follow()
        except Exception:  # A bug here must not go unseen, nor leave the client waiting for `done`.
            logger.exception("following the log of queue entry %s failed", self.entry_id)
            self._send("", self.offset, self.status, done=True, reason="following the log failed; see the helper's log")
        finally:
            self.on_end(self)

    def _follow(self) -> None:
        from pyhelper.core.queue.service import open_queue

        try:
            queue = open_queue(self.project)
        except Exception as error:  # The queue's configuration changed, Redis is gone: say so and stop.
            self._send("", self.offset, self.status, done=True, reason=f"the queue cannot be read: {_line(error)}")
            return
        try:
            self._watch(queue)
        finally:
            queue.close()

    def _watch(self, queue: Queue) -> None:
        deadline = time.monotonic() + MAX_FOLLOW_SECONDS
        failing_since: float | None = None
        while not self._stopped.wait(POLL_SECONDS):
            if time.monotonic() > deadline:
                self._send("", self.offset, self.status, done=True,
                           reason="followed for 24 hours; show the log again to go on following it")
                return
            try:
                seen = self._look(queue)
            except Exception as error:  # Tolerated for a while: Redis restarting, a busy database.
                failing_since = failing_since or time.monotonic()
                if time.monotonic() - failing_since >= UNREADABLE_SECONDS:
                    self._send("", self.offset, self.status, done=True,
                               reason=f"the queue cannot be read: {_line(error)}")
                    return
                continue
            failing_since = None
            if seen is None:
                self._send("", self.offset, self.status, done=True, reason="the entry was removed from the queue")
                return
            status, chunk, last = seen
            # Nothing is sent while nothing changed (`end` stays put while only a cut character's first
            # bytes are in, or nothing at all).
            if (chunk.text or status != self.status or last) and not self._send(
                    chunk.text, chunk.end, status, done=last):
                return
            if last:
                return

    def _look(self, queue: Queue) -> tuple[Status, Chunk, bool] | None:
        """The entry's status, what its log gained, and whether that is the last of it; None when the entry
        is gone."""
        from pyhelper.errors import BadInput

        try:
            entry = queue.get(self.entry_id)  # Before the log: a finished status means every line is in.
        except BadInput:  # No entry has this id any more.
            return None
        chunk, last = read_chunk(queue, entry, self.offset)
        return entry.status, chunk, last


def _line(error: Exception) -> str:
    """An error as one line for the editor."""
    from pyhelper.errors import XpError

    text = error.one_line() if isinstance(error, XpError) else (str(error) or type(error).__name__)
    return " ".join(text.split())[:500]


class LogFollowers:
    """The queue logs a server follows, one follower per entry."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_entry: dict[str, Follower] = {}

    def replace(self, entry_id: str, follower: Follower | None) -> None:
        """Makes `follower` (not started yet) the entry's follower, stopping the one it had; None only stops it.
        Refuses one more than `MAX_FOLLOWED` (BadInput)."""
        from pyhelper.errors import BadInput

        with self._lock:
            old = self._by_entry.pop(entry_id, None)
            if follower is not None:
                if len(self._by_entry) >= MAX_FOLLOWED:
                    if old is not None:
                        self._by_entry[entry_id] = old
                    raise BadInput(f"{MAX_FOLLOWED} queue logs are followed already",
                                   hint="wait until one of them finishes, or stop following one, then ask again")
                follower.on_end = self._ended
                self._by_entry[entry_id] = follower
        if old is not None:
            old.stop()

    def stop(self, entry_id: str) -> bool:
        """Stops following the entry; True when it was followed."""
        with self._lock:
            follower = self._by_entry.pop(entry_id, None)
        if follower is None:
            return False
        follower.stop()
        return True

    def stop_all(self) -> None:
        """Stops every follower (the server shuts down)."""
        with self._lock:
            followers = list(self._by_entry.values())
            self._by_entry.clear()
        for follower in followers:
            follower.stop()

    def _ended(self, follower: Follower) -> None:
        with self._lock:
            if self._by_entry.get(follower.entry_id) is follower:
                del self._by_entry[follower.entry_id]
