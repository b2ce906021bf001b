"""Times DVC 3.67.1 and xp side by side on the demo project (`python bench/pipeline.py --help`).

Each tool gets its own copy of the project built by `pyhelper.demo.create`; every figure is the
median wall time of whole processes, with the tools' runs interleaved so that a slow moment of
the machine hits both. A command that fails stops its figure: its stderr is shown and the script
exits non-zero, because a time for a failed command would mean nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parent.parent
DVC_VERSION = "3.67.1"
GIT_IDENTITY = ["-c", "user.name=xp-bench", "-c", "user.email=xp-bench@localhost", "-c", "commit.gpgsign=false"]
EPOCHS_LINE = re.compile(r"^(  epochs: )(\d+)\s*$", re.MULTILINE)
# What each tool prints when it restores a stage from its run-cache instead of running it.
RESTORED = {
    "dvc": "Stage '{stage}' is cached - skipping run",
    "xp": "Restored stage '{stage}' from run-cache",
}
HASH_CHUNK = 8 << 20


class CommandFailed(Exception):
    """A tool's command exited non-zero or printed something other than what the figure needs."""


@dataclass(frozen=True)
class Tool:
    """One tool under test, with the command that starts it and its own copy of the project."""

    name: str
    argv: tuple[str, ...]
    env: dict[str, str]
    project: Path

    def run(self, *args: str) -> str:
        """Run the tool in its project and return stdout and stderr together; fail on a non-zero exit."""
        result = subprocess.run(
            [*self.argv, *args], cwd=self.project, env=self.env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False,
        )
        if result.returncode != 0:
            raise CommandFailed(_failure(self.name, [*self.argv, *args], result.returncode, result.stdout))
        return result.stdout

    def time(self, *args: str) -> float:
        """Wall time of one run of the tool in seconds, its output discarded; fail on a non-zero exit."""
        return _time_process([*self.argv, *args], self.project, self.env, self.name)


@dataclass
class Figure:
    """The measured seconds per contender of one figure, plus what it needs to be rendered."""

    name: str
    label: str
    seconds: dict[str, list[float]] = field(default_factory=dict)
    bytes_hashed: int = 0


