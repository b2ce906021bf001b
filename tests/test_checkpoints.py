"""Checkpoints: recorded while `xp exp run` (workspace, --temp, queue) runs a training stage that calls
`pyhelper.live`'s make_checkpoint(); listed, applied, branched and resumed; and the faults around them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import GIT_ENV, git, train_stage
from tests.test_dvc_interop import dvc, dvc_bin  # noqa: F401  (dvc_bin is a fixture)

# A training stage whose "model" is a counter: resuming right gives `epochs` at the end, resuming
# wrong (state lost, or steps repeated) gives another number.
PROJECT = {
    "dvc.yaml": train_stage(params=["epochs", "delay"], outs=["model.bin"], metrics=["dvclive/metrics.json"],
                            plots=["dvclive/plots/metrics"], persist=True),
    "params.yaml": "epochs: 3\ndelay: 0\n",
    "train.py": """
        import os, time
        from pyhelper.live import Live

        params = dict(line.split(": ") for line in open("params.yaml").read().splitlines())
        with Live(resume=True) as live:
            fresh = not os.path.exists("model.bin")
            state = int(open("model.bin").read().split()[0]) if live.step > 0 else 0
            print("start", live.step, "fresh" if fresh else "model-present")
            for epoch in range(live.step, int(params["epochs"])):
                state += 1
                with open("model.bin", "w") as f:
                    f.write(f"{state} " + "x" * 1000)
                live.log_metric("train/loss", 1 / (epoch + 1))
                print("checkpoint", epoch, live.make_checkpoint())
                live.next_step()
                time.sleep(float(params["delay"]))
        print("state", state)
        """,
}


@pytest.fixture
def proj(gen) -> Path:
    return gen(PROJECT)


def refs(repo: Path) -> dict[str, str]:
    """Experiment name → commit its ref points at."""
    out = git(repo, "for-each-ref", "--format=%(refname) %(objectname)", "refs/exps/")
    return {line.split()[0].rsplit("/", 1)[1]: line.split()[1] for line in out.splitlines()}


def chain(repo: Path, rev: str) -> list[tuple[str, str]]:
    """(commit, subject) of each commit from `rev` down to (not including) HEAD, newest first."""
    out = git(repo, "log", "--first-parent", "--format=%H %s", f"HEAD..{rev}")
    return [tuple(line.split(" ", 1)) for line in out.splitlines()]


def trailer(repo: Path, rev: str) -> dict:
    message = git(repo, "log", "-1", "--format=%B", rev)
    return json.loads(message.split("xp-checkpoint: ", 1)[1].splitlines()[0])


def show(xp, repo: Path, *args: str) -> list[dict]:
    return json.loads(xp("exp", "show", "--xp-json", *args, cwd=repo).stdout)


def cache_object(repo: Path, md5: str) -> Path:
    return repo / ".xp" / "cache" / "files" / "md5" / md5[:2] / md5[2:]


def test_a_run_records_a_chain_of_checkpoints_with_persisted_outputs_cached(proj, xp):
    out = xp("exp", "run", "-n", "a", cwd=proj).stdout
    assert "state 3" in out and "checkpoint 0 None" not in out, "inside xp, each checkpoint returns its commit"
    assert "Recorded checkpoint a@2 " in out
    head = git(proj, "rev-parse", "HEAD").strip()
    commits = chain(proj, refs(proj)["a"])
    assert [subject for _, subject in commits] == [
        "xp: experiment a", "xp: checkpoint a@2", "xp: checkpoint a@1", "xp: checkpoint a@0"]
    assert git(proj, "rev-parse", f"{commits[-1][0]}^").strip() == head, "the chain starts at the baseline"
    for rev, subject in commits[1:]:
        step = int(subject.rsplit("@", 1)[1])
        data = trailer(proj, rev)
        assert data["step"] == step and data["stage"] == "train" and data["v"] == 1
        model = cache_object(proj, data["outs"]["model.bin"]["md5"])
        assert model.read_text().split()[0] == str(step + 1), "the model as it was at that step"
        files = git(proj, "ls-tree", "-r", "--name-only", rev).split()
        assert "model.bin" not in files, "a cached output is never put into git"
        metrics = json.loads(git(proj, "show", f"{rev}:dvclive/metrics.json"))
        assert metrics["step"] == step
    assert git(proj, "status", "--porcelain", "--untracked-files=no") == "", "HEAD and the index untouched"

    rows = show(xp, proj)
    experiment = next(r for r in rows if r["name"] == "a")
    assert experiment["status"] == "success" and experiment["step"] == 2
    checkpoints = [r for r in rows if r["kind"] == "checkpoint"]
    assert [(r["name"], r["step"]) for r in checkpoints] == [("a@2", 2), ("a@1", 1), ("a@0", 0)]
    assert checkpoints[2]["metrics"]["dvclive/metrics.json"]["train.loss"] == 1.0
    assert rows.index(experiment) + 1 == rows.index(checkpoints[0]), "listed under their experiment"
    assert not [r for r in show(xp, proj, "--no-checkpoints") if r["kind"] == "checkpoint"]
    table = xp("exp", "show", cwd=proj).stdout
    assert "└── a " in table and "    ├── a@2" in table and "    └── a@0" in table


def test_checkpoints_in_a_private_work_tree_and_in_a_queue_worker(proj, xp):
    xp("exp", "run", "--temp", "-n", "t", cwd=proj)
    xp("exp", "run", "--queue", "-n", "q", "-S", "epochs=2", cwd=proj)
    xp("exp", "run", "--run-all", cwd=proj)
    found = refs(proj)
    assert [s for _, s in chain(proj, found["t"])] == [
        "xp: experiment t", "xp: checkpoint t@2", "xp: checkpoint t@1", "xp: checkpoint t@0"]
    assert [s for _, s in chain(proj, found["q"])][1:] == ["xp: checkpoint q@1", "xp: checkpoint q@0"]
    assert "xp-queue-entry" in git(proj, "log", "-1", "--format=%B", found["q"])
    assert "# checkpoint q@1 " in xp("queue", "logs", "q", cwd=proj).stdout
    assert not (proj / "model.bin").exists(), "the workspace is untouched"
    assert not list((proj / ".xp" / "live").iterdir()), "no run is left marked live"


def test_checkpoints_from_two_threads_form_one_chain(gen, xp):
    repo = gen({
        "dvc.yaml": "stages:\n  train:\n    cmd: python threads.py\n    deps: [threads.py]\n",
        "threads.py": """
            import threading
            from pyhelper.live import Live

            live, other = Live(), Live("other")
            answers = []

            def work(logger, name):
                for i in range(5):
                    logger.log_metric(name, i)
                    answers.append(logger.make_checkpoint())
                    logger.next_step()

            threads = [threading.Thread(target=work, args=(live, "a")), threading.Thread(target=work, args=(live, "b")),
                       threading.Thread(target=work, args=(other, "c"))]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert len(set(answers)) == 15 and None not in answers, answers
            print("answers", len(answers))
            """,
    })
    assert "answers 15" in xp("exp", "run", "-n", "th", cwd=repo).stdout
    commits = chain(repo, refs(repo)["th"])
    assert len(commits) == 16, "15 checkpoints, one after the other, then the experiment"


def test_kill_9_keeps_every_checkpoint_and_the_experiment_shows_where_it_stopped(proj, xp):
    git(proj, "add", "-A")
    proc = subprocess.Popen([sys.executable, "-m", "pyhelper", "exp", "run", "-n", "k", "-S", "epochs=50",
                             "-S", "delay=0.2"], cwd=proj, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, **GIT_ENV})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(chain(proj, refs(proj).get("k", "HEAD"))) < 2:
        time.sleep(0.05)
    live_step = json.loads((proj / "dvclive" / "metrics.json").read_text())["step"]
    running = next(r for r in show(xp, proj) if r["name"] == "k")
    assert running["status"] == "running" and running["step"] >= 1, "a live run shows its newest checkpoint"
    assert running["metrics"]["dvclive/metrics.json"]["step"] >= live_step, "and the metrics of its newest step"
    killed = json.loads(next((proj / ".xp" / "live").glob("*.json")).read_text())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    # The training process (its own process group) finds xp gone at its next checkpoint and stops.
    wait_for_stages_to_end(proj)
    commits = chain(proj, refs(proj)["k"])
    steps = [int(s.rsplit("@", 1)[1]) for _, s in commits]
    assert len(steps) >= 2 and steps == list(range(steps[0], -1, -1)), "every checkpoint, in order"
    for rev, _ in commits:
        assert git(proj, "cat-file", "-t", f"{rev}^{{tree}}").strip() == "tree"
    rows = show(xp, proj)
    experiment = next(r for r in rows if r["name"] == "k")
    assert experiment["status"] == "failed" and experiment["step"] == steps[0]
    assert [r["step"] for r in rows if r["kind"] == "checkpoint"] == steps
    assert f"failed at step {steps[0]}" in xp("exp", "show", cwd=proj).stdout

    # Resuming continues the same chain from the newest checkpoint, with the model restored.
    out = xp("exp", "run", "--resume", "k", "-S", "delay=0", "-S", f"epochs={steps[0] + 3}", cwd=proj).stdout
    assert f"start {steps[0] + 1} model-present" in out and f"state {steps[0] + 3}" in out
    after = [s for _, s in chain(proj, refs(proj)["k"])]
    assert after[0] == "xp: experiment k" and after[-len(steps):] == [s for _, s in commits]
    assert next(r for r in show(xp, proj) if r["name"] == "k")["status"] == "success"
    assert not list((proj / ".xp" / "live").iterdir()) and not list((proj / ".xp" / "tmp").glob("*.sock")), \
        "what the killed run left behind is cleaned up by the next"
    assert not Path(killed["socket"]).exists() and not (
        Path(killed["socket"]).parent.name.startswith("xp-ck-") and Path(killed["socket"]).parent.exists())


def test_resume_from_an_earlier_step_apply_and_branch_a_checkpoint(proj, xp):
    xp("exp", "run", "-n", "a", "-S", "epochs=4", cwd=proj)
    out = xp("exp", "run", "--resume", "a@1", cwd=proj).stdout
    assert "start 2 model-present" in out and "state 4" in out
    subjects = [s for _, s in chain(proj, refs(proj)["a"])]
    assert subjects == ["xp: experiment a", "xp: checkpoint a@3", "xp: checkpoint a@2", "xp: checkpoint a@1",
                        "xp: checkpoint a@0"]
    loss = (proj / "dvclive" / "plots" / "metrics" / "train" / "loss.tsv").read_text().splitlines()
    assert [line.split("\t")[0] for line in loss] == ["step", "0", "1", "2", "3"], "no step twice"

    git(proj, "checkout", "-q", "--", ".")
    xp("exp", "clean", cwd=proj)  # Checkpoints' persisted outputs are referenced: kept.
    xp("exp", "apply", "a@1", cwd=proj)
    assert (proj / "model.bin").read_text().split()[0] == "2"
    assert json.loads((proj / "dvclive" / "metrics.json").read_text())["step"] == 1
    xp("exp", "branch", "a@2", "at-two", cwd=proj)
    assert git(proj, "log", "-1", "--format=%s", "at-two").strip() == "xp: checkpoint a@2"
    assert git(proj, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"


def test_resume_errors_name_what_is_wrong_and_change_nothing(proj, xp):
    xp("exp", "run", "-n", "a", cwd=proj)
    xp("exp", "save", "-n", "plain", cwd=proj)
    before = (proj / "model.bin").read_bytes()
    err = xp("exp", "run", "--resume", "nope", cwd=proj, expect=2).stderr
    assert "no experiment named 'nope'" in err
    err = xp("exp", "run", "--resume", "a@9", cwd=proj, expect=2).stderr
    assert "has no checkpoint at step 9" in err and "steps 0, 1, 2" in err
    err = xp("exp", "run", "--resume", "plain", "--reset", cwd=proj, expect=2).stderr
    assert "--reset" in err

    # The persisted output of the checkpoint was removed from the cache: the error names the file.
    cache_object(proj, trailer(proj, chain(proj, refs(proj)["a"])[2][0])["outs"]["model.bin"]["md5"]).unlink()
    for args in (("--resume", "a@1"), ("--resume", "a@1", "--temp")):
        err = xp("exp", "run", *args, cwd=proj, expect=2).stderr
        assert "model.bin" in err and "no longer in the cache" in err and "a@1" in err and len(err.splitlines()) == 1
    assert (proj / "model.bin").read_bytes() == before
    assert refs(proj)["a"] == chain(proj, refs(proj)["a"])[0][0]


def test_reset_starts_over_and_a_new_experiment_does_not_resume(proj, xp):
    xp("exp", "run", "-n", "a", cwd=proj)
    out = xp("exp", "run", "-n", "b", "-S", "epochs=2", cwd=proj).stdout
    assert "start 0 model-present" in out and "state 2" in out, "Live(resume=True) starts at 0 in a new run"
    out = xp("exp", "run", "-n", "c", "--reset", cwd=proj).stdout
    assert "start 0 fresh" in out and "state 2" in out


def test_outside_an_experiment_a_checkpoint_records_nothing(proj, xp):
    out = xp("repro", cwd=proj).stdout
    assert "checkpoint 0 None" in out and "state 3" in out
    assert refs(proj) == {}


def test_a_checkpoint_while_the_user_edits_files_holds_what_was_on_disk(proj, xp):
    (proj / "notes.txt").write_text("v0\n")
    git(proj, "add", "-A")
    git(proj, "commit", "-q", "-m", "notes")
    stop = threading.Event()
    written = {"v0\n"}

    def edit() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            text = f"v{n}\n" + "line\n" * (n % 50)
            written.add(text)
            tmp = proj / ".notes.tmp"
            tmp.write_text(text)
            os.replace(tmp, proj / "notes.txt")  # As editors save: the whole new file at once.
            time.sleep(0.001)

    editor = threading.Thread(target=edit)
    editor.start()
    try:
        xp("exp", "run", "-n", "e", "-S", "epochs=15", cwd=proj)
    finally:
        stop.set()
        editor.join()
    commits = chain(proj, refs(proj)["e"])
    seen = {git(proj, "show", f"{rev}:notes.txt") for rev, _ in commits}
    assert seen <= written, "every checkpoint holds one whole version of the file"
    assert len(seen) > 1, "the edits were picked up as they happened"


def test_a_stage_speaking_another_protocol_version_gets_a_clear_answer(gen, xp):
    repo = gen({
        "dvc.yaml": "stages:\n  s:\n    cmd: python s.py\n    deps: [s.py]\n",
        "s.py": """
            import json, os, socket
            conn = socket.socket(socket.AF_UNIX)
            conn.connect(os.environ["XP_CHECKPOINT_SOCKET"])
            conn.sendall(json.dumps({"version": 99, "type": "checkpoint", "step": 0}).encode() + b"\\n")
            print(conn.makefile().readline())
            """,
    })
    out = xp("exp", "run", "-n", "v", cwd=repo).stdout
    answer = json.loads(next(line for line in out.splitlines() if line.startswith("{")))
    assert answer["ok"] is False and "protocol version 1" in answer["error"] and "99" in answer["error"]


def wait_for_stages_to_end(repo: Path) -> None:
    """Waits until no process runs in `repo` any more (a stage left behind by a killed xp)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        alive = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                if Path(os.readlink(f"/proc/{pid}/cwd")) == repo.resolve():
                    alive.append(pid)
            except OSError:
                continue
        if not alive:
            return
        time.sleep(0.05)
    raise AssertionError(f"processes still run in {repo}: {alive}")


