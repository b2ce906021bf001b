"""Processes xp started or found: is one alive, signal or stop a process group, this host's name.

One module for what the queue workers, `repro`, the git transfers and the checkpoint sockets each
had their own copy of.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess


def alive(pid: int) -> bool:
    """True while a process with this id exists and is not a zombie (another user's counts: not ours to judge).

    A child of ours that has ended is reaped here, so it does not linger as a zombie that looks alive.
    """
    if pid <= 0:
        return False  # 0 and negatives name process groups to os.kill, not one process.
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return False
    except ChildProcessError:
        pass  # Not our child.
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except FileNotFoundError:
        return False
    except (OSError, IndexError):
        pass  # No /proc (or unreadable): ask the kernel instead.
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def group_alive(pgid: int) -> bool:
    """True while any process of group `pgid` exists."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def signal_group(pgid: int, sig: int) -> None:
    """Sends `sig` to group `pgid`; a group that is gone (or not ours) is left alone."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def stop_group(proc: subprocess.Popen[str] | subprocess.Popen[bytes], grace: float = 5.0) -> None:
    """Stops the process group `proc` leads: SIGTERM, then SIGKILL after `grace` seconds; waits for `proc`."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue


def hostname() -> str:
    """This machine's name, as workers and running experiments record it (`socket.gethostname()` on POSIX)."""
    return os.uname().nodename
