"""Run-cache entries from a remote are a teammate's data (`xp fetch --run-cache`): an entry naming a path outside
the project, one under another run's key, a huge one, a YAML bomb, broken YAML or a bad name is skipped with one
line naming it; nothing is written outside the project and no value in an entry becomes a command."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from pyhelper.core.pipeline.dvc_run_cache import BadEntry, entry_name, parse_entry
from pyhelper.core.yamlio.yamlfile import dump_plain
from tests.conftest import git

MD5 = hashlib.md5(b"x\n").hexdigest()


def _lock(outs: list[str], cmd: str = "cp data.txt model.txt") -> dict:
    return {"cmd": cmd, "deps": [{"path": "data.txt", "hash": "md5", "md5": MD5, "size": 2}],
            "outs": [{"path": p, "hash": "md5", "md5": MD5, "size": 2} for p in outs]}


def _put(store: Path, name: str, raw: bytes) -> str:
    path = store / "runs" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(raw)
    return name


def _entry(store: Path, lock: dict) -> str:
    return _put(store, entry_name(lock), dump_plain(lock).encode())


@pytest.fixture
def project(gen, tmp_path, xp) -> Path:
    repo = gen({"data.txt": "x\n", "dvc.yaml": "stages:\n  copy:\n    cmd: cp data.txt model.txt\n"
                                                "    deps: [data.txt]\n    outs: [model.txt]\n"})
    xp("remote", "add", "-d", "store", str(tmp_path / "store"), cwd=repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "remote")
    return repo


def test_hostile_entries_are_skipped_one_line_each(project, tmp_path, xp):
    store = tmp_path / "store"
    good = _entry(store, _lock(["model.txt"]))
    (store / "files" / "md5" / MD5[:2]).mkdir(parents=True)
    (store / "files" / "md5" / MD5[:2] / MD5[2:]).write_bytes(b"x\n")
    outside = _entry(store, _lock(["../../etc/x"]))
    # The same run's key, other outputs: the content does not hash to its name.
    key = good.split("/")[1]
    swapped = _put(store, f"{key[:2]}/{key}/{'0' * 64}", dump_plain(_lock(["elsewhere.txt"])).encode())
    huge = _put(store, f"{'1' * 2}/{'1' * 64}/{'2' * 64}", b"cmd: " + b"a" * (3 << 20) + b"\n")
    bomb_text = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True))
    bomb = _put(store, f"{'3' * 2}/{'3' * 64}/{'4' * 64}", bomb_text.encode())
    broken = _put(store, f"{'5' * 2}/{'5' * 64}/{'6' * 64}", b"cmd: [unclosed\n")
    (store / "runs" / "zz").mkdir()
    (store / "runs" / "zz" / "not-an-entry").write_text("cmd: x\n")

    result = xp("fetch", "--run-cache", "--json", cwd=project)
    notes = [line for line in result.stderr.splitlines() if line.startswith("note: run-cache entry")]
    said = {name: [n for n in notes if f"runs/{name} " in n] for name in (outside, swapped, huge, bomb, broken)}
    assert all(len(lines) == 1 for lines in said.values()), result.stderr
    assert "outside the project" in said[outside][0]
    assert "does not hold what its name says" in said[swapped][0]
    assert "larger than 2 MiB" in said[huge][0]
    assert "aliases" in said[bomb][0] or "YAML bomb" in said[bomb][0], said[bomb]
    assert "malformed YAML" in said[broken][0]
    assert any("runs/zz/not-an-entry" in n for n in notes)
    assert "Traceback" not in result.stderr
    moved = json.loads(result.stdout)["runCache"]
    assert moved["moved"] == 1 and moved["recorded"] == 1 and len(moved["skipped"]) == 6
    runs = sorted(p.relative_to(project / ".xp" / "cache" / "runs").as_posix()
                  for p in (project / ".xp" / "cache" / "runs").glob("*/*/*"))
    assert runs == [good], "only the good entry is kept"
    assert not (tmp_path.parent / "etc").exists() and not Path("/etc/x").exists()


def test_an_entry_never_runs_its_command(project, tmp_path, xp):
    """An entry is only ever a run's outputs: restoring one runs nothing, and an entry whose command is not
    the stage's is not used for it."""
    store = tmp_path / "store"
    _entry(store, _lock(["model.txt"], cmd=f"touch {tmp_path / 'pwned'}"))
    xp("fetch", "--run-cache", cwd=project)
    out = xp("repro", cwd=project).stdout
    assert "Running stage 'copy'" in out
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize(("lock", "why"), [
    ({"cmd": "x", "outs": [{"path": "/etc/passwd", "hash": "md5", "md5": MD5}]}, "outside the project"),
    ({"cmd": "x", "outs": [{"path": ".git/hooks/pre-commit", "hash": "md5", "md5": MD5}]}, "outside the project"),
    ({"cmd": "x", "outs": [{"path": "m", "hash": "md5", "md5": "../../../../etc/passwd"}]}, "no md5"),
    ({"cmd": ["x", 3], "outs": [{"path": "m", "hash": "md5", "md5": MD5}]}, "`cmd`"),
    ({"cmd": "x", "outs": [{"path": "m", "hash": "md5", "md5": MD5}], "extra": 1}, "not a stage's lock data"),
    ({"cmd": "x", "outs": []}, "no outputs"),
    ({"cmd": "x", "params": {"p.yaml": [1]}, "outs": [{"path": "m", "hash": "md5", "md5": MD5}]}, "params"),
])
def test_parse_refuses_what_dvc_never_writes(lock, why):
    with pytest.raises(BadEntry, match=why):
        parse_entry(entry_name(lock), dump_plain(lock).encode())


def test_a_path_may_climb_only_as_far_as_the_deepest_stage_folder():
    lock = {"cmd": "x", "deps": [{"path": "../data.csv", "hash": "md5", "md5": MD5}],
            "outs": [{"path": "m", "hash": "md5", "md5": MD5}]}
    raw = dump_plain(lock).encode()
    parse_entry(entry_name(lock), raw, climb=1)  # A stage in a subfolder reads ../data.csv.
    with pytest.raises(BadEntry, match="outside the project"):
        parse_entry(entry_name(lock), raw, climb=0)
