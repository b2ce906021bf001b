"""Times DVC 3.67.1 and xp side by side on the experiment queue (`python bench/queue_bench.py --help`).

Figures: queuing 20 trivial experiments (one command each, and xp's one sweep command); running
20 queued experiments to completion with 1 and 2 workers; xp's speed-up from 2 workers on
CPU-bound stages; the memory of an idle worker. Running, timing and checking commands is in
harness.py, the table and the JSON are experiments.py's. Every figure checks that each tool
really queued or recorded its experiments; a command that fails is never timed: its output is
shown and the script exits 1. DVC's queue is given a bounded wait: a run that does not finish in
time is reported as timed out (DVC's queue has a known hang) and its workers are killed.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import re
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from exp_figures import Line, _exp_ref, _prepare
from experiments import _as_json, _render
from harness import (
    DVC_VERSION,
    CommandFailed,
    Contenders,
    Setup,
    Tool,
    bench_parser,
    git,
    indent,
    parse_bench_args,
    progress,
    require_clean,
    run_figures,
    tool_commands,
)

COUNT = 20
"""Experiments queued (and run) per timed run."""
CPU_COUNT = 10
"""Experiments of the CPU-bound figure, each burning CPU_SECONDS of CPU."""
CPU_SECONDS = 0.5
# The stages write their param, interpolated by the tool, to a cached out.txt.
TRIVIAL_CMD = "python -c \"open('out.txt', 'w').write('${p}')\""
CPU_CMD = (f"python -c \"import time; end = time.process_time() + {CPU_SECONDS}; "
           "exec('while time.process_time() < end: pass'); open('out.txt', 'w').write('${p}')\"")
STATUS_WORDS = re.compile(r"\b(Queued|Running|Success|Failed)\b")


@dataclass
class Bench(Contenders):
    """The tools under test and their projects, built the first time a figure asks."""

    dvc_wait: float
    """Seconds DVC's queue gets to run its experiments before it counts as hung."""
    projects: dict[str, Path]
    values: itertools.count

    def tools(self, key: str, cmd: str, names: tuple[str, ...]) -> list[Tool]:
        """The tools in `names` (those under test) on the one-stage project `key` running `cmd`, built once."""
        names = tuple(n for n in self.setup.tools if n in names)
        if key not in self.projects:
            root = self.setup.work / key
            root.mkdir()
            git(root, "init", "-q")
            # A JSON string is a YAML double-quoted scalar: the command may hold `: ` and quotes.
            stage = (f"stages:\n  write:\n    cmd: {json.dumps(cmd)}\n"
                     "    params:\n      - p\n    outs:\n      - out.txt\n")
            files = {"dvc.yaml": stage, "params.yaml": "p: 0\n", ".gitignore": "/.xp/\n/out.txt\n"}
            for name, text in files.items():
                (root / name).write_text(text, encoding="utf-8")
            git(root, "add", "-A")
            git(root, "commit", "-q", "-m", "One stage")
            progress(f"project '{key}' in {root}")
            _prepare([self.tool(n, root) for n in names])
            self.projects[key] = root
        return [self.tool(n, self.projects[key]) for n in names]

    def fresh(self, n: int) -> list[int]:
        """`n` param values never used before, so no run is skipped or restored from a run-cache."""
        return [next(self.values) for _ in range(n)]


# --- the figures ---------------------------------------------------------------------------------


def queue(bench: Bench) -> list[Line]:
    """Queue 20 experiments, one command each (both tools), and with one sweep command (xp)."""
    tools = bench.tools("trivial", TRIVIAL_CMD, ("dvc", "xp"))
    total = Line("queue-20", f"exp run --queue x{COUNT}, total", target=COUNT * 0.05)
    each = Line("queue-each", "exp run --queue, per entry", target=0.05)
    sweep = Line("queue-sweep", f"xp sweep of {COUNT} vs dvc x{COUNT}", target=0.5)
    for _ in range(bench.setup.runs):
        for tool in tools:
            before = _queued(tool)
            times = [tool.time("exp", "run", "--queue", "-S", f"p={v}") for v in bench.fresh(COUNT)]
            _require_queued(tool, before, COUNT)
            total.seconds.setdefault(tool.name, []).append(sum(times))
            each.seconds.setdefault(tool.name, []).extend(times)
            if tool.name == "dvc":
                sweep.seconds.setdefault("dvc", []).append(sum(times))
            else:
                before = _queued(tool)
                values = ",".join(map(str, bench.fresh(COUNT)))
                sweep.seconds.setdefault("xp", []).append(tool.time("exp", "run", "--queue", "-S", f"p={values}"))
                _require_queued(tool, before, COUNT)
            _clear_queue(tool)
    require_clean(tools[0])
    return [total, each, sweep] if "xp" in sweep.seconds else [total, each]


