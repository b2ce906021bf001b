"""Faults during `xp exp run`: a failing stage, Ctrl-C and SIGTERM, two runs in one workspace."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import GIT_ENV, git
from tests.test_experiments import exps, git_state, one_line_error

SLOW = {
    "dvc.yaml": """
        stages:
          slow:
            cmd: python slow.py
            deps: [slow.py]
            params: [seconds]
            outs: [out.txt]
        """,
    "params.yaml": "seconds: 0\n",
    "slow.py": """
        import os, time
        seconds = float(open("params.yaml").read().split()[1])
        open("partial.txt", "w").write("written before the end\\n")
        open("started", "w").write(str(os.getpid()))
        if seconds < 0:
            print("boom: cannot sleep a negative time")
            raise SystemExit(3)
        time.sleep(seconds)
        open("out.txt", "w").write(f"slept {seconds}\\n")
        """,
    ".gitignore": "started\npartial.txt\n",
}


@pytest.fixture
def slow(gen, xp) -> Path:
    repo = gen(SLOW)
    xp("repro", cwd=repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "reproduced")
    (repo / "started").unlink()
    return repo


def start_run(repo: Path, *args: str) -> tuple[subprocess.Popen, int]:
    """Starts `xp exp run ARGS` and waits until its stage is running; returns it and the stage's pid."""
    # Ctrl-C and a closing terminal must reach it as in a terminal, even when the test runner itself
    # ignores SIGINT (as some do) or runs under `nohup` (SIGHUP ignored, which xp rightly keeps).
    def as_in_a_terminal() -> None:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGHUP, signal.SIG_DFL)

    proc = subprocess.Popen([sys.executable, "-m", "pyhelper", "exp", "run", *args], cwd=repo,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **GIT_ENV}, preexec_fn=as_in_a_terminal)
    deadline = time.monotonic() + 20
    while not (repo / "started").is_file() or not (repo / "started").read_text():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the stage never started"
        time.sleep(0.02)
    return proc, int((repo / "started").read_text())


def gone(pid: int) -> bool:
    """True when the process has exited (a zombie nobody reaped counts as exited)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")


def test_a_failing_stage_records_nothing_shows_its_log_and_keeps_partial_results(slow, xp):
    lock = (slow / "dvc.lock").read_text()
    before = git_state(slow)
    result = xp("exp", "run", "-S", "seconds=-1", "-n", "negative", cwd=slow, expect=1)
    assert "stage 'slow' failed: its command exited with code 3" in result.stderr
    assert "boom: cannot sleep a negative time" in result.stderr, "the end of the stage's log is part of the error"
    assert "no experiment was recorded" in result.stderr and "partial results" in result.stderr
    assert "Traceback" not in result.stderr
    assert exps(slow) == {}
    assert git_state(slow) == before
    assert (slow / "dvc.lock").read_text() == lock
    assert (slow / "partial.txt").is_file() and "seconds: -1" in (slow / "params.yaml").read_text(), \
        "the workspace keeps what the run did"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=["SIGINT", "SIGTERM", "SIGHUP"])
def test_an_interrupted_run_leaves_git_as_it_was(slow, sig):
    (slow / "untracked.txt").write_text("mine\n")
    before = git_state(slow)
    proc, stage_pid = start_run(slow, "-S", "seconds=30", "-n", "interrupted")
    proc.send_signal(sig)
    try:
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0
    assert "Traceback" not in err and "interrupted" in err
    assert git_state(slow) == before, "HEAD, branches, index untouched; no stash"
    assert exps(slow) == {} and "interrupted" not in git(slow, "for-each-ref")
    deadline = time.monotonic() + 10
    while not gone(stage_pid):
        assert time.monotonic() < deadline, "the stage's command kept running after xp stopped"
        time.sleep(0.05)
    assert not (slow / "out.txt").exists() or "slept 30" not in (slow / "out.txt").read_text()
    assert (slow / "untracked.txt").read_text() == "mine\n"


def test_a_second_run_in_the_same_workspace_refuses_and_names_the_first(slow, xp):
    first, _ = start_run(slow, "-S", "seconds=30", "-n", "first")
    try:
        result = xp("exp", "run", "-S", "seconds=0", "-n", "second", cwd=slow, expect=2)
        line = one_line_error(result)
        assert f"pid {first.pid}" in line and "already using this workspace" in line
        assert "seconds: 30" in (slow / "params.yaml").read_text(), "the second run changed nothing"
        result = xp("repro", cwd=slow, expect=2)
        assert f"pid {first.pid}" in one_line_error(result)
    finally:
        first.terminate()
        first.communicate(timeout=20)
    assert exps(slow) == {}
    # Once the first is gone, the workspace is free again.
    xp("exp", "run", "-S", "seconds=0", "-n", "second", cwd=slow)
    assert set(exps(slow)) == {"second"}


def start_temp_run(repo: Path, *args: str) -> subprocess.Popen:
    """Starts `xp exp run --temp ARGS` and waits until its stage runs in its private work tree."""
    proc = subprocess.Popen([sys.executable, "-m", "pyhelper", "exp", "run", "--temp", *args], cwd=repo,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **GIT_ENV})
    deadline = time.monotonic() + 60
    while not any(p.read_text() for p in (repo / ".xp" / "tmp").glob("ws-*/started") if p.is_file()):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the stage never started"
        time.sleep(0.05)
    return proc


def test_two_runs_of_the_same_name_at_once_the_second_is_refused(slow, xp):
    first = start_temp_run(slow, "-S", "seconds=3", "-n", "same")
    second = xp("exp", "run", "--temp", "-S", "seconds=0", "-n", "same", cwd=slow, expect=2)
    assert f"an experiment named 'same' is being run right now by another xp process (pid {first.pid})" \
        in one_line_error(second)
    out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    assert set(exps(slow)) == {"same"}
    assert "seconds: 3" in git(slow, "show", f"{exps(slow)['same']}:params.yaml")


def test_head_moving_during_a_run_records_it_on_the_commit_it_ran_from(slow, xp):
    started_on = git(slow, "rev-parse", "HEAD").strip()
    run = start_temp_run(slow, "-S", "seconds=3", "-n", "moved")
    (slow / "slow.py").write_text((slow / "slow.py").read_text() + "# changed after the run started\n")
    git(slow, "commit", "-q", "-am", "new code that never ran")
    out, err = run.communicate(timeout=60)
    assert run.returncode == 0, err
    ref = git(slow, "for-each-ref", "--format=%(refname)", "refs/exps/").strip()
    assert ref == f"refs/exps/{started_on[:2]}/{started_on[2:]}/moved"
    assert git(slow, "rev-parse", "refs/exps/" + ref.split("refs/exps/")[1] + "^").strip() == started_on
    assert "changed after the run started" not in git(slow, "show", f"{ref}:slow.py")
