"""Repository paths from files xp does not control stay inside the work tree.

A pulled experiment's locks, `.dir` listings, checkpoint trailers and tree, a dvc.yaml's metrics, params
and plots lists, and `-S FILE:` all name paths. `plain_path` is the check for a path read as written
(reading: no absolute path, no `..` above the root); `inside_work_tree` is the check before writing,
which also follows symlinks, those in the work tree and those about to be written. Both keep out of
git's folder (`.git` anywhere) and xp's (`.xp` at the top).
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Mapping

MAX_LINKS = 40
"""Symlinks followed in one path before giving up, as the kernel does (ELOOP)."""


def _own_folder(name: str, top: bool) -> bool:
    """True for a path part naming git's folder (anywhere: a nested repository's too) or xp's (at the top)."""
    folded = name.casefold()
    return folded == ".git" or (top and folded == ".xp")


def plain_path(path: str) -> bool:
    """True when a repository path, as written, names something inside the work tree other than the root
    itself, and outside `.git/` and `.xp/`."""
    if not path or path.startswith("/") or "\0" in path:
        return False
    normal = posixpath.normpath(path)
    if normal in (".", "..") or normal.startswith("../"):
        return False
    parts = normal.split("/")
    return not any(_own_folder(part, index == 0) for index, part in enumerate(parts))


def not_plain(path: str) -> str:
    """Why `plain_path` refuses a path, for a message: 'outside the repository' or 'in git's or xp's own folder'."""
    normal = posixpath.normpath(path) if path else "."
    if path.startswith("/") or normal == ".." or normal.startswith("../"):
        return "outside the repository"
    if normal == ".":
        return "the repository's root folder"
    return "in git's or xp's own folder" if "\0" not in path else "not a path (it holds a NUL)"


def inside_work_tree(root: str, path: str, links: Mapping[str, str | None] | None = None, *,
                     follow_last: bool = False) -> bool:
    """True when writing the repository path `path` under the work tree `root` (a real path) stays inside it.

    Each folder on the way is followed as the system would: a symlink in `links` (repository path → its
    target, or None for a path that will no longer be a symlink) as it will be, any other as the work tree
    holds it now. The path must not climb above `root`, end at `root` itself, or enter `.git/` or `.xp/`;
    its last part is followed only with `follow_last`.
    """
    links = links or {}
    if path.startswith("/") or "\0" in path:
        return False
    pending = path.split("/")[::-1]
    parts: list[str] = []
    followed = 0
    while pending:
        name = pending.pop()
        if name in ("", "."):
            continue
        if name == "..":
            if not parts:
                return False
            parts.pop()
            continue
        if _own_folder(name, not parts):
            return False
        here = "/".join([*parts, name])
        target = links[here] if here in links else _readlink(os.path.join(root, here))
        if target is None or (not pending and not follow_last):
            parts.append(name)
            continue
        followed += 1
        if followed > MAX_LINKS or "\0" in target:
            return False
        if target.startswith("/"):
            # Only a target spelled from the work tree's real path is followed ('..' in it is resolved below).
            if target != root and not target.startswith(root + "/"):
                return False
            parts, target = [], target[len(root):]
        pending.extend(target.split("/")[::-1])
    return bool(parts)


def _readlink(full: str) -> str | None:
    try:
        return os.readlink(full)
    except OSError:
        return None  # Not a symlink, or not there.
