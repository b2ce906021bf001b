"""Reading files as they are at a git revision, or in the workspace.

Short-lived commands read only a few blobs, so they ask one `git cat-file --batch` process
(about 3 ms) instead of importing pygit2 (about 90 ms, which alone would eat the speed budget of
`xp params diff`). Code that writes objects and refs uses pygit2 (see ARCHITECTURE.md).
"""

from __future__ import annotations

import subprocess

from pyhelper.core.project import Project
from pyhelper.errors import UnknownRevision

WORKSPACE = "workspace"


class Revisions:
    """Resolves revisions and reads blobs through one `git cat-file --batch` process."""

    def __init__(self, project: Project):
        self.project = project
        self._proc: subprocess.Popen[bytes] | None = None

    def _batch(self) -> subprocess.Popen[bytes]:
        if self._proc is None:
            self._proc = subprocess.Popen(
                ["git", "cat-file", "--batch"], cwd=self.project.root,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            )
        return self._proc

    def _ask(self, spec: str) -> tuple[str, str, bytes] | None:
        """(sha, type, content) of the object `spec` names, or None when it is missing."""
        proc = self._batch()
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(spec.encode() + b"\n")
        proc.stdin.flush()
        header = proc.stdout.readline().decode().split()
        if len(header) != 3:
            return None
        sha, kind, size = header
        content = proc.stdout.read(int(size))
        proc.stdout.read(1)
        return sha, kind, content

    def resolve(self, rev: str) -> str:
        """The commit id a revision names; `UnknownRevision` (with the fix) when none."""
        if rev == WORKSPACE:
            return WORKSPACE
        if "\n" not in rev:
            found = self._ask(f"{rev}^{{commit}}")
            if found:
                return found[0]
        if rev == "HEAD" and not self.project.has_commits():
            self.project.require_commits()
        raise UnknownRevision(f"unknown revision '{rev}'",
                              hint="use a commit id, a branch or tag name, HEAD~N, or 'workspace'")

    def read(self, rev: str, path: str) -> bytes | None:
        """A file's bytes at a revision (`workspace`: on disk), or None when it is not there."""
        if rev == WORKSPACE:
            try:
                return (self.project.root / path).read_bytes()
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                return None
        found = self._ask(f"{rev}:{path}")
        if found is None or found[1] != "blob":
            return None
        return found[2]

    def close(self) -> None:
        """Ends the git process."""
        if self._proc is not None:
            assert self._proc.stdin is not None
            self._proc.stdin.close()
            self._proc.wait()
            self._proc = None

