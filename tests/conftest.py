"""Shared fixtures: real git repositories built inside each test, and the real `xp` command."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
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