def wait_for_checkpoints(repo: Path, name: str, count: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if name in refs(repo) and len(chain(repo, refs(repo)[name])) >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"{name} made fewer than {count} checkpoints in 30 s")


def test_ctrl_c_keeps_every_checkpoint_and_the_experiment_failed_at_its_step(proj, xp):
    proc = subprocess.Popen([sys.executable, "-m", "pyhelper", "exp", "run", "-n", "c", "-S", "epochs=50",
                             "-S", "delay=0.2"], cwd=proj, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **GIT_ENV},
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    wait_for_checkpoints(proj, "c", 2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "interrupted" in err
    steps = [int(s.rsplit("@", 1)[1]) for _, s in chain(proj, refs(proj)["c"])]
    experiment = next(r for r in show(xp, proj) if r["name"] == "c")
    assert experiment["status"] == "failed" and experiment["step"] == steps[0] == len(steps) - 1
    assert not list((proj / ".xp" / "live").iterdir()) and not list((proj / ".xp" / "tmp").glob("*.sock"))


def test_queue_kill_keeps_the_checkpoints(proj, xp):
    xp("exp", "run", "--queue", "-n", "qk", "-S", "epochs=50", "-S", "delay=0.2", cwd=proj)
    xp("queue", "start", "-j", "1", "--idle", "1", cwd=proj)
    try:
        wait_for_checkpoints(proj, "qk", 2)
        xp("queue", "kill", "qk", cwd=proj)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            entries = json.loads(xp("queue", "status", "--json", cwd=proj).stdout)["entries"]
            if entries[0]["status"] == "cancelled":
                break
            time.sleep(0.1)
        assert entries[0]["status"] == "cancelled"
    finally:
        xp("queue", "stop", "--kill", cwd=proj, expect=None)
    steps = [int(s.rsplit("@", 1)[1]) for _, s in chain(proj, refs(proj)["qk"])]
    assert len(steps) >= 2 and steps == list(range(steps[0], -1, -1))
    experiment = next(r for r in show(xp, proj) if r["name"] == "qk")
    assert experiment["status"] == "failed" and experiment["step"] == steps[0]


def test_a_persisted_directory_comes_back_with_its_checkpoint(gen, xp):
    repo = gen({
        "dvc.yaml": train_stage("t.py", outs=["state"], persist=True),
        "t.py": """
            import os
            from pyhelper.live import Live
            live = Live()
            os.makedirs("state", exist_ok=True)
            for step in range(3):
                for name in ("weights", "optimizer"):
                    with open(f"state/{name}", "w") as f:
                        f.write(f"{name} {step}")
                live.log_metric("loss", step)
                live.make_checkpoint()
                live.next_step()
            """,
    })
    xp("exp", "run", "-n", "d", cwd=repo)
    assert (repo / "state" / "weights").read_text() == "weights 2"
    xp("exp", "apply", "d@1", cwd=repo)
    assert (repo / "state" / "weights").read_text() == "weights 1"
    assert (repo / "state" / "optimizer").read_text() == "optimizer 1"


@pytest.mark.dvc
def test_dvc_lists_an_experiment_with_checkpoints_and_its_cache_holds_them(proj, dvc_bin, xp):  # noqa: F811
    dvc(dvc_bin, proj, "init", "-q")
    git(proj, "add", "-A")
    git(proj, "commit", "-q", "-m", "dvc init")
    xp("exp", "run", "-n", "a", cwd=proj)
    data = json.loads(dvc(dvc_bin, proj, "exp", "show", "--json"))
    head = git(proj, "rev-parse", "HEAD").strip()
    baseline = next(entry for entry in data if entry["rev"] == head)
    experiment = next(exp for exp in baseline["experiments"] if exp["name"] == "a")
    assert experiment["revs"][0]["rev"] == refs(proj)["a"]
    assert experiment["revs"][0]["data"]["metrics"]["dvclive/metrics.json"]["data"]["step"] == 2
    # In a DVC project the checkpoints' outputs go to DVC's cache, where `dvc` finds them too.
    md5 = trailer(proj, chain(proj, refs(proj)["a"])[2][0])["outs"]["model.bin"]["md5"]
    assert (proj / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]).read_text().split()[0] == "2"


