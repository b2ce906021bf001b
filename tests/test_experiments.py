"""Experiments as git refs: what `xp exp run/save` record, names, and the verbs that manage them
(branch, rename, remove, list, tag, note). Real repositories, the real CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pyhelper.core.experiments import names
from pyhelper.core.experiments.save import save
from pyhelper.core.git.refs import ExpRef, check_name
from pyhelper.core.project import Project
from pyhelper.errors import BadInput
from tests.conftest import git, train_stage

# A one-stage pipeline: a git-tracked metrics file, a cached (git-ignored) model.
PROJECT = {
    "dvc.yaml": train_stage(params=["train.lr", "train.opt"], outs=["model.bin"], metrics=["metrics.json"]),
    "params.yaml": """
        train:
          lr: 0.1   # learning rate
          opt: sgd
        """,
    "train.py": """
        import json, re
        text = open("params.yaml").read()
        lr = float(re.search(r"lr: ([0-9.]+)", text).group(1))
        opt = re.search(r"opt: (\\w+)", text).group(1)
        open("model.bin", "w").write(f"model lr={lr} opt={opt}\\n")
        json.dump({"acc": round(0.5 + lr, 4), "loss": round(1 - lr, 4)}, open("metrics.json", "w"))
        """,
    "README.md": "A project.\n",
    "extra.txt": "tracked, deleted later\n",
    ".gitignore": "*.log\n",
}


def reproduced(gen, xp) -> Path:
    """PROJECT, reproduced and committed (model.bin in the cache, metrics.json in git)."""
    repo = gen(PROJECT)
    xp("repro", cwd=repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "reproduced")
    return repo


@pytest.fixture
def project(gen, xp) -> Path:
    return reproduced(gen, xp)


def exps(repo: Path) -> dict[str, str]:
    """Experiment name → commit id, for every ref under refs/exps/<2>/<38>/."""
    out = git(repo, "for-each-ref", "--format=%(refname) %(objectname)", "refs/exps")
    found = {}
    for line in out.splitlines():
        ref, sha = line.split()
        parts = ref.split("/")
        if len(parts) == 5:
            found[parts[4]] = sha
    return found


def ref_of(repo: Path, name: str, baseline: str | None = None) -> str:
    head = baseline or git(repo, "rev-parse", "HEAD").strip()
    return f"refs/exps/{head[:2]}/{head[2:]}/{name}"


def git_state(repo: Path) -> dict[str, object]:
    """What no experiment command may change: HEAD, branches, the index, the stash."""
    return {
        "HEAD": (repo / ".git" / "HEAD").read_text(),
        "head": git(repo, "rev-parse", "HEAD").strip(),
        "branches": git(repo, "for-each-ref", "refs/heads", "refs/tags"),
        "cached": git(repo, "diff", "--cached"),
        "stash": git(repo, "stash", "list"),
        "index": (repo / ".git" / "index").read_bytes(),
    }


def one_line_error(result) -> str:
    """The error a user sees: exactly one line on stderr, no traceback."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_exp_run_records_the_workspace_on_top_of_head_and_touches_nothing_else(project, xp):
    (project / "README.md").write_text("A changed project.\n")
    (project / "extra.txt").unlink()
    (project / "notes.txt").write_text("untracked, not ignored\n")
    (project / "debug.log").write_text("ignored\n")
    (project / "staged.txt").write_text("in the index\n")
    git(project, "add", "staged.txt")
    before = git_state(project)

    out = xp("exp", "run", "-S", "train.lr=0.3", "-n", "lr3", "-m", "try lr 0.3", cwd=project)
    head = before["head"]
    assert "Ran experiment 'lr3'" in out.stdout and head[:7] in out.stdout
    assert git_state(project) == before, "HEAD, branches, index and stash are untouched"

    ref = f"refs/exps/{head[:2]}/{head[2:]}/lr3"
    assert git(project, "rev-parse", "--verify", ref).strip() == exps(project)["lr3"]
    assert git(project, "log", "-1", "--format=%P", ref).split() == [head], "one parent: HEAD"
    assert git(project, "log", "-1", "--format=%B", ref).strip() == "try lr 0.3"
    files = set(git(project, "ls-tree", "-r", "--name-only", ref).split())
    assert {"README.md", "notes.txt", "staged.txt", "dvc.lock", "metrics.json", "params.yaml"} <= files
    assert "extra.txt" not in files, "a deleted tracked file is absent from the experiment"
    assert "debug.log" not in files and "model.bin" not in files, "ignored files and cached outputs stay out"
    assert git(project, "show", f"{ref}:README.md") == "A changed project.\n"
    assert "lr: 0.3   # learning rate" in git(project, "show", f"{ref}:params.yaml"), "round-trip edit"
    assert "train.lr: 0.3" in git(project, "show", f"{ref}:dvc.lock")
    assert json.loads(git(project, "show", f"{ref}:metrics.json")) == {"acc": 0.8, "loss": 0.7}
    # The run happened in the workspace, which keeps its results.
    assert (project / "model.bin").read_text() == "model lr=0.3 opt=sgd\n"
    assert json.loads((project / "metrics.json").read_text())["acc"] == 0.8