def run_all(bench: Bench) -> list[Line]:
    """Run 20 queued experiments to completion: `dvc queue start -j N` (polled), `xp exp run --run-all -j N`."""
    tools = bench.tools("trivial", TRIVIAL_CMD, ("dvc", "xp"))
    lines = []
    for jobs in (1, 2):
        line = Line(f"run-all-j{jobs}", f"run {COUNT} queued exps, -j {jobs}", target=3.0 if jobs == 2 else None)
        hung = 0
        for _ in range(bench.setup.runs):
            for tool in tools:
                seconds = _run_queue(bench, tool, jobs)
                if seconds is None:
                    hung += 1
                else:
                    line.seconds.setdefault(tool.name, []).append(seconds)
        if hung:
            line.note = f"dvc TIMED OUT {hung}x after {bench.dvc_wait:g} s (known queue hang); workers killed"
        lines.append(line)
    require_clean(tools[0])
    return lines


def cpu(bench: Bench) -> list[Line]:
    """xp's `exp run --run-all` with -j 1 and -j 2 on CPU-bound stages: the speed-up."""
    if "xp" not in bench.setup.tools:
        return []
    (tool,) = bench.tools("cpu", CPU_CMD, ("xp",))
    line = Line("cpu-speedup", f"xp run-all, {CPU_COUNT} x {CPU_SECONDS:g} s CPU")
    for _ in range(bench.setup.runs):
        for jobs in (1, 2):
            line.seconds.setdefault(f"j{jobs}", []).append(_run_queue(bench, tool, jobs))
    values = line.summary()
    speedup = values["j1"] / values["j2"]
    line.note = f"-j 2 speed-up {speedup:.2f}x (xp target >= 1.7x: {'met' if speedup >= 1.7 else 'MISSED'})"
    require_clean(tool)
    return [line]


def idle(bench: Bench) -> list[Line]:
    """VmRSS of one idle worker on an empty queue, about 1 s after it started."""
    tools = bench.tools("trivial", TRIVIAL_CMD, ("dvc", "xp"))
    line = Line("idle-rss", "idle worker RSS (after ~1 s)", unit="MB", peak=True, target=40)
    for _ in range(bench.setup.runs):
        for tool in tools:
            _clear_queue(tool)
            if tool.name == "xp":
                pids = json.loads(tool.stdout("queue", "start", "-j", "1", "--idle", "5", "--json"))["pids"]
                if len(pids) != 1:
                    raise CommandFailed(f"xp: `queue start -j 1` started {pids}, not one worker")
                time.sleep(1)
                line.seconds.setdefault("xp", []).append(_rss_mb(tool, pids[0]))
                tool.run("queue", "stop")
                _wait_gone(pids)
            else:
                tool.run("queue", "start", "-j", "1")
                started = time.monotonic()
                pids: list[int] = []
                while not pids and time.monotonic() - started < 15:
                    time.sleep(0.1)
                    pids = _dvc_workers(tool.project)
                if not pids:
                    # DVC's worker seems to exit at once on an empty queue (or is not found by cwd).
                    line.note = "dvc: no idle queue worker seen within 15 s of `queue start -j 1`; left out"
                    _stop_dvc(tool)
                    continue
                time.sleep(1)
                line.seconds.setdefault("dvc", []).append(_rss_mb(tool, pids[0]))
                _stop_dvc(tool)
    return [line]


# Name on the command line → the function that measures it, in the order they run.
FIGURES: dict[str, Callable[[Bench], list[Line]]] = {"queue": queue, "run-all": run_all, "cpu": cpu, "idle": idle}


# --- running the queue -----------------------------------------------------------------------------


