"""Tags, a free-text note and a star per experiment, in git notes (`refs/notes/xp`), as versioned JSON.

Notes are attached to the experiment's commit, so renaming keeps them and pushing the notes ref
shares them. `git notes --ref xp show <commit>` shows them too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pyhelper.core.gitrepo import signature
from pyhelper.core.refs import NOTES_REF

if TYPE_CHECKING:
    import pygit2

VERSION = 1


@dataclass(frozen=True)
class Annotations:
    """What a person said about an experiment after the fact."""

    tags: tuple[str, ...] = ()
    note: str = ""
    starred: bool = False

    def to_json(self) -> str:
        """The note's text as stored in git (`starred` only when set, so older notes read back byte for byte)."""
        data: dict = {"version": VERSION, "tags": list(self.tags), "note": self.note}
        if self.starred:
            data["starred"] = True
        return json.dumps(data, indent=2) + "\n"

    @property
    def empty(self) -> bool:
        """True when there is nothing to store."""
        return not self.tags and not self.note and not self.starred

    @classmethod
    def from_text(cls, text: str) -> Annotations:
        """Parses a stored note; a note written by hand (not JSON) becomes the note text."""
        try:
            data = json.loads(text)
        except ValueError:
            return cls(note=text.strip())
        if not isinstance(data, dict):
            return cls(note=text.strip())
        return cls(tags=tuple(str(t) for t in data.get("tags") or ()), note=str(data.get("note") or ""),
                   starred=data.get("starred") is True)


def read_all(repo: pygit2.Repository) -> dict[str, Annotations]:
    """Commit id → annotations, for every annotated commit."""
    try:
        notes = list(repo.notes(NOTES_REF))
    except Exception:  # No notes ref yet.
        return {}
    return {str(n.annotated_id): Annotations.from_text(n.message) for n in notes}


def read(repo: pygit2.Repository, commit: str) -> Annotations:
    """The annotations of one commit (empty when it has none)."""
    try:
        return Annotations.from_text(repo.lookup_note(commit, NOTES_REF).message)
    except KeyError:
        return Annotations()


def write(repo: pygit2.Repository, commit: str, annotations: Annotations) -> None:
    """Replaces the annotations of one commit (removes the note when there is nothing to say)."""
    sig = signature(repo)
    if annotations.empty:
        try:
            repo.lookup_note(commit, NOTES_REF).remove(sig, sig, NOTES_REF)
        except KeyError:
            pass
        return
    repo.create_note(annotations.to_json(), sig, sig, commit, NOTES_REF, True)