def test_exp_save_records_the_workspace_without_running(project, xp):
    params = project / "params.yaml"
    params.write_text(params.read_text().replace("opt: sgd", "opt: adam"))
    lock = (project / "dvc.lock").read_text()
    out = json.loads(xp("exp", "save", "-n", "by-hand", "--json", cwd=project).stdout)
    head = git(project, "rev-parse", "HEAD").strip()
    assert out == {"name": "by-hand", "rev": exps(project)["by-hand"], "baseline": head,
                   "ref": ref_of(project, "by-hand")}
    assert "opt: adam" in git(project, "show", f"{out['rev']}:params.yaml")
    assert git(project, "show", f"{out['rev']}:dvc.lock") == lock, "nothing ran"
    assert (project / "model.bin").read_text() == "model lr=0.1 opt=sgd\n"


def test_generated_names_are_adjective_noun_and_unique_per_baseline(project, xp):
    p = Project(project)
    made = [save(p).name for _ in range(40)]
    assert len(set(made)) == 40
    assert all(re.fullmatch(r"[a-z]+-[a-z]+", n) for n in made), made
    assert all(n.split("-")[0] in names.ADJECTIVES and n.split("-")[1] in names.NOUNS for n in made)
    every_pair = {f"{a}-{n}" for a in names.ADJECTIVES for n in names.NOUNS}
    extra = names.generate(every_pair)
    assert extra not in every_pair and re.fullmatch(r"[a-z]+-[a-z]+-\d+", extra), "a suffix once pairs run out"

    # The same name may be used again on another baseline.
    xp("exp", "save", "-n", "again", cwd=project)
    git(project, "commit", "-q", "--allow-empty", "-m", "next")
    xp("exp", "save", "-n", "again", cwd=project)
    refs = git(project, "for-each-ref", "--format=%(refname)", "refs/exps").split()
    assert len([r for r in refs if r.endswith("/again")]) == 2


def test_an_invalid_name_is_refused_with_one_clear_line(project, xp):
    for bad in ("a b", "a/b", "..x", "x.lock", "-x"):
        result = xp("exp", "save", f"--name={bad}", cwd=project, expect=2)
        assert f"'{bad}' is not a valid experiment name" in one_line_error(result)
    for bad in ("x..y", ".x", "x:y", "x~1", "x^", "x?", "x*", "x[", "@", "x.", "a\\b", "a@{b", "", "tab\t"):
        with pytest.raises(BadInput, match="not a valid experiment name"):
            check_name(bad)
    for good in ("lr-0.1", "Run_2", "a.b", "x@y"):
        assert check_name(good) == good
    assert exps(project) == {}


def test_exp_run_checks_the_name_before_running_anything(project, xp):
    params = (project / "params.yaml").read_text()
    result = xp("exp", "run", "-S", "train.lr=0.7", "--name=a b", cwd=project, expect=2)
    assert "not a valid experiment name" in one_line_error(result)
    assert (project / "params.yaml").read_text() == params, "no param was set"
    assert "Running stage" not in result.stdout


def test_a_name_clash_is_refused_unless_forced(project, xp):
    xp("exp", "save", "-n", "taken", cwd=project)
    first = exps(project)["taken"]
    result = xp("exp", "save", "-n", "taken", cwd=project, expect=2)
    assert "an experiment named 'taken' already exists" in one_line_error(result) and "-f" in result.stderr
    params = (project / "params.yaml").read_text()
    result = xp("exp", "run", "-S", "train.lr=0.9", "-n", "taken", cwd=project, expect=2)
    assert "already exists" in one_line_error(result)
    assert (project / "params.yaml").read_text() == params and "Running stage" not in result.stdout
    assert exps(project) == {"taken": first}

    (project / "README.md").write_text("changed\n")
    xp("exp", "save", "-n", "taken", "-f", cwd=project)
    assert exps(project)["taken"] != first
    assert git(project, "show", f"{exps(project)['taken']}:README.md") == "changed\n"