def _run_queue(bench: Bench, tool: Tool, jobs: int) -> float | None:
    """Queue fresh experiments (untimed), then time running them all with `jobs` workers; None if DVC hung."""
    count = COUNT if tool.project.name == "trivial" else CPU_COUNT
    head = git(tool.project, "rev-parse", "HEAD").strip()
    values = bench.fresh(count)
    if tool.name == "xp":
        tool.run("exp", "run", "--queue", "-S", "p=" + ",".join(map(str, values)))
    else:
        for v in values:
            tool.run("exp", "run", "--queue", "-S", f"p={v}")
    before = _recorded(tool, head)
    progress(f"{tool.name}: running {count} queued experiments with -j {jobs}")
    if tool.name == "xp":
        seconds = tool.time("exp", "run", "--run-all", "-j", str(jobs))
    else:
        seconds = _run_dvc_queue(bench, tool, jobs, before)
        if seconds is None:
            return None
    _require_recorded(tool, head, before, values)
    return seconds


def _run_dvc_queue(bench: Bench, tool: Tool, jobs: int, before: dict[str, str]) -> float | None:
    """`dvc queue start -j N`, then wait for every queued experiment; its wall time, or None when it hung.

    The time stops when the last experiment's ref appears (git is polled every 0.1 s); `dvc queue
    status` must then show nothing queued or running, within the same deadline.
    """
    head = git(tool.project, "rev-parse", "HEAD").strip()
    queued = _queued(tool)
    start = time.perf_counter()
    tool.run("queue", "start", "-j", str(jobs))
    seconds = None
    while time.perf_counter() - start < bench.dvc_wait:
        if len(_recorded(tool, head)) - len(before) >= queued:
            seconds = time.perf_counter() - start
            break
        time.sleep(0.1)
    while seconds is not None and time.perf_counter() - start < bench.dvc_wait:
        counts = _dvc_status(tool)
        if not counts.get("Queued") and not counts.get("Running"):
            break
        time.sleep(0.5)
    else:
        failed = _dvc_status(tool).get("Failed", 0)
        if failed:
            _stop_dvc(tool)
            raise CommandFailed(f"dvc: {failed} queued experiments failed:\n{indent(tool.run('queue', 'status'))}")
        done = len(_recorded(tool, head)) - len(before)
        progress(f"dvc: queue not done after {bench.dvc_wait:g} s ({done}/{queued} recorded): killing its workers")
        _stop_dvc(tool)
        _clear_queue(tool)
        return None
    _stop_dvc(tool)
    return seconds


def _stop_dvc(tool: Tool) -> None:
    """Stop DVC's queue workers (`dvc queue stop --kill`), then kill any left in this project by pid."""
    try:
        tool.run("queue", "stop", "--kill")
    except CommandFailed as e:
        progress(f"dvc queue stop --kill failed:\n{e}")
    deadline = time.monotonic() + 5
    while _dvc_workers(tool.project) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in _dvc_workers(tool.project):
        progress(f"dvc: killing queue worker {pid}")
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _dvc_workers(project: Path) -> list[int]:
    """Pids of DVC queue workers of `project`: `dvc exp queue-worker` processes started in it."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if b"queue-worker" in cmdline and Path(cwd) == project:
            pids.append(int(entry.name))
    return sorted(pids)


# --- checks --------------------------------------------------------------------------------------


def _queued(tool: Tool) -> int:
    """How many entries the tool's queue holds as queued."""
    if tool.name == "xp":
        entries = json.loads(tool.stdout("queue", "status", "--json"))["entries"]
        return sum(1 for e in entries if e["status"] == "queued")
    return _dvc_status(tool).get("Queued", 0)


def _dvc_status(tool: Tool) -> dict[str, int]:
    """Status word → how many task lines of `dvc queue status` have it."""
    counts: dict[str, int] = {}
    for line in tool.run("queue", "status").splitlines():
        found = STATUS_WORDS.search(line)
        if found and not line.startswith("Worker"):
            counts[found[1]] = counts.get(found[1], 0) + 1
    return counts


def _require_queued(tool: Tool, before: int, count: int) -> None:
    """Fail unless the tool's queue grew by exactly `count` queued entries."""
    now = _queued(tool)
    if now - before != count:
        raise CommandFailed(f"{tool.name}: the queue went from {before} to {now} queued entries, not +{count}")