def test_a_running_experiment_shows_the_metrics_of_its_newest_step(gen, xp):
    repo = gen({
        "dvc.yaml": train_stage("t.py", metrics=["dvclive/metrics.json"]),
        "t.py": """
            import time
            from pyhelper.live import Live
            with Live() as live:
                for step in range(60):
                    live.log_metric("loss", 1 / (step + 1))
                    if step == 0:
                        live.make_checkpoint()
                    live.next_step()
                    time.sleep(0.05)
            """,
    })
    proc = subprocess.Popen([sys.executable, "-m", "pyhelper", "exp", "run", "-n", "r"], cwd=repo,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, **GIT_ENV})
    try:
        metrics = repo / "dvclive" / "metrics.json"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (metrics.is_file() and json.loads(metrics.read_text())["step"] >= 5):
            time.sleep(0.05)
        row = next(r for r in show(xp, repo) if r["name"] == "r")
        assert row["status"] == "running" and row["step"] == 0, "its newest checkpoint is step 0"
        assert row["metrics"]["dvclive/metrics.json"]["step"] >= 5, "but its metrics are those of now"
    finally:
        assert proc.wait(timeout=60) == 0
    assert next(r for r in show(xp, repo) if r["name"] == "r")["status"] == "success"


def test_socket_folders_of_killed_runs_are_removed_and_living_ones_kept():
    import socket
    import tempfile

    from pyhelper.core.experiments.checkpoint import SOCKET_DIR_PREFIX, prune_stale_socket_dirs

    stale = Path(tempfile.mkdtemp(prefix=SOCKET_DIR_PREFIX))
    living = Path(tempfile.mkdtemp(prefix=SOCKET_DIR_PREFIX))
    dead = socket.socket(socket.AF_UNIX)
    dead.bind(str(stale / "s.sock"))
    dead.close()  # As kill -9 leaves it: the file, and nobody listening.
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(living / "s.sock"))
    server.listen(1)
    try:
        for folder in (stale, living):
            os.utime(folder, (time.time() - 3600, time.time() - 3600))
        prune_stale_socket_dirs()
        assert not stale.exists() and (living / "s.sock").exists()
    finally:
        server.close()
        (living / "s.sock").unlink(missing_ok=True)
        living.rmdir()


