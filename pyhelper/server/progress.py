"""`$/progress` for long work the client asked to follow (a `workDoneToken` in its request), and
what a Cancel on that progress does, by token.

Runs (features/run.py) keep their own process table; other long work (the queue, push/pull)
registers a cancel action here, and run.py's cancel handler falls back to it. Every call is safe
from worker threads (it goes through `XpServer.call`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from lsprotocol import types as lsp

if TYPE_CHECKING:
    from pyhelper.server.server import XpServer

Token = int | str

_CANCELS: dict[Token, Callable[[], object]] = {}
_LOCK = threading.Lock()


def begin(ls: XpServer, token: Token, title: str, *, on_cancel: Callable[[], object] | None = None) -> None:
    """Starts the progress shown for `token`; it is cancellable when `on_cancel` is given."""
    if on_cancel is not None:
        with _LOCK:
            _CANCELS[token] = on_cancel
    ls.call(ls.work_done_progress.begin, token,
            lsp.WorkDoneProgressBegin(title=title, cancellable=on_cancel is not None))


def report(ls: XpServer, token: Token, message: str, percentage: int | None = None) -> None:
    """One line of news (cut to 200 characters), with how far along it is when that is known (0–100)."""
    ls.call(ls.work_done_progress.report, token, lsp.WorkDoneProgressReport(message=message[:200],
                                                                             percentage=percentage))


def counting(ls: XpServer, token: Token | None, verb: str) -> Callable[[int, int], None] | None:
    """A transfer's `progress(done, total)` as `$/progress` reports ("Fetching outputs 3/40 object(s)", with
    its percentage), at most 4 a second and always the last; None without a token."""
    if token is None:
        return None
    import time

    last = [0.0]

    def show(done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - last[0] < 0.25:
            return
        last[0] = now
        report(ls, token, f"{verb} {done}/{total} object(s)", percentage=100 * done // total if total else 100)

    return show


def end(ls: XpServer, token: Token, message: str) -> None:
    """Ends the progress; a later Cancel for this token does nothing."""
    with _LOCK:
        _CANCELS.pop(token, None)
    ls.call(ls.work_done_progress.end, token, lsp.WorkDoneProgressEnd(message=message[:200]))


def cancelled(token: Token) -> bool:
    """Runs the cancel action registered for `token` (once); False when there is none."""
    with _LOCK:
        action = _CANCELS.pop(token, None)
    if action is None:
        return False
    action()
    return True
