"""`xp/runExperiment` and `xp/reproPipeline`: return at once; the work is an `xp exp run` /
`xp repro` subprocess.

The subprocess starts a session of its own and writes its output to `.xp/logs/run-<name>.log` (`repro.log`),
so it finishes (and records its experiment) even when the editor and this server go away.
A thread follows the log and reports each line through `$/progress` when the client gave a
token; a failed run is also shown as an error message (the CLI's one line).
"""

from __future__ import annotations

import collections
import contextlib
import math
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from lsprotocol import types as lsp

from pyhelper.errors import BadInput
from pyhelper.server import protocol as p
from pyhelper.server.errors import translated
from pyhelper.server.limits import MAX_MESSAGE, cut

if TYPE_CHECKING:
    from pyhelper.server.server import XpServer


def run_experiment(ls: XpServer, params: p.RunExperimentParams) -> p.RunExperimentResult:
    """Queues the run (`queue`), or starts `xp exp run` in the background and names it."""
    from pyhelper.core.experiments.save import choose_name
    from pyhelper.core.git.gitrepo import head_commit, open_repo
    from pyhelper.core.queue.sweep import parse_axis

    project = ls.project()
    if params.queue:
        from pyhelper.core.queue.enqueue import enqueue

        entries = enqueue(project, set_values=list(params.params), name=params.name, message=params.message)
        return p.RunExperimentResult(started=True, names=[e.name for e in entries])
    # The size of the grid, without making it (a few -S of 100 values each is 10^10 points).
    points = math.prod(len(parse_axis(assignment).values) for assignment in params.params)
    if points > 1:  # The same check, and text, as `xp exp run`.
        raise BadInput(f"these -S values describe {points} experiments",
                       hint="add --queue to queue them, then run them with `xp exp run --run-all -j N`")
    project.require_pipeline()
    repo = open_repo(project)
    name = choose_name(repo, str(head_commit(repo, project).id), params.name, force=False)
    command = [sys.executable, "-m", "pyhelper", "exp", "run", "-n", name]
    command += [f"-S{assignment}" for assignment in params.params]  # Attached: a value never reads as an option.
    if params.message:
        command.append(f"--message={params.message}")
    if params.temp:
        command.append("--temp")
    _start(ls, project.root, command, f"run-{name}", f"xp: running experiment '{name}'",
           f"experiment '{name}'", f"experiment '{name}' recorded", params.work_done_token)
    return p.RunExperimentResult(started=True, names=[name])


def repro_pipeline(ls: XpServer, params: p.ReproPipelineParams) -> p.ReproPipelineResult:
    """Starts `xp repro` in the background."""
    from pyhelper.core.pipeline.graph import order

    project = ls.project()
    project.require_pipeline()
    # A broken dvc.yaml, an unknown target or a cycle is said now, in the CLI's words.
    order(project.pipeline(), project.root, list(params.targets) or None)
    from pyhelper.core.values.params_edit import parse_override

    for assignment in params.params:  # A bad -S (or one outside the project) is said now, not in the log.
        parse_override(assignment)
    command = [sys.executable, "-m", "pyhelper", "repro"]
    if params.force:
        command.append("-f")
    command += [f"-S{assignment}" for assignment in params.params]  # Attached: a value never reads as an option.
    command += ["--", *params.targets]  # Targets are positionals, whatever they start with.
    _start(ls, project.root, command, "repro", "xp: reproducing the pipeline", "xp repro", "pipeline up to date",
           params.work_done_token)
    return p.ReproPipelineResult(started=True)


def _start(ls: XpServer, root: Path, command: list[str], log_name: str, title: str, what: str, success: str,
           token: int | str | None) -> None:
    """Starts `command` in its own session, its output in .xp/logs/<log_name>.log, and follows it."""
    from pyhelper.core.project import Project

    logs = Project(root).ensure_xp_dir() / "logs"
    logs.mkdir(exist_ok=True)
    log = logs / f"{log_name}.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(command, cwd=root, stdin=subprocess.DEVNULL, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    if token is not None:
        _RUNNING[token] = process
        ls.call(ls.work_done_progress.begin, token, lsp.WorkDoneProgressBegin(title=title, cancellable=True))
    threading.Thread(target=_follow, args=(ls, process, log, what, success, token), daemon=True,
                     name=f"xp-{log_name}").start()


def _follow(ls: XpServer, process: subprocess.Popen, log: Path, what: str, success: str,
            token: int | str | None) -> None:
    """Reports the log's new lines until the run ends, then how it ended.

    Memory stays bounded whatever the run prints: the log is read 1 MiB at a time, and only its last
    lines are kept (the CLI's error and the failed stage's tail are at the end).
    """
    offset = 0
    last = ""
    lines: collections.deque[str] = collections.deque(maxlen=1000)
    while True:
        done = process.poll() is not None
        try:
            with open(log, "rb") as handle:
                handle.seek(offset)
                chunk = handle.read(_CHUNK)
        except OSError:
            chunk = b""
        offset += len(chunk)
        if done and len(chunk) == _CHUNK:
            done = False  # More of the log to read before saying how the run ended.
        for line in chunk.decode("utf-8", errors="replace").splitlines():
            lines.append(line)
            if line.strip():
                last = line.strip()
                if token is not None:
                    ls.call(ls.work_done_progress.report, token, lsp.WorkDoneProgressReport(message=last[:200]))
        if done:
            break
        if len(chunk) < _CHUNK:
            time.sleep(0.1)
    if token is not None:
        _RUNNING.pop(token, None)
    failed = process.returncode != 0
    text = success
    if failed:
        # The CLI's error starts at its last `error: ` line (a failed stage adds its output's tail).
        kept = list(lines)
        starts = [i for i, line in enumerate(kept) if line.startswith("error: ")]
        text = cut("\n".join(kept[starts[-1]:]).removeprefix("error: ") if starts else last, MAX_MESSAGE)
    if token is not None:
        ls.call(ls.work_done_progress.end, token, lsp.WorkDoneProgressEnd(message=(text.splitlines() or [""])[0][:200]))
    if failed:
        ls.call(ls.window_show_message, lsp.ShowMessageParams(
            type=lsp.MessageType.Error, message=f"xp: {what} failed: {text}"))


_CHUNK = 1 << 20
"""Bytes of a run's log read per look."""

_RUNNING: dict[int | str, subprocess.Popen] = {}
"""Progress token → the run reporting through it (what a cancel stops)."""


def cancel(ls: XpServer, params: lsp.WorkDoneProgressCancelParams) -> None:
    """The user pressed Cancel on a run's progress: stop it as Ctrl-C would (SIGTERM to its group;
    the CLI stops the stage and records nothing)."""
    import os
    import signal

    process = _RUNNING.get(params.token)
    if process is None:
        # Other long work (the queue) says itself what its Cancel does.
        from pyhelper.server import progress

        threading.Thread(target=progress.cancelled, args=(params.token,), daemon=True).start()
        return
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)


def register(server: XpServer) -> None:
    """Registers xp/runExperiment and xp/reproPipeline, and cancelling them from their progress."""
    server.feature(lsp.WINDOW_WORK_DONE_PROGRESS_CANCEL)(cancel)
    server.feature(p.RUN_EXPERIMENT)(server.thread()(translated(run_experiment)))
    server.feature(p.REPRO_PIPELINE)(server.thread()(translated(repro_pipeline)))
