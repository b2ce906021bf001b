"""`--run-cache` (issue 18): stage runs travel through remote storage in DVC's layout (`runs/<key[:2]>/<key>/
<value>`), so a teammate's `xp repro` or `dvc repro` restores a run another machine made instead of running
it; checked against DVC 3.67.1 both ways, and xp to xp through `exp push`/`exp pull`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import git
from tests.test_dvc_interop import dvc, dvc_bin  # noqa: F401 (fixture)
from tests.test_remotes import clone

RUN = """\
cat data.txt > model.txt
echo "$(cat data.txt) $1" >> ../marker
mkdir -p features && echo "$1" > features/lr.txt && cp data.txt features/raw.txt
"""

PIPELINE = """\
stages:
  train:
    cmd: sh run.sh ${lr}
    deps: [data.txt, run.sh, src]
    params: [lr, size]
    outs: [model.txt, features]
"""


def _project(gen, tmp_path: Path) -> Path:
    """A stage with a file dependency, a folder dependency, params (one named `size`, which DVC's hashes leave
    out) and a file and a folder output; its command appends to ../marker, outside every output."""
    repo = gen({"params.yaml": "lr: 0.1\nsize: 3\n", "data.txt": "hello\n", "run.sh": RUN, "src/a.txt": "x\n",
                "dvc.yaml": PIPELINE}, commit=False)
    (repo / ".dvcignore").write_text("")
    return repo


def _runs(marker: Path) -> int:
    return len(marker.read_text().splitlines()) if marker.exists() else 0


def _entries(store: Path) -> list[Path]:
    return sorted(p for p in (store / "runs").glob("*/*/*") if p.is_file())


@pytest.mark.dvc
def test_dvc_pushes_its_run_cache_and_xp_restores_the_run(gen, tmp_path, xp, dvc_bin):  # noqa: F811
    repo = _project(gen, tmp_path)
    marker = repo.parent / "marker"
    dvc(dvc_bin, repo, "init", "-q")
    dvc(dvc_bin, repo, "remote", "add", "-d", "store", str(tmp_path / "store"))
    dvc(dvc_bin, repo, "repro")
    dvc(dvc_bin, repo, "push", "--run-cache")
    assert _runs(marker) == 1 and len(_entries(tmp_path / "store")) == 1
    lock = (repo / "dvc.lock").read_text()
    # The teammate's clone has the pipeline but not this machine's dvc.lock (nor its outputs).
    (repo / "dvc.lock").unlink()
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "pipeline")
    b = clone(repo, tmp_path / "b")
    assert not (b / "dvc.lock").exists()

    fetched = json.loads(xp("pull", "--run-cache", "--json", cwd=b).stdout)["runCache"]
    assert fetched["moved"] == 1 and fetched["recorded"] == 1 and not fetched["objects"]["missing"]
    out = xp("repro", cwd=b).stdout
    assert "Restored stage 'train' from run-cache" in out, out
    assert _runs(marker) == 1, "the command ran on the clone although DVC's run-cache had the run"
    assert (b / "dvc.lock").read_text() == lock
    assert (b / "features" / "lr.txt").read_text() == "0.1\n" and (b / "model.txt").read_text() == "hello\n"
    assert "train" in xp("runs", "list", cwd=b).stdout
    assert dvc(dvc_bin, b, "status").strip().endswith("Data and pipelines are up to date.")
    # Fetching again moves nothing new and records nothing twice.
    again = json.loads(xp("fetch", "--run-cache", "--json", cwd=b).stdout)["runCache"]
    assert again["moved"] == 0 and again["already"] == 1
    assert len(json.loads(xp("runs", "list", "--json", cwd=b).stdout)) == 1


@pytest.mark.dvc
def test_xp_pushes_its_run_cache_and_dvc_restores_the_run(gen, tmp_path, xp, dvc_bin):  # noqa: F811
    repo = _project(gen, tmp_path)
    marker = repo.parent / "marker"
    dvc(dvc_bin, repo, "init", "-q")
    xp("remote", "add", "-d", "store", str(tmp_path / "store"), cwd=repo)
    xp("repro", cwd=repo)
    assert _runs(marker) == 1
    pushed = json.loads(xp("push", "--run-cache", "--json", cwd=repo).stdout)["runCache"]
    assert pushed["moved"] == 1
    (entry,) = _entries(tmp_path / "store")
    # The entry is the one DVC would write for the run: the lock entry, named by DVC's hashes.
    from pyhelper.core.pipeline.dvc_run_cache import parse_entry

    name = entry.relative_to(tmp_path / "store" / "runs").as_posix()
    parse_entry(name, entry.read_bytes())
    lock = (repo / "dvc.lock").read_text()
    assert entry.read_text() == "".join(line[4:] + "\n" for line in lock.splitlines()[3:])
    assert json.loads(xp("push", "--run-cache", "--json", cwd=repo).stdout)["runCache"]["already"] == 1
    (repo / "dvc.lock").unlink()
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "pipeline")
    b = clone(repo, tmp_path / "b")

    # `dvc fetch`: DVC's pull would also fail to check out the outputs a clone without dvc.lock cannot name.
    dvc(dvc_bin, b, "fetch", "--run-cache")
    assert (b / ".dvc" / "cache" / "runs" / name).read_bytes() == entry.read_bytes()
    # DVC 3's pull moves the entries only; `--pull` fetches the outputs an entry names when it restores it.
    out = dvc(dvc_bin, b, "repro", "--pull")
    assert "Stage 'train' is cached - skipping run, checking out outputs" in out, out
    assert _runs(marker) == 1, "DVC ran the command although xp's run-cache entry had the run"
    assert (b / "dvc.lock").read_text() == lock
    assert (b / "features" / "raw.txt").read_text() == "hello\n"


def test_exp_push_and_pull_carry_the_run_cache_between_clones(gen, tmp_path, xp):
    repo = _project(gen, tmp_path)
    marker = repo.parent / "marker"
    xp("remote", "add", "-d", "store", str(tmp_path / "store"), cwd=repo)
    xp("repro", cwd=repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "baseline")
    xp("exp", "run", "-S", "lr=0.5", "-n", "hot", cwd=repo)
    assert _runs(marker) == 2
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(origin))
    git(repo, "push", "-q", str(origin), "HEAD:refs/heads/main")
    pushed = xp("exp", "push", "--run-cache", str(origin), "hot", cwd=repo).stdout
    assert "Run-cache: 2 entries pushed to remote 'store'" in pushed, pushed

    b = tmp_path / "b"
    git(tmp_path, "clone", "-q", "-b", "main", str(origin), str(b))
    pulled = xp("exp", "pull", "--run-cache", "origin", cwd=b).stdout
    # One of them is a run of the stage as it is now; the other (`sh run.sh 0.5`) is found by DVC's key once
    # lr is 0.5 again.
    assert "Run-cache: 2 entries fetched from remote 'store'" in pulled and "1 run(s)" in pulled, pulled
    (b / "params.yaml").write_text("lr: 0.5\nsize: 3\n")
    out = xp("repro", cwd=b).stdout
    assert "Restored stage 'train' from run-cache" in out, out
    assert _runs(marker) == 2, "the clone ran what the teammate's run-cache had"
    assert (b / "features" / "lr.txt").read_text() == "0.5\n"
    # Without --run-cache nothing of it travels (DVC's default for exp push/pull).
    c = tmp_path / "c"
    git(tmp_path, "clone", "-q", "-b", "main", str(origin), str(c))
    assert "Run-cache" not in xp("exp", "pull", "origin", cwd=c).stdout
    assert json.loads(xp("runs", "list", "--json", cwd=c).stdout) == []
