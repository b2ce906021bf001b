"""How the benchmark runs and times a tool's commands: the tool, the setup, the figure, the failure.

Every process is timed whole (`time.perf_counter` around starting it and reaping it with
`os.wait4`, which also gives its peak RSS) with its stdout discarded; a non-zero exit raises
`CommandFailed` with the command's own words, so no time is ever recorded for a command that
failed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DVC_VERSION = "3.67.1"

# The benchmark's commits must not depend on (or be signed with) the user's git identity.
GIT_IDENTITY = ["-c", "user.name=xp-bench", "-c", "user.email=xp-bench@localhost", "-c", "commit.gpgsign=false"]


class CommandFailed(Exception):
    """A command exited non-zero, or printed or left something other than what its figure needs."""


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
            raise CommandFailed(failure(self.name, [*self.argv, *args], result.returncode, result.stdout))
        return result.stdout

    def stdout(self, *args: str) -> str:
        """Run the tool in its project and return its stdout alone (e.g. JSON); fail on a non-zero exit."""
        result = subprocess.run(
            [*self.argv, *args], cwd=self.project, env=self.env, capture_output=True, text=True, check=False,
        )
        if result.returncode != 0:
            output = "\n".join(filter(None, [result.stderr.strip(), result.stdout.strip()]))
            raise CommandFailed(failure(self.name, [*self.argv, *args], result.returncode, output))
        return result.stdout

    def time(self, *args: str) -> float:
        """Wall time of one run of the tool in seconds, its output discarded; fail on a non-zero exit."""
        return time_process([*self.argv, *args], self.project, self.env, self.name)

    def measure(self, *args: str) -> Measured:
        """Wall time and peak RSS of one run of the tool, its output discarded; fail on a non-zero exit."""
        return measure_process([*self.argv, *args], self.project, self.env, self.name)


@dataclass(frozen=True)
class Setup:
    """What every figure may use besides the tools: options and the prepared environments."""

    work: Path
    """Temporary folder that holds the projects and any scratch files; removed at the end."""
    runs: int
    env: dict[str, str]
    """Environment for processes that are not a tool (md5sum)."""
    xp_env: dict[str, str]
    """Environment in which `xp_python` can import this checkout's pyhelper."""
    xp_python: str
    tools: tuple[str, ...]
    """Names of the tools under test, also when a figure does not need their projects."""
    hash_mib: int


@dataclass
class Contenders:
    """The tools under test: the command that starts each and the environment it runs in."""

    setup: Setup
    argv: dict[str, tuple[str, ...]]
    """Tool name → the command that starts it."""
    envs: dict[str, dict[str, str]]

    def tool(self, name: str, project: Path) -> Tool:
        """The tool `name` working on `project`."""
        return Tool(name, self.argv[name], self.envs[name], project)


@dataclass
class Figure:
    """The measured seconds per contender of one figure, plus what it needs to be rendered."""

    name: str
    label: str
    seconds: dict[str, list[float]] = field(default_factory=dict)
    bytes_hashed: int = 0


def interleave(figure: Figure, tools: list[Tool], runs: int, measure: Callable[[Tool], float]) -> None:
    """Take `runs` measurements per tool, alternating tools so drift in the machine hits both."""
    for _ in range(runs):
        for tool in tools:
            figure.seconds.setdefault(tool.name, []).append(measure(tool))


@dataclass(frozen=True)
class Measured:
    """What one whole process cost."""

    seconds: float
    """Wall time from starting it to reaping it."""
    max_rss_kib: int
    """Its peak resident set size (`ru_maxrss` from `os.wait4`; KiB on Linux), its own reaped children included."""


def time_process(argv: list[str], cwd: Path, env: dict[str, str], name: str) -> float:
    """Wall time of one whole process in seconds, stdout discarded; fail with its stderr on a non-zero exit."""
    return measure_process(argv, cwd, env, name).seconds