def test_resume_with_nothing_changed_trains_on(proj, xp):
    xp("exp", "run", "-n", "r", "-S", "epochs=2", cwd=proj)
    out = xp("exp", "run", "--resume", "r", cwd=proj).stdout
    assert "didn't change, skipping" not in out and "start 2 model-present" in out and "state 2" in out
    subjects = [s for _, s in chain(proj, refs(proj)["r"])]
    assert subjects == ["xp: experiment r", "xp: checkpoint r@1", "xp: checkpoint r@0"], subjects


def test_a_running_experiment_is_not_removed_from_under_its_run(proj, xp):
    xp("exp", "run", "-n", "done", "-S", "epochs=1", "--temp", cwd=proj)
    # Long enough to be running through both removes on a loaded machine (it is stopped below).
    proc = subprocess.Popen([sys.executable, "-m", "pyhelper", "exp", "run", "-n", "busy", "-S", "epochs=100",
                             "-S", "delay=1", "--temp"], cwd=proj, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env={**os.environ, **GIT_ENV})
    try:
        deadline = time.monotonic() + 60
        while "busy" not in refs(proj):
            assert time.monotonic() < deadline and proc.poll() is None, "the run never made a checkpoint"
            time.sleep(0.05)
        named = xp("exp", "remove", "busy", cwd=proj, expect=2)
        assert "experiment 'busy' is running now (pid" in named.stderr and "--force" in named.stderr
        everything = xp("exp", "remove", "-A", cwd=proj)
        assert "note: left out 1 running experiment(s): busy" in everything.stderr
        assert "Removed 1 experiment(s): done" in everything.stdout
        assert proc.poll() is None, "still running: the removes above saw a live run"
        proc.send_signal(signal.SIGINT)  # Ctrl-C: the run stops and keeps its checkpoints.
        proc.wait(120)
        assert set(refs(proj)) == {"busy"}
    finally:
        if proc.poll() is None:
            proc.kill()


