"""Mistyped commands and flags get the nearest one suggested (issue 17, item 14)."""

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
