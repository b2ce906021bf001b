"""YAML bombs and deep nesting in every structured file xp reads.

A params file of nine lines whose anchors each repeat the one before nine times ("billion laughs")
stands for 387 million strings: `xp repro`, `xp exp show`, `xp exp diff` and the language server
ran out of memory after half a minute, also when the file came inside a pulled experiment. Ten
thousand levels of nesting overflowed the stack (a traceback), even when no tracked key was in
them. Now each is refused at once, with one line naming the file, the line and the fix; JSON and
TOML files are held to the same nesting limit.

The commands run under a memory limit so that, on code without the bounds, a test fails with a
MemoryError instead of swapping the machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import GIT_ENV, git, train_stage
from tests.lsp_client import request, started
from tests.test_experiments import one_line_error

LAUGHS = "\n".join(
    ['lol0: &lol0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    + [f"lol{i}: &lol{i} [{', '.join([f'*lol{i - 1}'] * 9)}]" for i in range(1, 10)]
) + "\n"
"""The standard billion laughs (9 levels × 9 aliases); the limit is passed on its sixth line (`lol5`)."""

DEEP = "deep: " + "[" * 10_000 + "]" * 10_000 + "\n"
"""10,000 levels of nesting in one flow list."""

RECURSIVE = "loop: &loop [1, *loop]\n"
"""An alias inside its own anchor: an endless structure."""

BOMBS = {
    "laughs": (LAUGHS, "YAML aliases would expand to more than 100,000 nodes",
               "use fewer aliases of aliases"),
    "deep": (DEEP, "nested more than 200 levels deep", "nest mappings and lists at most 200 levels deep"),
    "recursive": (RECURSIVE, "the alias '*loop' is inside the node it refers to",
                  "refer to '&loop' only after its node ends"),
}

PIPELINE = {
    "dvc.yaml": train_stage(params=["lr"], outs=["model.txt"], metrics=["metrics.yaml"], plots=["loss.yaml"]),
    "params.yaml": "lr: 0.1\n",
    "train.py": """
        open("model.txt", "w").write("model\\n")
        open("metrics.yaml", "w").write("acc: 0.9\\n")
        open("loss.yaml", "w").write("loss:\\n- {step: 0, loss: 1.0}\\n")
        """,
    "data.txt": "data\n",
}


MEMORY = 2 << 30
"""Address space given to each xp process here (2 GiB)."""


def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def run_xp(*args: str, cwd: Path, expect: int | None = 0) -> subprocess.CompletedProcess[str]:
    """The real CLI (as the `xp` fixture runs it) under a 2 GiB address-space limit and a 2-minute
    safety timeout: without bounds a bomb would fill the machine's memory before failing."""
    result = subprocess.run([sys.executable, "-m", "pyhelper", *args], cwd=cwd, capture_output=True, text=True,
                            env={**os.environ, **GIT_ENV}, preexec_fn=_limit, timeout=120)
    if expect is not None:
        assert result.returncode == expect, (
            f"xp {' '.join(args)} exited {result.returncode}, expected {expect}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}")
    return result


@pytest.fixture
def project(gen, xp) -> Path:
    """PIPELINE reproduced and committed, with data.txt tracked by a .dvc file."""
    repo = gen(PIPELINE, commit=False)
    xp("add", "data.txt", cwd=repo)
    xp("repro", cwd=repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "reproduced")
    return repo


def refused(result: subprocess.CompletedProcess[str], where: str, bomb: str) -> None:
    """One error line naming `where` (file:line), the problem and the fix; no traceback."""
    _, problem, fix = BOMBS[bomb]
    line = one_line_error(result)
    assert line.startswith(f"error: {where}: {problem}") and fix in line, line


def warned(result: subprocess.CompletedProcess[str], where: str, bomb: str) -> None:
    """A table command carries on, with the file's problem as a warning naming `where`."""
    _, problem, _ = BOMBS[bomb]
    assert "Traceback" not in result.stderr and "RecursionError" not in result.stderr, result.stderr
    assert f"{where}: {problem}" in result.stderr, result.stderr


@pytest.mark.parametrize("bomb", BOMBS)
def test_a_bomb_in_params_is_refused_by_repro_and_shown_by_exp_show_and_diff(project, bomb):
    """The tracked key (`lr`) is fine; the bomb sits in keys no stage uses."""
    text, _, _ = BOMBS[bomb]
    (project / "params.yaml").write_text("lr: 0.1\n" + text)
    where = "params.yaml:7" if bomb == "laughs" else "params.yaml:2"
    refused(run_xp("repro", cwd=project, expect=2), where, bomb)
    warned(run_xp("exp", "show", cwd=project), where, bomb)
    warned(run_xp("exp", "diff", cwd=project), where, bomb)
    assert f"{where}: {BOMBS[bomb][1]}" in run_xp("status", cwd=project).stdout