TRAIN_THEN_EVALUATE = {
    "dvc.yaml": """
        stages:
          train:
            cmd: python train.py
            deps: [train.py]
            params: [quality]
            outs: [model.txt]
          evaluate:
            cmd: python evaluate.py
            deps: [evaluate.py, model.txt]
            metrics:
              - scores.json:
                  cache: false
        metrics:
          - dvclive/metrics.json
        """,
    "params.yaml": "quality: 5\n",
    "train.py": """
        from pyhelper.live import Live
        quality = int(open("params.yaml").read().split(":")[1])
        with Live() as live:
            for step in range(2):
                live.log_metric("loss", 1 / (quality + step))
                open("model.txt", "w").write(str(quality))
                live.make_checkpoint()
                live.next_step()
        """,
    "evaluate.py": """
        import json
        json.dump({"acc": int(open("model.txt").read()) / 10}, open("scores.json", "w"))
        """,
    # The baseline's evaluation, committed: what a checkpoint's tree still holds while train runs.
    "scores.json": '{"acc": 0.5}\n',
}


def test_a_checkpoint_row_shows_its_own_metrics_not_the_baselines_evaluation(gen, xp):
    repo = gen(TRAIN_THEN_EVALUATE)
    xp("exp", "run", "-n", "better", "-S", "quality=9", cwd=repo)
    rows = show(xp, repo)
    experiment = next(r for r in rows if r["name"] == "better")
    assert experiment["metrics"]["scores.json"]["acc"] == 0.9
    checkpoints = [r for r in rows if r["kind"] == "checkpoint"]
    assert [r["name"] for r in checkpoints] == ["better@1", "better@0"]
    for row in checkpoints:
        # The tree of a checkpoint of `train` still holds the baseline's scores.json (evaluate had
        # not run): 0.5 under an experiment at 0.9 would be a lie. Its own logged metrics stay.
        assert "scores.json" not in row["metrics"], row
        assert row["metrics"]["dvclive/metrics.json"]["step"] == row["step"]
    table = xp("exp", "show", "--drop", "Created", cwd=repo).stdout
    checkpoint_line = next(line for line in table.splitlines() if "better@0" in line)
    assert "0.5" not in checkpoint_line, table
    # Filtered out, an experiment takes its checkpoints with it (the CLI and the editor alike).
    kept = show(xp, repo, "--filter", "acc<0.6")
    assert not [r for r in kept if r["name"].startswith("better")], kept


@pytest.mark.asyncio
async def test_the_editor_filters_checkpoints_with_their_experiment(gen, xp):
    from pyhelper.server import protocol as p
    from tests.lsp_client import request, started

    repo = gen(TRAIN_THEN_EVALUATE)
    xp("exp", "run", "-n", "better", "-S", "quality=9", cwd=repo)
    async with started(repo) as client:
        dropped = await request(client, p.SHOW_EXPERIMENTS, p.ShowExperimentsParams(filter="acc<0.6"))
        kept = await request(client, p.SHOW_EXPERIMENTS, p.ShowExperimentsParams(filter="acc>0.6"))
    assert not [r.name for r in dropped.rows if r.name.startswith("better")]
    assert [r.name for r in kept.rows if r.name.startswith("better")] == ["better", "better@1", "better@0"]
