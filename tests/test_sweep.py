"""Sweeps: what `-S` expressions expand to, what gets queued, and that queuing leaves the workspace alone."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import pytest

from pyhelper.core.queue import sweep
from pyhelper.errors import BadInput
from tests.conftest import git, write_files
from tests.test_queue import Queue, queue_fixture, run_xp  # noqa: F401 (the `queue` fixture)

pytestmark = pytest.mark.timeout(90)


@pytest.mark.parametrize("text, values", [
    ("train.lr=0.1,0.01,0.001", ("0.1", "0.01", "0.001")),
    ("train.lr = 0.1, 0.2", ("0.1", "0.2")),
    ("opt=adam,sgd", ("adam", "sgd")),
    ("train.epochs=range(1,10,3)", ("1", "4", "7")),
    ("train.epochs=range(3, 6)", ("3", "4", "5")),
    ("k=range(5,-5,-3)", ("5", "2", "-1", "-4")),
    ("train.lr=range(0.1, 0.4, 0.1)", ("0.1", "0.2", "0.3")),
    ("train.lr=range(0, 1, 0.25)", ("0.0", "0.25", "0.5", "0.75")),
    ("train.lr=range(1.0, 0.1, -0.25)", ("1.0", "0.75", "0.5", "0.25")),
    ("layers=[8,4]", ("[8,4]",)),  # A list is one value, not a sweep.
    ("name='a,b'", ("'a,b'",)),
    ("train.lr=0.5", ("0.5",)),
])
def test_an_axis_expands_to_its_values(text, values):
    assert sweep.parse_axis(text).values == values


def test_several_axes_make_the_grid_in_row_major_order():
    points = sweep.expand(["a=1,2", "b=x,y,z"])
    assert points == [["a=1", "b=x"], ["a=1", "b=y"], ["a=1", "b=z"],
                      ["a=2", "b=x"], ["a=2", "b=y"], ["a=2", "b=z"]]
    assert sweep.expand([]) == [[]]  # Nothing swept: one experiment.


def test_a_sample_is_deterministic_distinct_and_from_the_grid():
    grid = sweep.expand(["a=range(0,20)", "b=range(0,30)", "c=x,y"], confirm=True)
    first = sweep.expand(["a=range(0,20)", "b=range(0,30)", "c=x,y"], sample=7, seed=3)
    assert first == sweep.expand(["a=range(0,20)", "b=range(0,30)", "c=x,y"], sample=7, seed=3)
    assert first != sweep.expand(["a=range(0,20)", "b=range(0,30)", "c=x,y"], sample=7, seed=4)
    assert len(first) == 7 and len({tuple(p) for p in first}) == 7
    assert all(point in grid for point in first)
    assert sweep.expand(["a=1,2"], sample=5, seed=1) == [["a=1"], ["a=2"]]  # Never more than the grid.
    # A sample of a huge grid needs no --yes: only the drawn points are queued.
    assert len(sweep.expand(["a=range(0,1000)", "b=range(0,1000)"], sample=3, seed=0)) == 3


def test_more_than_a_thousand_runs_need_confirmation():
    with pytest.raises(BadInput, match="makes 1050 runs"):
        sweep.expand(["a=range(0,50)", "b=range(0,21)"])
    assert len(sweep.expand(["a=range(0,50)", "b=range(0,21)"], confirm=True)) == 1050
    assert len(sweep.expand(["a=range(0,1000)"])) == 1000  # The limit itself is fine.


BAD = [
    ("train.lr=range(1)", "is not a valid range"),
    ("train.lr=range(1,5,0)", "is not a valid range"),
    ("train.lr=range(a,b)", "is not a valid range"),
    ("train.lr=range(5,1)", "is empty"),
    ("train.lr=1,,2", "has an empty choice"),
    ("train.lr=0.1,", "has an empty choice"),
    ("train.lr", "has no '='"),
    ("train.lr=range(1,3),7", "mixes range"),
]


@pytest.mark.parametrize("text, message", BAD)
def test_a_bad_expression_is_refused(text, message):
    with pytest.raises(BadInput, match=message):
        sweep.expand([text])


def test_queuing_a_grid_names_its_points_and_writes_their_params(queue):
    started = time.monotonic()
    entries = queue.enqueue("train.lr=0.1,0.2", "train.sleep=range(1,4)", name="grid")
    assert time.monotonic() - started < 10  # Loose sanity only; bench/ holds the real target.
    assert [e["name"] for e in entries] == [f"grid-{i}" for i in range(1, 7)]
    assert [e["params"] for e in entries] == [[f"train.lr={lr}", f"train.sleep={s}"]
                                              for lr in ("0.1", "0.2") for s in (1, 2, 3)]
    params = git(queue.repo, "show", f"{entries[4]['rev']}:params.yaml")
    assert "lr: 0.2" in params and "sleep: 2" in params and "mode: ok" in params
    assert git(queue.repo, "rev-parse", f"{entries[0]['rev']}^").strip() == git(queue.repo, "rev-parse", "HEAD").strip()
    assert len(queue.queue_refs()) == 6
    clash = queue.xp("exp", "run", "--queue", "-S", "train.lr=0.3", "-n", "grid-2", expect=2).stderr
    assert clash.count("\n") == 1 and "'grid-2' already exists" in clash


def test_a_sample_from_the_command_line_is_reproducible(queue):
    args = ("train.lr=range(0.1,1.0,0.1)", "train.sleep=range(0,5)")
    first = queue.enqueue(*args, name="r", extra=("--sample", "4", "--seed", "11"))
    queue.xp("queue", "remove", "--all")
    again = queue.enqueue(*args, name="r", extra=("--sample", "4", "--seed", "11"))
    assert [e["params"] for e in first] == [e["params"] for e in again]
    assert len({tuple(e["params"]) for e in first}) == 4
    assert [e["name"] for e in again] == ["r-1", "r-2", "r-3", "r-4"]


def test_a_sweep_over_a_thousand_runs_asks_for_yes(queue):
    refused = queue.xp("exp", "run", "--queue", "-S", "train.lr=range(0,50)", "-S", "train.sleep=range(0,21)",
                       expect=2).stderr
    assert refused.count("\n") == 1
    assert "1050 runs" in refused and "--yes" in refused
    assert queue.queue_refs() == [] and queue.statuses() == {}
    big = queue.enqueue("train.lr=range(0,50)", "train.sleep=range(0,21)", extra=("--yes",))
    assert len(big) == 1050 and len({e["name"] for e in big}) == 1050


@pytest.mark.parametrize("text, message", BAD[:2] + BAD[4:5] + BAD[6:7])
def test_a_bad_expression_on_the_command_line_is_one_line_and_queues_nothing(queue, text, message):
    result = queue.xp("exp", "run", "--queue", "-S", "train.mode=ok", "-S", text, expect=2)
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
    assert message in result.stderr and "Traceback" not in result.stderr
    assert queue.queue_refs() == []


def _tree_bytes(root: Path) -> dict[str, str]:
    """Every file of the work tree (not .git/ or .xp/) → a hash of its bytes, and the index itself."""
    out = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not (Path(folder) == root and d in (".git", ".xp"))]
        for name in files:
            path = Path(folder) / name
            out[path.relative_to(root).as_posix()] = hashlib.md5(path.read_bytes()).hexdigest()
    out[".git/index"] = hashlib.md5((root / ".git" / "index").read_bytes()).hexdigest()
    out[".git/HEAD"] = (root / ".git" / "HEAD").read_text()
    return out


def test_queuing_a_dirty_workspace_leaves_it_byte_identical_and_runs_untracked_files(queue):
    repo = queue.repo
    write_files(repo, {
        "params.yaml": "train:\n  lr: 0.7   # changed, not committed\n  mode: ok\n  sleep: 0\n  burn: 0\n  big: 0\n",
        "notes.txt": "untracked notes\n",
        "data/extra.csv": "x\n1\n",
        "ignored.txt": "git ignores me\n",
    })
    before = _tree_bytes(repo)
    status_before = git(repo, "status", "--porcelain")
    (entry,) = queue.enqueue(name="dirty")
    assert _tree_bytes(repo) == before and git(repo, "status", "--porcelain") == status_before
    (repo / "notes.txt").write_text("edited after queuing\n")  # The run uses the workspace as queued.

    queue.xp("exp", "run", "--run-all", "-j", "1")
    assert queue.starts() == ["0.7"]
    exp = queue.exp_refs()["dirty"]
    files = git(repo, "ls-tree", "-r", "--name-only", exp).split()
    assert "notes.txt" in files and "data/extra.csv" in files and "ignored.txt" not in files
    assert git(repo, "show", f"{exp}:notes.txt") == "untracked notes\n"
    assert "lr: 0.7" in git(repo, "show", f"{entry['rev']}:params.yaml")
    assert (repo / "notes.txt").read_text() == "edited after queuing\n"  # Running did not touch it either.
    assert git(repo, "stash", "list") == ""


UNICODE_PIPELINE = {
    "dvc.yaml": """
        stages:
          train:
            cmd: python "scripts dir/träin.py"
            deps: [scripts dir/träin.py]
            params:
              - my params.yaml:
                  - train.lr
            outs: [out dir/modèle ü.txt]
            metrics:
              - métriques.json:
                  cache: false
        """,
    "my params.yaml": "train:\n  lr: 0.5\n",
    "scripts dir/träin.py": """
        import json, os, re
        lr = re.search(r"lr: (\\S+)", open("my params.yaml", encoding="utf-8").read()).group(1)
        os.makedirs("out dir", exist_ok=True)
        open("out dir/modèle ü.txt", "w", encoding="utf-8").write(f"modèle {lr}\\n")
        json.dump({"précision": float(lr)}, open("métriques.json", "w", encoding="utf-8"), ensure_ascii=False)
        print(f"entraîné lr={lr}")
        """,
}


def test_unicode_and_spaces_in_paths_and_names(tmp_path):
    repo = tmp_path / "prøjekt dir"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    write_files(repo, UNICODE_PIPELINE)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "unicode")
    q = Queue(repo, tmp_path / "calls.log")
    try:
        entries = q.enqueue("my params.yaml:train.lr=0.1,0.2", name="größe-ü")
        assert [e["name"] for e in entries] == ["größe-ü-1", "größe-ü-2"]
        assert "lr: 0.2" in git(repo, "show", f"{entries[1]['rev']}:my params.yaml")
        q.xp("exp", "run", "--run-all", "-j", "2")
        assert q.statuses() == {"größe-ü-1": "success", "größe-ü-2": "success"}
        assert "entraîné lr=0.1" in q.xp("queue", "logs", "größe-ü-1").stdout
        shown = {row["name"]: row for row in json.loads(q.xp("exp", "show", "--xp-json").stdout)}
        assert shown["größe-ü-2"]["params"]["my params.yaml"]["train.lr"] == 0.2
        assert shown["größe-ü-2"]["metrics"]["métriques.json"]["précision"] == 0.2
        assert "größe-ü-1" in q.xp("queue", "status").stdout
        q.xp("queue", "remove", "größe-ü-1")
        assert list(q.statuses()) == ["größe-ü-2"]
    finally:
        q.cleanup()
