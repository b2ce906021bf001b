"""Keeping cached outputs out of git, as DVC does: a `/name` line in the `.gitignore` beside each one.

A path git already ignores (by any rule, in any ignore file) gets no line, so no redundant
`.gitignore` files appear.
"""

from __future__ import annotations

import subprocess
from pathlib import Path


def ensure_ignored(root: Path, paths: list[Path]) -> None:
    """Makes git ignore each of `paths` (absolute, inside the work tree at `root`) that it does not yet ignore."""
    if not paths:
        return
    check = subprocess.run(["git", "check-ignore", "--no-index", "--", *map(str, paths)], cwd=root,
                           capture_output=True, text=True)
    ignored = {Path(line).resolve() for line in check.stdout.splitlines() if line}
    for path in paths:
        if path.resolve() in ignored or (root / path).resolve() in ignored:
            continue
        ignore = path.parent / ".gitignore"
        line = "/" + path.name
        existing = ignore.read_text().splitlines() if ignore.is_file() else []
        if line not in existing:
            from pyhelper.core.storage.atomic_write import write_atomic

            write_atomic(ignore, "\n".join([*existing, line]) + "\n")