def _clear_queue(tool: Tool) -> None:
    """Remove every queued (not yet run) entry, untimed."""
    tool.run("queue", "remove", "--queued")
    if _queued(tool):
        raise CommandFailed(f"{tool.name}: `queue remove --queued` left queued entries")


def _recorded(tool: Tool, head: str) -> dict[str, str]:
    """Ref → commit of every experiment of `head`."""
    prefix = _exp_ref(head, "")
    lines = git(tool.project, "for-each-ref", "--format=%(refname) %(objectname)", prefix).splitlines()
    return dict(line.split() for line in lines)


def _require_recorded(tool: Tool, head: str, before: dict[str, str], values: list[int]) -> None:
    """Fail unless one new experiment per value was recorded, each with its own p in params.yaml and out.txt."""
    new = {ref: rev for ref, rev in _recorded(tool, head).items() if ref not in before}
    got = sorted(int(git(tool.project, "show", f"{rev}:params.yaml").split(":")[1]) for rev in new.values())
    if got != sorted(values):
        raise CommandFailed(f"{tool.name}: {len(new)} experiments recorded with p = {got}, expected {sorted(values)}")
    for ref in new:
        # out.txt is a cached out: the experiment commit holds its dvc.lock entry, not the file.
        lock = git(tool.project, "show", f"{ref}:dvc.lock")
        if "out.txt" not in lock:
            raise CommandFailed(f"{tool.name}: experiment {ref} has no out.txt in its dvc.lock:\n{indent(lock)}")


def _rss_mb(tool: Tool, pid: int) -> float:
    """VmRSS of a live process in MB (10^6 bytes); fail when it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        raise CommandFailed(f"{tool.name}: worker {pid} is not running 1 s after it was started") from None
    kib = int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)[1])
    return kib * 1024 / 1e6


def _wait_gone(pids: list[int], timeout: float = 10) -> None:
    """Wait until none of `pids` is alive (workers asked to stop)."""
    deadline = time.monotonic() + timeout
    while any(Path(f"/proc/{pid}").exists() for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)


# --- the command line ----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Build the projects, measure the chosen figures, print them; 1 when any command failed."""
    args = _parse_args(argv)
    lines, failed, total = run_figures(args, "xp-bench-queue-", FIGURES, _bench, _render, cleanup=_leave_no_workers)
    if args.json:
        print(json.dumps(_as_json(lines, args, total), indent=2))
    return 1 if failed else 0


def _leave_no_workers(bench: Bench) -> None:
    """Stop any worker of either tool still running in the projects (e.g. after a failed figure)."""
    for key in bench.projects:
        for tool in bench.tools(key, "", bench.setup.tools):
            try:
                if tool.name == "dvc":
                    if _dvc_workers(tool.project):
                        _stop_dvc(tool)
                else:
                    tool.run("queue", "stop", "--kill")
            except CommandFailed:
                pass


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line, with defaults filled in."""
    parser = bench_parser(
        "bench/queue_bench.py",
        f"Time DVC {DVC_VERSION} and xp on the experiment queue (queuing, running the queue with "
        "1 and 2 workers, CPU-bound speed-up, idle worker memory), side by side.",
        "figures, in the order they run: " + ", ".join(FIGURES),
        FIGURES, runs=1, runs_note=": the figures are long",
    )
    parser.add_argument("--dvc-wait", type=float, default=120, metavar="SECONDS",
                        help="how long DVC's queue may take to run its experiments before it counts as hung "
                             "(default 120)")
    return parse_bench_args(parser, argv, FIGURES)


def _bench(args: argparse.Namespace, setup: Setup) -> Bench:
    """The tools' commands and environments; the projects are built when a figure first needs them."""
    argv, envs = tool_commands(args, setup)
    if "dvc" in envs:
        # DVC's queue starts its workers as `dvc` from PATH: its venv's bin must be there (after
        # the benchmark's `python`, so the stages still run with the same interpreter).
        first, _, rest = setup.env["PATH"].partition(os.pathsep)
        envs["dvc"] = {**setup.env, "PATH": os.pathsep.join([first, str(Path(argv["dvc"][0]).parent), rest])}
    return Bench(setup, argv, envs, args.dvc_wait, {}, itertools.count(1))


if __name__ == "__main__":
    sys.exit(main())