def main(argv: list[str] | None = None) -> int:
    """Build both projects, measure the chosen figures, print them; 1 when any command failed."""
    args = _parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="xp-bench-"))
    failed = False
    figures: list[Figure] = []
    try:
        env = _child_env(work)
        tools = _build_tools(args, work, env) if set(args.figure) - {"md5"} else []
        for name in args.figure:
            label, measure = FIGURES[name]
            _progress(f"figure '{name}': {args.runs} runs")
            try:
                figure = measure(Figure(name, label), tools, args, work, env)
            except CommandFailed as e:
                print(f"{label}: failed\n{e}", file=sys.stderr)
                failed = True
                continue
            figures.append(figure)
            if not args.json:
                print(_render(figure), flush=True)
    except CommandFailed as e:
        print(f"setting up failed\n{e}", file=sys.stderr)
        failed = True
    finally:
        if args.keep:
            _progress(f"kept the projects and files in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(_as_json(figures, args), indent=2))
    return 1 if failed else 0


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line, with defaults filled in."""
    parser = argparse.ArgumentParser(
        prog="bench/pipeline.py",
        description=f"Time DVC {DVC_VERSION} and xp on the same demo project, side by side.",
        epilog="figures: " + ", ".join(f"{n} ({label})" for n, (label, _) in FIGURES.items()),
    )
    parser.add_argument("--runs", type=int, default=7, metavar="N", help="timed runs per figure and tool; the median is reported (default 7)")
    parser.add_argument("--figure", action="append", choices=list(FIGURES), help="measure only this figure (repeatable; default all)")
    parser.add_argument("--tool", action="append", choices=["dvc", "xp"], help="measure only this tool (repeatable; default both)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON instead of a table")
    parser.add_argument("--dvc", metavar="PATH", help=f"the dvc executable (default: DVC {DVC_VERSION} from scripts/dvc-venv.sh)")
    parser.add_argument("--xp", metavar="PATH", help="the xp executable (default: `python -m pyhelper` with this interpreter and this checkout)")
    parser.add_argument("--xp-python", metavar="PATH", default=sys.executable, help="the python that imports pyhelper for the md5 figure (default: this one)")
    parser.add_argument("--hash-mib", type=int, default=512, metavar="MIB", help="size of the file hashed by the md5 figure (default 512)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary projects and print where they are")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    args.figure = args.figure or list(FIGURES)
    args.tool = args.tool or ["dvc", "xp"]
    return args


def _child_env(work: Path) -> dict[str, str]:
    """The environment every timed process gets: the same `python` first on PATH for both tools."""
    bin_dir = work / "bin"
    bin_dir.mkdir()
    # The stages' commands say `python`; both tools must run them with the same interpreter.
    (bin_dir / "python").symlink_to(sys.executable)
    env = dict(os.environ)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    # With this set, Python recompiles every module of a source checkout on each start, which
    # would time the compiler rather than the tool; users normally have byte code cached.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    # DVC otherwise starts a background process after each command to report usage.
    env["DVC_NO_ANALYTICS"] = "1"
    return env


def _build_tools(args: argparse.Namespace, work: Path, env: dict[str, str]) -> list[Tool]:
    """Create, run and commit one demo project per tool under test."""
    sys.path.insert(0, str(REPO))
    from pyhelper.demo import create

    tools = []
    for name in args.tool:
        project = create(work / f"{name}-project")
        if name == "dvc":
            tool = Tool("dvc", (args.dvc or _find_dvc(),), env, project)
            _progress(f"dvc: {tool.run('--version').strip()} in {project}")
            tool.run("init", "-q")
            # Update checks and analytics are background work a benchmark should not pay for.
            tool.run("config", "core.check_update", "false")
            tool.run("config", "core.analytics", "false")
            _git(project, "add", "-A")
            _git(project, "commit", "-q", "-m", "dvc init")
        else:
            xp_env = dict(env)
            if args.xp:
                argv: tuple[str, ...] = (args.xp,)
            else:
                argv = (sys.executable, "-m", "pyhelper")
                xp_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
            tool = Tool("xp", argv, xp_env, project)
            _progress(f"xp: {' '.join(argv)} in {project}")
        _progress(f"{name}: first repro")
        tool.run("repro")
        _git(project, "add", "-A")
        _git(project, "commit", "-q", "--allow-empty", "-m", "First run")
        _require_clean(tool)
        tools.append(tool)
    return tools


def _find_dvc() -> str:
    """The DVC executable in the cached venv, installing it with scripts/dvc-venv.sh when missing."""
    cached = Path(os.environ.get("XP_TOOL_CACHE", Path.home() / ".cache" / "xp")) / f"dvc-{DVC_VERSION}" / "bin" / "dvc"
    # The install script deletes a venv it finds broken, so it must not run while another
    # install is still filling the same venv; a working one is used without asking it.
    if cached.exists() and subprocess.run([cached, "--version"], capture_output=True, check=False).returncode == 0:
        return str(cached)
    _progress("installing DVC with scripts/dvc-venv.sh")
    result = subprocess.run(["bash", str(REPO / "scripts" / "dvc-venv.sh")], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise CommandFailed(_failure("dvc-venv.sh", ["scripts/dvc-venv.sh"], result.returncode, result.stderr))
    return result.stdout.strip().splitlines()[-1]


def figure_noop(figure: Figure, tools: list[Tool], args: argparse.Namespace, work: Path, env: dict[str, str]) -> Figure:
    """`repro` when nothing changed."""
    for tool in tools:
        tool.run("repro")
    _interleave(figure, tools, args.runs, lambda tool: tool.time("repro"))
    for tool in tools:
        _require_clean(tool)
    return figure


def figure_run_cache(figure: Figure, tools: list[Tool], args: argparse.Namespace, work: Path, env: dict[str, str]) -> Figure:
    """`repro` after flipping `train.epochs` to a value whose run is in the run-cache."""
    a = _epochs(tools[0].project)
    b = a + 2
    for tool in tools:
        # The first repro at B runs train and evaluate; every later flip must restore them.
        _set_epochs(tool.project, b)
        tool.run("repro")
        for value in (a, b):
            _set_epochs(tool.project, value)
            _require_restored(tool, tool.run("repro"), value)
    flips = {tool.name: b for tool in tools}

    def flip_and_repro(tool: Tool) -> float:
        flips[tool.name] = a if flips[tool.name] == b else b
        _set_epochs(tool.project, flips[tool.name])
        seconds = tool.time("repro")
        # The output is discarded while timing, so check the result on disk instead.
        _require_log_epochs(tool, flips[tool.name])
        return seconds

    _interleave(figure, tools, args.runs, flip_and_repro)
    _reset(tools, a)
    return figure


def figure_params_diff(figure: Figure, tools: list[Tool], args: argparse.Namespace, work: Path, env: dict[str, str]) -> Figure:
    """`params diff` with `train.epochs` changed in the workspace."""
    a = _epochs(tools[0].project)
    for tool in tools:
        _set_epochs(tool.project, a + 2)
        _require_output(tool, tool.run("params", "diff"), ["train.epochs", str(a + 2)])
    _interleave(figure, tools, args.runs, lambda tool: tool.time("params", "diff"))
    for tool in tools:
        _set_epochs(tool.project, a)
        _require_clean(tool)
    return figure


def figure_metrics_diff(figure: Figure, tools: list[Tool], args: argparse.Namespace, work: Path, env: dict[str, str]) -> Figure:
    """`metrics diff` after a repro with changed params, not committed."""
    a = _epochs(tools[0].project)
    for tool in tools:
        _set_epochs(tool.project, a + 3)
        tool.run("repro")
        _require_output(tool, tool.run("metrics", "diff"), ["accuracy", "loss"])
    _interleave(figure, tools, args.runs, lambda tool: tool.time("metrics", "diff"))
    _reset(tools, a)
    return figure


def figure_md5(figure: Figure, tools: list[Tool], args: argparse.Namespace, work: Path, env: dict[str, str]) -> Figure:
    """Hashing one large file of random bytes: `md5sum` against xp's `file_md5`."""
    path = work / "random.bin"
    _progress(f"writing {args.hash_mib} MiB of random bytes to {path}")
    rng = random.Random(0)
    with open(path, "wb") as f:
        for _ in range(args.hash_mib * (1 << 20) // HASH_CHUNK):
            f.write(rng.randbytes(HASH_CHUNK))
    figure.bytes_hashed = path.stat().st_size
    xp_env = dict(env)
    xp_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    script = f"from pyhelper.core.hashing import file_md5; print(file_md5({str(path)!r}))"
    commands = {"md5sum": (["md5sum", str(path)], env)}
    if "xp" in args.tool:
        commands["xp"] = ([args.xp_python, "-c", script], xp_env)
    # Both must agree on the hash before their times mean anything; this also warms the page cache.
    digests = {}
    for name, (argv, cmd_env) in commands.items():
        result = subprocess.run(argv, env=cmd_env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise CommandFailed(_failure(name, argv, result.returncode, result.stderr))
        digests[name] = result.stdout.split()[0] if result.stdout.split() else ""
    if len(set(digests.values())) != 1:
        raise CommandFailed(f"the md5 hashes differ: {digests}")
    for _ in range(args.runs):
        for name, (argv, cmd_env) in commands.items():
            figure.seconds.setdefault(name, []).append(_time_process(argv, work, cmd_env, name))
    return figure


FIGURES: dict[str, tuple[str, Callable[..., Figure]]] = {
    "noop": ("no-op repro", figure_noop),
    "run-cache": ("run-cache hit", figure_run_cache),
    "params-diff": ("params diff", figure_params_diff),
    "metrics-diff": ("metrics diff", figure_metrics_diff),
    "md5": ("md5", figure_md5),
}


def _interleave(figure: Figure, tools: list[Tool], runs: int, measure: Callable[[Tool], float]) -> None:
    """Take `runs` measurements per tool, alternating tools so drift in the machine hits both."""
    for _ in range(runs):
        for tool in tools:
            figure.seconds.setdefault(tool.name, []).append(measure(tool))


def _time_process(argv: list[str], cwd: Path, env: dict[str, str], name: str) -> float:
    """Wall time of one whole process in seconds, stdout discarded; fail with its stderr on a non-zero exit."""
    start = time.perf_counter()
    result = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise CommandFailed(_failure(name, argv, result.returncode, result.stderr.decode(errors="replace")))
    return seconds


def _epochs(project: Path) -> int:
    """The value of `train.epochs` in the project's params.yaml."""
    match = EPOCHS_LINE.search((project / "params.yaml").read_text(encoding="utf-8"))
    if not match:
        raise CommandFailed(f"{project / 'params.yaml'}: no `  epochs: N` line under train")
    return int(match[2])


def _set_epochs(project: Path, value: int) -> None:
    """Rewrite `train.epochs` in params.yaml as a user would in an editor, touching nothing else."""
    path = project / "params.yaml"
    text, count = EPOCHS_LINE.subn(rf"\g<1>{value}", path.read_text(encoding="utf-8"))
    if count != 1:
        raise CommandFailed(f"{path}: expected one `  epochs: N` line, found {count}")
    path.write_text(text, encoding="utf-8")


def _reset(tools: list[Tool], epochs: int) -> None:
    """Put each project back at its committed state, restoring outputs through a repro."""
    for tool in tools:
        _set_epochs(tool.project, epochs)
        tool.run("repro")
        _require_clean(tool)


def _require_restored(tool: Tool, output: str, epochs: int) -> None:
    """Fail unless this repro restored train and evaluate from the run-cache instead of running them."""
    missing = [s for s in ("train", "evaluate") if RESTORED[tool.name].format(stage=s) not in output]
    if missing or "Running stage" in output:
        raise CommandFailed(
            f"{tool.name} repro with train.epochs={epochs} did not restore {missing or 'every stage'} "
            f"from the run-cache; its output:\n{_indent(output)}"
        )
    _require_log_epochs(tool, epochs)


def _require_log_epochs(tool: Tool, epochs: int) -> None:
    """Fail unless train_log.tsv holds one row per epoch of `epochs`, i.e. the right run's outputs."""
    rows = (tool.project / "train_log.tsv").read_text(encoding="utf-8").splitlines()[1:]
    if len(rows) != epochs:
        raise CommandFailed(f"{tool.name}: train_log.tsv has {len(rows)} rows after a repro with train.epochs={epochs}")


def _require_output(tool: Tool, output: str, words: list[str]) -> None:
    """Fail unless the command's output mentions every one of `words`."""
    missing = [w for w in words if w not in output]
    if missing:
        raise CommandFailed(f"{tool.name}: output lacks {missing}:\n{_indent(output)}")


def _require_clean(tool: Tool) -> None:
    """Fail unless git sees no change in the project, so the next figure starts from the commit."""
    status = _git(tool.project, "status", "--porcelain")
    if status.strip():
        raise CommandFailed(f"{tool.name}: the project has uncommitted changes:\n{_indent(status)}")


def _git(repo: Path, *args: str) -> str:
    """Run git in `repo` with the benchmark's identity and return its stdout."""
    result = subprocess.run(["git", *GIT_IDENTITY, *args], cwd=repo, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise CommandFailed(_failure("git", ["git", *args], result.returncode, result.stderr))
    return result.stdout


def _render(figure: Figure) -> str:
    """One aligned line: each contender's median (and MB/s for hashing) and how xp compares."""
    medians = {name: statistics.median(times) for name, times in figure.seconds.items()}
    label = f"{figure.label} {figure.bytes_hashed >> 20} MiB" if figure.bytes_hashed else figure.label
    parts = [f"{label:<18}"]
    for name, seconds in medians.items():
        text = f"{name} {seconds:.3f} s"
        if figure.bytes_hashed:
            text += f" ({figure.bytes_hashed / seconds / 1e6:.0f} MB/s)"
        parts.append(f"{text:<24}")
    ratio = _ratio(medians)
    if ratio is not None:
        parts.append(f"{ratio:.2f}x faster" if ratio >= 1 else f"{1 / ratio:.2f}x slower")
    return "".join(parts).rstrip()


def _ratio(medians: dict[str, float]) -> float | None:
    """How many times faster xp is than the other contender (below 1 means slower), if both ran."""
    if "xp" not in medians or len(medians) != 2:
        return None
    other = next(v for k, v in medians.items() if k != "xp")
    return other / medians["xp"]


def _as_json(figures: list[Figure], args: argparse.Namespace) -> dict[str, object]:
    """The figures, their raw times and the setup, as a JSON-ready dict."""
    out = []
    for figure in figures:
        entry: dict[str, object] = {"name": figure.name, "label": figure.label, "unit": "s"}
        medians = {name: statistics.median(times) for name, times in figure.seconds.items()}
        for name, times in figure.seconds.items():
            entry[name] = {"median": round(medians[name], 4), "runs": [round(t, 4) for t in times]}
            if figure.bytes_hashed:
                entry[name]["mb_per_s"] = round(figure.bytes_hashed / medians[name] / 1e6, 1)  # type: ignore[index]
        if figure.bytes_hashed:
            entry["bytes"] = figure.bytes_hashed
        ratio = _ratio(medians)
        entry["xp_speedup"] = None if ratio is None else round(ratio, 3)
        out.append(entry)
    return {
        "version": 1,
        "runs": args.runs,
        "dvc": DVC_VERSION,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "figures": out,
    }


def _failure(name: str, argv: list[str], code: int, output: str) -> str:
    """The message for a command that failed: what ran, its exit code and what it said."""
    command = " ".join(str(a) for a in argv)
    return f"{name}: `{command}` exited with code {code}:\n{_indent(output.strip() or '(no output)')}"


def _indent(text: str) -> str:
    """`text` with each line indented, so it reads as quoted output."""
    return "\n".join(f"  | {line}" for line in text.rstrip().splitlines())


def _progress(message: str) -> None:
    """A progress line on stderr, so stdout holds only the figures."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