def test_experiments_on_a_detached_head(project, xp):
    git(project, "commit", "-q", "--allow-empty", "-m", "second")
    git(project, "checkout", "-q", "--detach", "HEAD~1")
    before = git_state(project)
    xp("exp", "run", "-S", "train.lr=0.2", "-n", "detached", cwd=project)
    assert git_state(project) == before, "still detached at the same commit"
    head = before["head"]
    assert git(project, "rev-parse", ref_of(project, "detached", head) + "^").strip() == head
    rows = json.loads(xp("exp", "show", "--xp-json", cwd=project).stdout)
    assert [r["name"] for r in rows] == ["workspace", head[:7], "detached"]


def test_a_repository_without_commits_gets_a_clear_error(gen, xp):
    repo = gen(PROJECT, commit=False)
    for args in (["exp", "run"], ["exp", "save"], ["exp", "show"], ["exp", "apply", "x"]):
        result = xp(*args, cwd=repo, expect=2)
        line = one_line_error(result)
        assert "no commits yet" in line and "git commit" in line, line
    assert not (repo / "dvc.lock").exists(), "nothing ran"


def test_branch_makes_an_experiment_a_branch_without_moving_head(project, xp):
    xp("exp", "run", "-S", "train.lr=0.3", "-n", "good", cwd=project)
    before = git_state(project)
    out = xp("exp", "branch", "good", "keep-good", cwd=project)
    assert "Created branch 'keep-good'" in out.stdout
    assert git(project, "rev-parse", "keep-good").strip() == exps(project)["good"]
    after = git_state(project)
    assert (after["HEAD"], after["head"], after["index"]) == (before["HEAD"], before["head"], before["index"])

    result = xp("exp", "branch", "good", "keep-good", cwd=project, expect=2)
    assert "a branch named 'keep-good' already exists" in one_line_error(result)
    result = xp("exp", "branch", "good", "bad..name", cwd=project, expect=2)
    assert "not a valid branch name" in one_line_error(result)
    result = xp("exp", "branch", "goood", "other", cwd=project, expect=2)
    assert "did you mean 'good'?" in one_line_error(result)


def test_rename_moves_the_ref_and_tags_and_notes_follow(project, xp):
    xp("exp", "save", "-n", "old", cwd=project)
    xp("exp", "save", "-n", "other", cwd=project)
    sha = exps(project)["old"]
    xp("exp", "tag", "old", "best", cwd=project)
    xp("exp", "note", "old", "lr sweep winner", cwd=project)
    assert "Renamed 'old' to 'new'" in xp("exp", "rename", "old", "new", cwd=project).stdout
    assert exps(project) == {"new": sha, "other": exps(project)["other"]}
    row = [r for r in json.loads(xp("exp", "show", "--xp-json", cwd=project).stdout) if r["name"] == "new"][0]
    assert (row["tags"], row["note"]) == (["best"], "lr sweep winner")

    result = xp("exp", "rename", "new", "other", cwd=project, expect=2)
    assert "an experiment named 'other' already exists" in one_line_error(result)
    result = xp("exp", "rename", "new", "a b", cwd=project, expect=2)
    assert "not a valid experiment name" in one_line_error(result)

    # Renaming to its own name (even with -f) must never lose the experiment.
    xp("exp", "rename", "new", "new", "-f", cwd=project)
    assert exps(project)["new"] == sha

    other_sha = exps(project)["other"]
    xp("exp", "tag", "other", "replaced", cwd=project)
    xp("exp", "rename", "new", "other", "-f", cwd=project)
    assert exps(project) == {"other": sha}
    listed = git(project, "notes", "--ref", "xp", "list")
    assert other_sha not in listed and sha in listed, "the replaced experiment's notes are gone, ours kept"


