"""Interop with DVC 3.67.1 itself (installed from PyPI into its own venv by scripts/dvc-venv.sh):
a lock and cache written by xp are accepted by DVC, and the other way round."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from pyhelper.demo import create
from tests.conftest import GIT_ENV, git

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def dvc_bin() -> str:
    """The `dvc` executable of DVC 3.67.1 (installed on first use; never into this venv)."""
    result = subprocess.run(["bash", str(ROOT / "scripts" / "dvc-venv.sh")], capture_output=True, text=True)
    assert result.returncode == 0, f"installing DVC failed:\n{result.stderr}"
    return result.stdout.strip().splitlines()[-1]


def dvc(dvc_bin: str, repo: Path, *args: str) -> str:
    result = subprocess.run([dvc_bin, *args], cwd=repo, capture_output=True, text=True,
                            env={**os.environ, **GIT_ENV, "DVC_NO_ANALYTICS": "1"})
    assert result.returncode == 0, f"dvc {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture
def dvc_project(tmp_path, dvc_bin) -> Path:
    repo = create(tmp_path / "demo")
    dvc(dvc_bin, repo, "init", "-q")
    # The demo's tracked data went into xp's own cache before .dvc/ existed; `xp add` again puts it
    # into DVC's cache, which xp uses from now on (as a user turning the demo into a DVC project would).
    from pyhelper.core.pipeline.add import add
    from pyhelper.core.project import Project

    add(Project(repo), [str(repo / "data" / "raw" / "features.csv")])
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "dvc init")
    return repo


pytestmark = pytest.mark.dvc


def test_dvc_accepts_the_lock_and_cache_that_xp_wrote(dvc_project, dvc_bin, xp):
    xp("repro", cwd=dvc_project)
    assert (dvc_project / ".dvc" / "cache" / "files" / "md5").is_dir(), "xp shares DVC's cache in a DVC project"
    assert "Data and pipelines are up to date." in dvc(dvc_bin, dvc_project, "status")
    lock = (dvc_project / "dvc.lock").read_bytes()
    out = dvc(dvc_bin, dvc_project, "repro")
    assert "didn't change, skipping" in out and "Running stage" not in out
    assert (dvc_project / "dvc.lock").read_bytes() == lock, "DVC rewrites nothing"

    # DVC can restore an output that xp cached.
    (dvc_project / "model" / "model.json").unlink()
    dvc(dvc_bin, dvc_project, "checkout")
    assert (dvc_project / "model" / "model.json").is_file()


def test_xp_accepts_the_lock_and_cache_that_dvc_wrote(dvc_project, dvc_bin, xp):
    dvc(dvc_bin, dvc_project, "repro")
    lock = (dvc_project / "dvc.lock").read_bytes()
    assert "Data and pipelines are up to date." in xp("status", cwd=dvc_project).stdout
    out = xp("repro", cwd=dvc_project).stdout
    assert "Running stage" not in out
    assert (dvc_project / "dvc.lock").read_bytes() == lock

    # An output DVC produced and cached comes back through xp without running the stage.
    (dvc_project / "model" / "model.json").unlink()
    out = xp("repro", cwd=dvc_project).stdout
    assert "Restored stage 'train'" in out and "Running stage" not in out
    assert "Data and pipelines are up to date." in dvc(dvc_bin, dvc_project, "status")


def test_the_same_run_gives_the_same_lock_in_both_tools(dvc_project, dvc_bin, xp, tmp_path):
    xp("repro", cwd=dvc_project)
    by_xp = (dvc_project / "dvc.lock").read_text()
    dvc(dvc_bin, dvc_project, "repro", "-f")
    assert (dvc_project / "dvc.lock").read_text() == by_xp
