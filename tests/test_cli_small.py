"""Small things a user notices (issue 17, item 14): typos get the nearest name; --open without a browser
says where the file is."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("args, suggestion", [
    (("exp", "shwo"), "did you mean 'show'?"),
    (("stauts",), "did you mean 'status'?"),
    (("exp", "show", "--fitler", "x"), "did you mean '--filter'?"),
    (("queue", "stauts"), "did you mean 'status'?"),
])
def test_a_typo_gets_the_nearest_name(gen, xp, args, suggestion):
    repo = gen({"README.md": "x\n"})
    result = xp(*args, cwd=repo, expect=2)
    assert suggestion in result.stderr and "Traceback" not in result.stderr


def test_a_flag_another_command_has_is_not_suggested_as_itself(gen, xp):
    repo = gen({"README.md": "x\n"})
    result = xp("exp", "apply", "-f", "x", cwd=repo, expect=2)
    assert "unrecognized arguments: -f" in result.stderr and "did you mean '-f'" not in result.stderr


def test_open_without_a_browser_says_where_the_file_is(gen, xp, monkeypatch):
    repo = gen({"dvc.yaml": "plots:\n  - loss.csv\n", "loss.csv": "step,loss\n0,1\n1,0.5\n"})
    monkeypatch.setenv("BROWSER", "false")  # A browser that cannot start (no display here).
    monkeypatch.delenv("DISPLAY", raising=False)
    result = xp("plots", "show", "--open", cwd=repo)
    assert "No browser could be started here; open file://" in result.stderr


def test_a_failing_stage_s_fix_is_on_a_line_of_its_own_and_its_output_is_escaped(gen, xp):
    repo = gen({"dvc.yaml": "stages:\n  s:\n    cmd: echo hello; printf '\\033]52;c;cHduZWQ=\\007oops\\n'; exit 3\n"})
    result = xp("repro", cwd=repo, expect=1)
    error = result.stderr[result.stderr.index("error: "):].splitlines()
    assert error[-2] == "  | \\x1b]52;c;cHduZWQ=\\x07oops"
    assert error[-1].startswith("  hint: fix the command and run `xp repro` again")


def test_removing_many_experiments_names_twenty_and_counts_the_rest(gen, xp):
    from tests.conftest import git

    repo = gen({"params.yaml": "lr: 1\n"})
    head = git(repo, "rev-parse", "HEAD").strip()
    for n in range(25):
        git(repo, "update-ref", f"refs/exps/{head[:2]}/{head[2:]}/e{n:02d}", head)
    out = xp("exp", "remove", "-A", cwd=repo).stdout
    assert out.startswith("Removed 25 experiment(s): ") and out.rstrip().endswith("and 5 more (--json lists them all)")
