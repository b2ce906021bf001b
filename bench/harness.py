"""How the benchmark runs and times a tool's commands: the tool, the setup, the figure, the failure.

Every process is timed whole (`time.perf_counter` around `subprocess.run`) with its stdout
discarded; a non-zero exit raises `CommandFailed` with the command's own words, so no time is
ever recorded for a command that failed.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

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

    def time(self, *args: str) -> float:
        """Wall time of one run of the tool in seconds, its output discarded; fail on a non-zero exit."""
        return time_process([*self.argv, *args], self.project, self.env, self.name)


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


def time_process(argv: list[str], cwd: Path, env: dict[str, str], name: str) -> float:
    """Wall time of one whole process in seconds, stdout discarded; fail with its stderr on a non-zero exit."""
    start = time.perf_counter()
    result = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise CommandFailed(failure(name, argv, result.returncode, result.stderr.decode(errors="replace")))
    return seconds


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


def progress(message: str) -> None:
    """A progress line on stderr, so stdout holds only the figures."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)