@pytest.mark.parametrize("bomb", ["laughs", "deep"])
def test_a_bomb_inside_a_pulled_experiment_is_a_row_error(project, tmp_path, bomb, xp):
    """Someone pushes an experiment whose params.yaml is a bomb; pulling it is harmless to look at."""
    bare = tmp_path / "shared.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    git(project, "remote", "add", "origin", str(bare))
    git(project, "push", "-q", "origin", "main")
    attacker = tmp_path / "attacker"
    git(tmp_path, "clone", "-q", str(bare), str(attacker))
    (attacker / "params.yaml").write_text("lr: 0.1\n" + BOMBS[bomb][0])
    git(attacker, "commit", "-q", "-am", "innocent tweak")
    baseline = git(project, "rev-parse", "HEAD").strip()
    git(attacker, "push", "-q", "origin", f"HEAD:refs/exps/{baseline[:2]}/{baseline[2:]}/gift")

    assert "Pulled 1 experiment(s)" in xp("exp", "pull", "origin", cwd=project).stdout
    where = "params.yaml:7" if bomb == "laughs" else "params.yaml:2"
    shown = run_xp("exp", "show", cwd=project)
    warned(shown, where, bomb)
    assert "gift" in shown.stdout
    rows = {r["name"]: r for r in json.loads(run_xp("exp", "show", "--xp-json", cwd=project).stdout)}
    assert BOMBS[bomb][1] in rows["gift"]["errors"]["params.yaml"]
    warned(run_xp("exp", "diff", "HEAD", "gift", cwd=project), where, bomb)


@pytest.mark.parametrize("bomb", ["laughs", "deep"])
@pytest.mark.parametrize("file, command, line", [
    ("dvc.yaml", ["status"], 13),
    ("dvc.lock", ["repro"], None),
    ("data.txt.dvc", ["status"], None),
    ("metrics.yaml", ["metrics", "show"], 2),
    ("loss.yaml", ["plots", "show", "--xp-json"], 3),
    ("loss.yaml", ["plots", "show", "--json"], 3),
])
def test_a_bomb_in_any_yaml_xp_reads_gives_one_line(project, bomb, file, command, line):
    """dvc.yaml, dvc.lock and .dvc files stop the command; metrics and plot data are per-file errors."""
    path = project / file
    before = path.read_text()
    path.write_text(before + BOMBS[bomb][0])
    at = (line or len(before.splitlines()) + 1) + (5 if bomb == "laughs" else 0)
    result = run_xp(*command, cwd=project, expect=None)
    if file in ("metrics.yaml", "loss.yaml"):
        assert result.returncode == 0, result.stderr
        assert f"{file}:{at}: {BOMBS[bomb][1]}" in result.stdout + result.stderr
        assert "Traceback" not in result.stderr
    else:
        assert result.returncode == 2
        refused(result, f"{file}:{at}", bomb)


@pytest.mark.parametrize("name, text", [
    ("params.json", '{"lr": 0.1, "deep": ' + "[" * 10_000 + "]" * 10_000 + "}"),
    ("params.json", '{"lr": 0.1, "deep": ' + "[" * 300 + "]" * 300 + "}"),
    ("params.toml", "lr = 0.1\ndeep = " + "[" * 10_000 + "]" * 10_000 + "\n"),
    ("params.toml", "lr = 0.1\n[" + ".".join(["deep"] * 1_000) + "]\nx = 1\n"),
])
def test_json_and_toml_params_have_the_same_nesting_limit(gen, xp, name, text):
    repo = gen({
        "dvc.yaml": f"stages:\n  train:\n    cmd: echo ok\n    params:\n      - {name}:\n          - lr\n",
        name: text,
    })
    line = one_line_error(run_xp("repro", cwd=repo, expect=2))
    assert line == (f"error: {name}: nested more than 200 levels deep — nest mappings and lists at most "
                    "200 levels deep")


def test_a_deep_json_plot_file_is_a_per_file_error(gen):
    repo = gen({
        "dvc.yaml": "plots:\n  - loss.json\n",
        "loss.json": '[{"step": 0, "loss": ' + "[" * 10_000 + "]" * 10_000 + "}]",
    })
    result = run_xp("plots", "show", "--json", cwd=repo)
    assert "loss.json: nested more than 200 levels deep" in result.stdout
    assert "Traceback" not in result.stderr


def test_ordinary_aliases_merge_keys_and_nesting_still_work(gen, xp):
    """What real params files do with anchors is far below the limits."""
    nested = "deep: " + "[" * 150 + "1" + "]" * 150 + "\n"
    repo = gen({
        "dvc.yaml": "stages:\n  train:\n    cmd: echo ok\n    params: [train.lr, eval.lr, deep]\n",
        "params.yaml": "base: &base {lr: 0.1, layers: [64, 64]}\ntrain:\n  <<: *base\neval: *base\n" + nested,
    })
    xp("repro", cwd=repo)
    assert json.loads(xp("params", "diff", "--all", "--json", cwd=repo).stdout)["params.yaml"]["train.lr"]["new"] == 0.1


def limited_server(repo: Path) -> contextlib.AbstractAsyncContextManager[Any]:
    """`tests.lsp_client.started`, with `xp serve` under the same memory limit as `run_xp`."""
    serve = (f"import resource, runpy; resource.setrlimit(resource.RLIMIT_AS, ({MEMORY}, {MEMORY})); "
             "runpy.run_module('pyhelper', run_name='__main__', alter_sys=True)")
    return started(repo, python=("-c", serve))


@pytest.mark.asyncio
async def test_the_language_server_answers_with_the_files_error(project):
    """`xp/showExperiments` over a workspace whose params.yaml is a bomb: rows, with the error, at once."""
    from pyhelper.server import protocol as p

    (project / "params.yaml").write_text("lr: 0.1\n" + LAUGHS)
    async with limited_server(project) as client:
        rows = (await request(client, p.SHOW_EXPERIMENTS, p.ShowExperimentsParams(), timeout=20)).rows
        workspace = next(r for r in rows if r.name == "workspace")
        assert BOMBS["laughs"][1] in workspace.errors["params.yaml"]
