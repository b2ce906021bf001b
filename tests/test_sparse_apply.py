"""Big sparse outputs and `exp apply` (issue 17, item 15): a sparse file stays sparse in the cache and
in the workspace, and what apply checked out is known to the stat index (no re-read on the next
status), while a write right after it is still seen."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

SIZE = 256 * 1024 * 1024  # Sparse: a few blocks on disk whatever the size.

PROJECT = {
    "dvc.yaml": """
        stages:
          make:
            cmd: python make.py
            deps: [make.py]
            params: [tag]
            outs: [big.bin]
        """,
    "params.yaml": "tag: a\n",
    "make.py": f"""
        tag = open("params.yaml").read().split(":")[1].strip()
        with open("big.bin", "wb") as out:
            out.write(tag.encode() * 4096)
            out.truncate({SIZE})
        """,
}


def on_disk(path: Path) -> int:
    return path.stat().st_blocks * 512


def md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def test_a_sparse_output_stays_sparse_and_apply_is_known_to_the_stat_index(gen, xp):
    repo = gen(PROJECT)
    xp("exp", "run", "-n", "a", cwd=repo)
    wanted = md5(repo / "big.bin")
    xp("exp", "run", "-n", "b", "-S", "tag=b", cwd=repo)
    objects = [p for p in (repo / ".xp" / "cache" / "files" / "md5").rglob("*") if p.is_file()]
    assert len(objects) == 2 and all(o.stat().st_size == SIZE for o in objects)
    assert all(on_disk(o) < 16 * 1024 * 1024 for o in objects), [on_disk(o) for o in objects]

    xp("exp", "apply", "a", cwd=repo)
    big = repo / "big.bin"
    assert md5(big) == wanted and big.stat().st_size == SIZE
    assert on_disk(big) < 16 * 1024 * 1024, f"the workspace copy takes {on_disk(big):,} bytes"
    st = big.stat()
    with sqlite3.connect(repo / ".xp" / "index.db") as db:
        row = db.execute("SELECT inode, size, mtime, ctime, md5 FROM stat_index WHERE path=?", (str(big),)).fetchone()
    assert row == (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, wanted), \
        "apply told the stat index what it wrote: the next status does not read 256 MB again"
    assert "up to date" in xp("status", cwd=repo).stdout

    # A write the same instant after apply (same size, in place) is seen: apply set the copy's mtime
    # back, so any write moves it.
    with open(big, "r+b") as f:
        f.write(b"Z")
    assert "modified" in xp("status", cwd=repo).stdout
