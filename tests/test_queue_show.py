"""Queue entries in `xp exp show`: queued, running and failed rows under their baseline."""

from __future__ import annotations

import json

import pytest

from tests.test_queue import queue_fixture  # noqa: F401  (the `queue` fixture)

pytestmark = pytest.mark.timeout(90)


def _show(queue) -> list[dict]:
    return json.loads(queue.xp("exp", "show", "--xp-json").stdout)


def _by_name(rows: list[dict]) -> dict[str, dict]:
    return {r["name"]: r for r in rows}


def test_queued_entries_are_rows_with_their_params_and_no_metrics(queue):
    queue.enqueue("train.lr=0.1,0.2", name="q")
    rows = _show(queue)
    assert [r["kind"] for r in rows] == ["workspace", "baseline", "queued", "queued"]
    by_name = _by_name(rows)
    assert by_name["q-1"]["status"] == "queued"
    assert by_name["q-1"]["params"]["params.yaml"]["train.lr"] == 0.1
    assert by_name["q-2"]["params"]["params.yaml"]["train.lr"] == 0.2
    assert by_name["q-1"]["metrics"] == {}  # Not the baseline's metrics: nothing has run yet.
    table = queue.xp("exp", "show").stdout
    assert "├── q-1" in table and "└── q-2" in table and "queued" in table
    only = json.loads(queue.xp("exp", "show", "--xp-json", "--filter", "status=queued and train.lr>0.15").stdout)
    assert [r["name"] for r in only if r["kind"] != "workspace" and r["kind"] != "baseline"] == ["q-2"]


def test_a_running_entry_shows_as_running_then_becomes_an_experiment(queue):
    queue.enqueue("train.lr=0.3", "train.sleep=3", name="slow")
    queue.start(jobs=1)
    queue.wait_for({"slow": "running"})
    assert _by_name(_show(queue))["slow"]["kind"] == "running"
    queue.wait_for({"slow": "success"})
    row = _by_name(_show(queue))["slow"]
    assert row["kind"] == "experiment" and row["status"] == "success" and row["metrics"]


def test_a_failed_entry_shows_as_failed_with_its_reason(queue):
    queue.enqueue("train.lr=0.4", "train.mode=fail", name="bad")
    queue.xp("exp", "run", "--run-all", expect=1)
    shown = queue.xp("exp", "show")
    assert "bad" in shown.stdout and "failed" in shown.stdout
    assert "warning: bad:" in shown.stderr and "exited with code 3" in shown.stderr
    row = _by_name(json.loads(queue.xp("exp", "show", "--xp-json").stdout))["bad"]
    assert row["kind"] == "failed" and "exited with code 3" in row["errors"]["queue"]
    queue.xp("queue", "remove", "--failed")
    assert "bad" not in _by_name(_show(queue))


def test_show_never_creates_a_queue_database(queue):
    queue.xp("exp", "show")
    assert not (queue.repo / ".xp" / "queue.db").exists()


def test_a_broken_queue_database_does_not_break_the_table(queue):
    queue.enqueue("train.lr=0.5", name="x")
    db = queue.repo / ".xp" / "queue.db"
    for suffix in ("-wal", "-shm"):
        (queue.repo / ".xp" / f"queue.db{suffix}").unlink(missing_ok=True)
    db.write_bytes(b"this is not a database\n" * 200)
    shown = queue.xp("exp", "show")
    assert "workspace" in shown.stdout and "main" in shown.stdout
    assert str(db) in shown.stderr and "Traceback" not in shown.stderr


def _lose_database(queue) -> None:
    for suffix in ("", "-wal", "-shm"):
        (queue.repo / ".xp" / f"queue.db{suffix}").unlink(missing_ok=True)


def test_recover_rebuilds_lost_entries_from_git_and_runs_only_unfinished_ones(queue):
    queue.enqueue("train.lr=0.1,0.2", name="done", extra=("-m", "first batch"))
    queue.xp("exp", "run", "--run-all")
    queue.settle()
    queue.enqueue("train.lr=0.3,0.4", name="todo")
    _lose_database(queue)
    assert queue.status()["entries"] == []

    dry = json.loads(queue.xp("queue", "recover", "--dry", "--json").stdout)
    assert {e["name"]: e["status"] for e in dry} == {"done-1": "success", "done-2": "success",
                                                    "todo-1": "queued", "todo-2": "queued"}
    assert queue.status()["entries"] == []  # --dry changed nothing.

    out = queue.xp("queue", "recover").stdout
    assert "Recovered 4 entries from git (2 to run" in out
    entries = {e["name"]: e for e in queue.status()["entries"]}
    assert entries["todo-2"]["params"] == ["train.lr=0.4"]
    assert entries["done-1"]["status"] == "success" and entries["done-1"]["message"] == "first batch"
    queue.xp("exp", "run", "--run-all")
    assert sorted(queue.starts()) == ["0.1", "0.2", "0.3", "0.4"]  # Nothing ran twice.
    assert set(queue.exp_refs()) == {"done-1", "done-2", "todo-1", "todo-2"}
    assert "Nothing to recover" in queue.xp("queue", "recover").stdout  # Idempotent.


def test_recover_of_a_corrupt_database_says_to_move_it_away_first(queue):
    queue.enqueue("train.lr=0.5", name="c")
    queue.xp("queue", "status")
    _lose_database(queue)
    db = queue.repo / ".xp" / "queue.db"
    db.write_bytes(b"this is not a database\n" * 200)
    result = queue.xp("queue", "recover", expect=2)
    assert "mv " in result.stderr and "xp queue recover" in result.stderr and result.stderr.count("\n") == 1
    db.rename(db.with_suffix(".db.broken"))
    queue.xp("queue", "recover")
    assert [e["name"] for e in queue.status()["entries"]] == ["c"]


def test_run_all_workers_leave_what_is_queued_after_it_finished(queue):
    queue.enqueue("train.lr=0.6", name="now")
    queue.xp("exp", "run", "--run-all")
    queue.enqueue("train.lr=0.7", name="later")
    queue.settle(timeout=5)  # The run's workers exit at once instead of idling...
    assert queue.statuses()["later"] == "queued"  # ...so they did not take what came after.
    assert queue.starts() == ["0.6"]