def test_remove_by_name_rev_and_all(project, xp):
    for name in ("a1", "a2", "a3"):
        xp("exp", "save", "-n", name, cwd=project)
    xp("exp", "tag", "a1", "t", cwd=project)
    a1 = exps(project)["a1"]

    result = xp("exp", "remove", "a2", "a33", cwd=project, expect=2)
    assert "no experiment named 'a33'" in one_line_error(result) and "did you mean 'a3'?" in result.stderr
    assert set(exps(project)) == {"a1", "a2", "a3"}, "nothing removed when one name is unknown"

    line = one_line_error(xp("exp", "remove", "a2", "--rev", "HEAD", cwd=project, expect=2))
    assert "one way" in line and set(exps(project)) == {"a1", "a2", "a3"}, "names and --rev together: refused"
    assert "Removed 2 experiment(s): a1, a2" in xp("exp", "remove", "a1", "a2", "a1", cwd=project).stdout
    assert set(exps(project)) == {"a3"}
    assert a1 not in git(project, "notes", "--ref", "xp", "list"), "its notes go with it"

    git(project, "commit", "-q", "--allow-empty", "-m", "next")
    xp("exp", "save", "-n", "b1", cwd=project)
    removed = json.loads(xp("exp", "remove", "--rev", "HEAD~1", "--json", cwd=project).stdout)
    assert [r["name"] for r in removed] == ["a3"] and set(exps(project)) == {"b1"}
    xp("exp", "save", "-n", "b2", cwd=project)
    assert "Removed 2" in xp("exp", "remove", "-A", cwd=project).stdout and exps(project) == {}
    assert git_state(project)["branches"].count("refs/heads/") == 1

    assert "nothing to remove" in one_line_error(xp("exp", "remove", cwd=project, expect=2))
    assert "unknown revision" in one_line_error(xp("exp", "remove", "--rev", "nope", cwd=project, expect=2))


def test_list_by_baseline_names_only_and_json(project, xp):
    xp("exp", "save", "-n", "one", cwd=project)
    xp("exp", "save", "-n", "two", cwd=project)
    head = git(project, "rev-parse", "HEAD").strip()
    assert xp("exp", "list", "--name-only", cwd=project).stdout.split() == ["one", "two"]
    listed = xp("exp", "list", cwd=project).stdout
    assert listed == f"main:\n\t{exps(project)['one'][:7]} [one]\n\t{exps(project)['two'][:7]} [two]\n", "DVC's listing"
    data = json.loads(xp("exp", "list", "--json", cwd=project).stdout)
    assert data == [{"name": n, "rev": exps(project)[n], "baseline": head} for n in ("one", "two")]


def test_tags_and_notes_live_in_git_notes_and_show_up_everywhere(project, xp):
    xp("exp", "save", "-n", "e1", cwd=project)
    xp("exp", "save", "-n", "e2", cwd=project)
    assert "best, candidate" in xp("exp", "tag", "e1", "best", "candidate", cwd=project).stdout
    xp("exp", "note", "e1", "The one to beat.", cwd=project)
    stored = json.loads(git(project, "notes", "--ref", "xp", "show", exps(project)["e1"]))
    assert stored == {"version": 1, "tags": ["best", "candidate"], "note": "The one to beat."}

    rows = {r["name"]: r for r in json.loads(xp("exp", "show", "--xp-json", cwd=project).stdout)}
    assert (rows["e1"]["tags"], rows["e1"]["note"]) == (["best", "candidate"], "The one to beat.")
    assert rows["e2"]["tags"] == []
    table = xp("exp", "show", cwd=project).stdout
    assert re.search(r"e1 .* best,candidate", table)
    shown = json.loads(xp("exp", "show", "--xp-json", "--filter", "tag=best", cwd=project).stdout)
    assert [r["name"] for r in shown if r["kind"] == "experiment"] == ["e1"]

    xp("exp", "tag", "e1", "candidate", "--remove", cwd=project)
    xp("exp", "note", "e1", "", cwd=project)
    assert json.loads(git(project, "notes", "--ref", "xp", "show", exps(project)["e1"]))["tags"] == ["best"]
    assert "not a valid tag" in one_line_error(xp("exp", "tag", "e1", "two words", cwd=project, expect=2))
    assert "no experiment named" in one_line_error(xp("exp", "note", "nope", "x", cwd=project, expect=2))


def test_an_exp_ref_round_trips_to_dvcs_layout():
    ref = ExpRef("ab" + "c" * 38, "brave-otter")
    assert str(ref) == "refs/exps/ab/" + "c" * 38 + "/brave-otter"
    assert ExpRef.parse(str(ref)) == ref
    for other in ("refs/exps/exec/EXEC_HEAD", "refs/heads/main", "refs/exps/ab/cd/x",
                  "refs/exps/ab/" + "g" * 38 + "/x"):
        assert ExpRef.parse(other) is None, other
