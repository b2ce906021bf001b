"""`xp repro` as a user sees it: what runs, what is skipped, what comes back from the run-cache."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import git

PIPELINE = {
    "dvc.yaml": """
        stages:
          prepare:
            cmd: python prep.py ${prepare.n}
            deps: [prep.py]
            params: [prepare.n]
            outs: [data]
          train:
            cmd: python train.py
            deps: [train.py, data]
            params: [train.lr, train.layers]
            outs: [model.txt]
            metrics:
              - metrics.json:
                  cache: false
        """,
    "params.yaml": """
        # Data preparation.
        prepare:
          n: 3   # rows per file
        train:
          lr: 0.1
          layers: [8, 4]
        """,
    "prep.py": """
        import os, sys
        open("../calls.log", "a").write("prepare\\n")
        os.makedirs("data/sub", exist_ok=True)
        n = int(sys.argv[1])
        open("data/a.csv", "w").write("x\\n" + "\\n".join(str(i) for i in range(n)) + "\\n")
        open("data/sub/b.csv", "w").write("y\\n" + "\\n".join(str(i * 2) for i in range(n)) + "\\n")
        """,
    "train.py": """
        import json, re
        open("../calls.log", "a").write("train\\n")
        lr = float(re.search(r"lr: ([0-9.]+)", open("params.yaml").read()).group(1))
        rows = len(open("data/a.csv").read().split()) - 1
        open("model.txt", "w").write(f"weights lr={lr} rows={rows}\\n")
        json.dump({"acc": round(0.5 + lr, 4), "rows": rows}, open("metrics.json", "w"))
        """,
}


def calls(repo: Path) -> list[str]:
    """Which stage commands really ran, in order (each script appends its name)."""
    log = repo.parent / "calls.log"
    return log.read_text().split() if log.exists() else []


def set_lr(repo: Path, value: str) -> None:
    params = repo / "params.yaml"
    params.write_text(params.read_text().replace(_current_lr(repo), f"lr: {value}"))


def _current_lr(repo: Path) -> str:
    import re

    return re.search(r"lr: [0-9.]+", (repo / "params.yaml").read_text()).group(0)


@pytest.fixture
def project(gen):
    return gen(PIPELINE)


def test_first_repro_runs_every_stage_and_the_second_skips_them(project, xp):
    first = xp("repro", cwd=project)
    assert calls(project) == ["prepare", "train"]
    assert "Running stage 'prepare'" in first.stdout and "> python prep.py 3" in first.stdout
    assert (project / "model.txt").read_text() == "weights lr=0.1 rows=3\n"
    lock = (project / "dvc.lock").read_text()
    assert "schema: '2.0'" in lock and "train.lr: 0.1" in lock and ".dir" in lock

    second = xp("repro", cwd=project)
    assert calls(project) == ["prepare", "train"]
    assert "Stage 'prepare' didn't change, skipping" in second.stdout
    assert "Stage 'train' didn't change, skipping" in second.stdout
    assert "Data and pipelines are up to date." in second.stdout


def test_a_param_change_reruns_only_the_stages_that_read_it(project, xp):
    xp("repro", cwd=project)
    set_lr(project, "0.3")
    out = xp("repro", cwd=project)
    assert calls(project) == ["prepare", "train", "train"]
    assert "param 'train.lr' (params.yaml) modified" in out.stdout
    assert json.loads((project / "metrics.json").read_text())["acc"] == 0.8


def test_an_upstream_change_reruns_downstream_stages(project, xp):
    xp("repro", cwd=project)
    xp("repro", "-S", "prepare.n=5", cwd=project)
    assert calls(project) == ["prepare", "train", "prepare", "train"]
    assert (project / "model.txt").read_text() == "weights lr=0.1 rows=5\n"


def test_run_cache_restores_a_seen_run_without_running_its_command(project, xp):
    xp("repro", cwd=project)
    set_lr(project, "0.2")
    xp("repro", cwd=project)
    assert calls(project) == ["prepare", "train", "train"]

    set_lr(project, "0.1")
    out = xp("repro", cwd=project)
    assert calls(project) == ["prepare", "train", "train"], "the command ran although the run-cache had it"
    assert "Restored stage 'train' from run-cache" in out.stdout
    assert (project / "model.txt").read_text() == "weights lr=0.1 rows=3\n"
    assert json.loads((project / "metrics.json").read_text())["acc"] == 0.6
    assert "train.lr: 0.1" in (project / "dvc.lock").read_text()
    assert "Data and pipelines are up to date." in xp("status", cwd=project).stdout

    set_lr(project, "0.2")
    xp("repro", "--no-run-cache", cwd=project)
    assert calls(project)[-1] == "train", "--no-run-cache must run the command"


def test_a_deleted_output_comes_back_from_the_cache_without_running(project, xp):
    xp("repro", cwd=project)
    (project / "model.txt").unlink()
    import shutil

    shutil.rmtree(project / "data")
    assert "output 'model.txt' is missing" in xp("status", cwd=project).stdout
    out = xp("repro", cwd=project)
    assert calls(project) == ["prepare", "train"]
    assert out.stdout.count("Restored stage") == 2
    assert (project / "data" / "sub" / "b.csv").read_text() == "y\n0\n2\n4\n"


def test_force_runs_everything_and_dry_runs_nothing(project, xp):
    xp("repro", cwd=project)
    set_lr(project, "0.5")
    before = (project / "dvc.lock").read_text()
    dry = xp("repro", "--dry", cwd=project)
    assert "Would run stage 'train'" in dry.stdout and "Would run stage 'prepare'" not in dry.stdout
    assert calls(project) == ["prepare", "train"]
    assert (project / "dvc.lock").read_text() == before

    xp("repro", "-f", cwd=project)
    assert calls(project) == ["prepare", "train", "prepare", "train"]


def test_targets_reproduce_only_what_they_need(project, xp):
    xp("repro", "prepare", cwd=project)
    assert calls(project) == ["prepare"]
    assert "train" not in (project / "dvc.lock").read_text()


def test_cached_outputs_are_git_ignored_and_the_cache_cannot_be_edited_through(project, xp):
    xp("repro", cwd=project)
    status = git(project, "status", "--porcelain")
    assert "model.txt" not in status and "data/" not in status.replace(".gitignore", "")
    assert "metrics.json" in status  # `cache: false`: git tracks it.
    md5 = next(line.split()[-1] for line in (project / "dvc.lock").read_text().splitlines()
               if "md5:" in line and ".dir" not in line and line.strip().startswith("md5"))
    assert md5
    model = project / "model.txt"
    if not os.access(model, os.W_OK):
        model.chmod(0o644)
    with open(model, "a") as handle:
        handle.write("edited by hand\n")
    objects = list((project / ".xp" / "cache" / "files" / "md5").rglob("*"))
    assert not any("edited by hand" in p.read_text(errors="ignore") for p in objects if p.is_file())
    assert "output 'model.txt' modified" in xp("status", cwd=project).stdout
    out = xp("repro", cwd=project)
    assert "Restored stage 'train'" in out.stdout, "the edited output is replaced from the cache"
    assert model.read_text() == "weights lr=0.1 rows=3\n"
    objects = list((project / ".xp" / "cache" / "files" / "md5").rglob("*"))
    assert any("edited by hand" in p.read_text(errors="ignore") for p in objects if p.is_file()), \
        "the hand-edited output was kept in the cache before being replaced"


def test_persist_outputs_are_kept_and_cmd_lists_run_in_order(gen, xp):
    repo = gen({
        "dvc.yaml": """
            stages:
              count:
                cmd:
                  - python -c "import os; n = int(open('n.txt').read()) if os.path.exists('n.txt') else 0;
                    open('n.txt','w').write(str(n + 1))"
                  - python -c "open('done.txt','w').write(open('n.txt').read())"
                always_changed: true
                outs:
                  - n.txt:
                      persist: true
                  - done.txt
            """,
    })
    xp("repro", cwd=repo)
    xp("repro", cwd=repo)
    assert (repo / "n.txt").read_text() == "2"
    assert (repo / "done.txt").read_text() == "2"
    assert "- python -c" in (repo / "dvc.lock").read_text()


def test_frozen_stages_do_not_run(gen, xp):
    repo = gen({
        "dvc.yaml": """
            stages:
              cold:
                cmd: echo ran > out.txt
                frozen: true
                outs: [out.txt]
            """,
    })
    out = xp("repro", cwd=repo)
    assert "frozen" in out.stdout and not (repo / "out.txt").exists()
