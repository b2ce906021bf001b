"""Shared fixtures: real git repositories built inside each test, and the real `xp` command."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

GIT_ENV = {
    "GIT_AUTHOR_NAME": "xp tests",
    "GIT_AUTHOR_EMAIL": "tests@xp.invalid",
    "GIT_COMMITTER_NAME": "xp tests",
    "GIT_COMMITTER_EMAIL": "tests@xp.invalid",
}


def git(repo: Path, *args: str) -> str:
    """Runs git in `repo` and returns its stdout (fails the test on error)."""
    result = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True,
                            env={**os.environ, **GIT_ENV})
    assert result.returncode == 0, f"git {' '.join(args)} failed: {result.stderr}"
    return result.stdout


def write_files(root: Path, files: dict[str, str | bytes]) -> None:
    """Writes files (text is dedented) relative to `root`, creating folders."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content).lstrip("\n"))


def train_stage(script: str = "train.py", *, params: Sequence[str] = (), outs: Sequence[str] = (),
                metrics: Sequence[str] = (), plots: Sequence[str] = (), persist: bool = False) -> str:
    """The dvc.yaml of a one-stage project: stage `train` runs `python <script>` and depends on it and `params`.

    Metrics and plots are kept in git (`cache: false`), as most tests want to read them at any
    revision; with `persist`, every output outlives a run, which a checkpointed run resumes from.
    """
    lines = ["stages:", "  train:", f"    cmd: python {script}", f"    deps: [{script}]"]
    if params:
        lines.append(f"    params: [{', '.join(params)}]")
    if outs and persist:
        lines += ["    outs:", *(f"      - {out}:\n          persist: true" for out in outs)]
    elif outs:
        lines.append(f"    outs: [{', '.join(outs)}]")
    for section, paths in (("metrics", metrics), ("plots", plots)):
        if paths:
            lines.append(f"    {section}:")
            for path in paths:
                lines += [f"      - {path}:", "          cache: false", *(["          persist: true"] * persist)]
    return "\n".join(lines) + "\n"


@pytest.fixture
def gen(tmp_path: Path) -> Callable[..., Path]:
    """`gen({path: content}, commit=True)`: a git repository holding those files (committed)."""
    repo = tmp_path / "repo"

    def make(files: dict[str, str | bytes], *, commit: bool = True, init: bool = True) -> Path:
        repo.mkdir(exist_ok=True)
        if init and not (repo / ".git").exists():
            git(repo, "init", "-q", "-b", "main")
        write_files(repo, files)
        if commit:
            git(repo, "add", "-A")
            git(repo, "commit", "-q", "-m", "test commit")
        return repo

    return make


@pytest.fixture
def xp() -> Callable[..., subprocess.CompletedProcess[str]]:
    """`xp(*args, cwd=repo)`: runs the real `xp` command line in a subprocess."""

    def run(*args: str, cwd: Path, expect: int | None = 0) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([sys.executable, "-m", "pyhelper", *args], cwd=cwd, capture_output=True,
                                text=True, env={**os.environ, **GIT_ENV})
        if expect is not None:
            assert result.returncode == expect, (
                f"xp {' '.join(args)} exited {result.returncode}, expected {expect}\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return result

    return run


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on now (for a server a test starts)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, log: Path, what: str, timeout: float = 60) -> None:
    """Returns once `proc` (a server a test started) accepts connections on `port`; fails with its log if it
    exits first or does not listen within `timeout`."""
    import socket
    import time

    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            assert proc.poll() is None, f"{what} exited: {log.read_text(errors='replace')}"
            assert time.monotonic() < deadline, f"{what} did not start within {timeout:g}s"
            time.sleep(0.1)
