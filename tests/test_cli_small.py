"""Small things a user notices (issue 17, item 14): typos get the nearest name; --open without a browser says where the file is."""

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


def test_open_without_a_browser_says_where_the_file_is(gen, xp, monkeypatch):
    repo = gen({"dvc.yaml": "plots:\n  - loss.csv\n", "loss.csv": "step,loss\n0,1\n1,0.5\n"})
    monkeypatch.setenv("BROWSER", "false")  # A browser that cannot start (no display here).
    monkeypatch.delenv("DISPLAY", raising=False)
    result = xp("plots", "show", "--open", cwd=repo)
    assert "No browser could be started here; open file://" in result.stderr