def measure_process(argv: list[str], cwd: Path, env: dict[str, str], name: str) -> Measured:
    """Wall time and peak RSS of one whole process, stdout discarded; fail with its stderr on a non-zero exit."""
    # stderr goes to a file rather than a pipe: the process is reaped with os.wait4 (for its own
    # rusage, which `resource.getrusage(RUSAGE_CHILDREN)` would mix with every earlier child), so
    # nothing would be reading a pipe while it runs.
    with tempfile.TemporaryFile() as stderr:
        start = time.perf_counter()
        process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)  # Reaped here; Popen must not wait again.
        if process.returncode != 0:
            stderr.seek(0)
            raise CommandFailed(failure(name, argv, process.returncode, stderr.read().decode(errors="replace")))
    return Measured(seconds, usage.ru_maxrss)


def git(repo: Path, *args: str) -> str:
    """Run git in `repo` with the benchmark's identity and return its stdout."""
    result = subprocess.run(["git", *GIT_IDENTITY, *args], cwd=repo, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise CommandFailed(failure("git", ["git", *args], result.returncode, result.stderr))
    return result.stdout


def require_clean(tool: Tool) -> None:
    """Fail unless git sees no change in the project, so the next figure starts from the commit."""
    status = git(tool.project, "status", "--porcelain")
    if status.strip():
        raise CommandFailed(f"{tool.name}: the project has uncommitted changes:\n{indent(status)}")


def failure(name: str, argv: list[str], code: int, output: str) -> str:
    """The message for a command that failed: what ran, its exit code and what it said."""
    command = " ".join(str(a) for a in argv)
    return f"{name}: `{command}` exited with code {code}:\n{indent(output.strip() or '(no output)')}"


def indent(text: str) -> str:
    """`text` with each line indented, so it reads as quoted output."""
    return "\n".join(f"  | {line}" for line in text.rstrip().splitlines())


def child_env(work: Path) -> dict[str, str]:
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


def xp_env(env: dict[str, str]) -> dict[str, str]:
    """`env` with this checkout first on PYTHONPATH, so `python -m pyhelper` runs the code beside bench/."""
    out = dict(env)
    out["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return out


def find_dvc() -> str:
    """The DVC executable in the cached venv, installing it with scripts/dvc-venv.sh when missing."""
    cached = Path(os.environ.get("XP_TOOL_CACHE", Path.home() / ".cache" / "xp")) / f"dvc-{DVC_VERSION}" / "bin" / "dvc"
    # The install script deletes a venv it finds broken, so it must not run while another
    # install is still filling the same venv; a working one is used without asking it.
    if cached.exists() and subprocess.run([cached, "--version"], capture_output=True, check=False).returncode == 0:
        return str(cached)
    progress("installing DVC with scripts/dvc-venv.sh")
    script = REPO / "scripts" / "dvc-venv.sh"
    result = subprocess.run(["bash", str(script)], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise CommandFailed(failure("dvc-venv.sh", ["scripts/dvc-venv.sh"], result.returncode, result.stderr))
    return result.stdout.strip().splitlines()[-1]


def init_dvc(tool: Tool) -> None:
    """`dvc init` the tool's project with update checks and analytics off, and commit that."""
    tool.run("init", "-q")
    # Update checks and analytics are background work a benchmark should not pay for.
    tool.run("config", "core.check_update", "false")
    tool.run("config", "core.analytics", "false")
    git(tool.project, "add", "-A")
    git(tool.project, "commit", "-q", "-m", "dvc init")


def progress(message: str) -> None:
    """A progress line on stderr, so stdout holds only the figures."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def bench_parser(prog: str, description: str, epilog: str, figures: dict, runs: int,
                 runs_note: str = "") -> argparse.ArgumentParser:
    """The options every side-by-side benchmark takes; the script adds its own, then calls `parse_bench_args`."""
    parser = argparse.ArgumentParser(prog=prog, description=description, epilog=epilog)
    add = parser.add_argument
    add("--runs", type=int, default=runs, metavar="N",
        help=f"timed runs per figure and tool; the median is reported (default {runs}{runs_note})")
    add("--figure", action="append", choices=list(figures), help="measure only this figure (repeatable; default all)")
    add("--tool", action="append", choices=["dvc", "xp"], help="measure only this tool (repeatable; default both)")
    add("--json", action="store_true", help="print the figures as JSON instead of a table")
    add("--dvc", metavar="PATH", help=f"the dvc executable (default: DVC {DVC_VERSION} from scripts/dvc-venv.sh)")
    add("--xp", metavar="PATH",
        help="the xp executable (default: `python -m pyhelper` with this interpreter and this checkout)")
    return parser


def parse_bench_args(parser: argparse.ArgumentParser, argv: list[str] | None, figures: dict) -> argparse.Namespace:
    """Adds --keep (last in --help), parses `argv` and fills in the defaults: every figure, both tools."""
    parser.add_argument("--keep", action="store_true", help="keep the temporary projects and print where they are")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    args.figure = args.figure or list(figures)
    args.tool = args.tool or ["dvc", "xp"]
    return args


def xp_command(args: argparse.Namespace, setup: Setup) -> tuple[tuple[str, ...], dict[str, str]]:
    """The command that starts xp and its environment: --xp if given, else this checkout's `python -m pyhelper`."""
    if args.xp:
        return (args.xp,), setup.env
    return (sys.executable, "-m", "pyhelper"), setup.xp_env


def tool_commands(args: argparse.Namespace,
                  setup: Setup) -> tuple[dict[str, tuple[str, ...]], dict[str, dict[str, str]]]:
    """Tool name → its command, and → its environment, for each tool under test; each is named on stderr."""
    argv: dict[str, tuple[str, ...]] = {}
    envs: dict[str, dict[str, str]] = {}
    if "dvc" in args.tool:
        argv["dvc"] = (args.dvc or find_dvc(),)
        envs["dvc"] = setup.env
        version = Tool("dvc", argv["dvc"], setup.env, setup.work).run("--version").strip()
        progress(f"dvc: {version}: {argv['dvc'][0]}")
    if "xp" in args.tool:
        argv["xp"], envs["xp"] = xp_command(args, setup)
        progress(f"xp: {' '.join(argv['xp'])}")
    return argv, envs


def run_info(args: argparse.Namespace) -> dict[str, object]:
    """What the JSON output says about the run besides the figures: its format, runs, DVC, Python, CPUs."""
    return {
        "version": 1,
        "runs": args.runs,
        "dvc": DVC_VERSION,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }


@contextlib.contextmanager
def work_folder(prefix: str, keep: bool) -> Iterator[Path]:
    """A new temporary folder for the projects, removed afterwards unless `keep` (then its path is shown)."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield work
    finally:
        if keep:
            progress(f"kept the projects and files in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def run_figures(args, prefix: str, figures: dict, make_bench: Callable, render: Callable[[object], str],
                cleanup: Callable | None = None, *, xp_python: str = sys.executable,
                hash_mib: int = 0) -> tuple[list, bool, float]:
    """Sets up a work folder, runs the chosen figures in order and prints each line as it comes.

    Returns (lines, whether anything failed, total seconds). A figure whose command fails is
    reported on stderr and left out; `cleanup(bench)` runs last (e.g. to stop leftover workers).
    `xp_python` and `hash_mib` go into the Setup for the figures that hash a file.
    """
    started = time.perf_counter()
    failed = False
    lines: list = []
    bench = None
    with work_folder(prefix, args.keep) as work:
        try:
            env = child_env(work)
            setup = Setup(work, args.runs, env, xp_env(env), xp_python, tuple(args.tool), hash_mib)
            bench = make_bench(args, setup)
            for name in figures:
                if name not in args.figure:
                    continue
                progress(f"figure '{name}', timed runs per contender: {args.runs}")
                try:
                    produced = figures[name](bench)
                except CommandFailed as e:
                    print(f"{name}: failed\n{e}", file=sys.stderr)
                    failed = True
                    continue
                lines.extend(produced)
                if not args.json:
                    for line in produced:
                        print(render(line), flush=True)
        except CommandFailed as e:
            print(f"setting up failed\n{e}", file=sys.stderr)
            failed = True
        finally:
            if bench is not None and cleanup is not None:
                cleanup(bench)
    total = time.perf_counter() - started
    progress(f"done in {total:.0f} s")
    return lines, failed, total
