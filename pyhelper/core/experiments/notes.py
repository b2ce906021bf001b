"""Tags, a free-text note and a star per experiment, in git notes (`refs/notes/xp`), as versioned JSON.

Notes are attached to the experiment's commit, so renaming keeps them and pushing the notes ref
shares them. `git notes --ref xp show <commit>` shows them too.

Notes also arrive from other people (`exp pull` merges `refs/notes/xp`), so what is read is
bounded and made safe at this edge: control characters become visible escapes (`printable.py`),
a note's text is cut at `MAX_NOTE_BYTES` with a marker, tags at `MAX_TAGS` × `MAX_TAG_CHARS`, and
a stored note larger than `MAX_STORED_BYTES` is not read at all. What xp writes is checked
against the same limits (`check_tag`, `check_note`).
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pyhelper.core.git.gitrepo import signature
from pyhelper.core.git.refs import NOTES_REF
from pyhelper.core.printable import escape, first_unsafe
from pyhelper.errors import BadInput

if TYPE_CHECKING:
    import pygit2

VERSION = 1

MAX_NOTE_BYTES = 64 * 1024
"""A note's text, UTF-8 encoded (a page of prose is ~3 KB)."""

MAX_TAGS = 100
"""Tags one experiment may have."""

MAX_TAG_CHARS = 100
"""Characters in one tag."""

MAX_STORED_BYTES = 1024 * 1024
"""A stored note larger than this is not read: xp's own stay far below it (JSON escapes non-ASCII text
to at most 3× its UTF-8 size, so a full note with full tags is ~0.3 MB)."""


def check_tag(name: str) -> None:
    """Raises `BadInput` unless `name` is a tag xp stores: one printable word of at most `MAX_TAG_CHARS`."""
    bad = first_unsafe(name)
    if bad:
        raise BadInput(f"tag '{escape(name)}' holds the control character {bad}",
                       hint="use printable characters only (escape sequences are refused)")
    if not name or any(c.isspace() for c in name) or "," in name:
        raise BadInput(f"'{name}' is not a valid tag", hint="use one word per tag (no spaces or commas)")
    if len(name) > MAX_TAG_CHARS:
        raise BadInput(f"tag '{name[:20]}…' is {len(name)} characters long",
                       hint=f"use a tag of at most {MAX_TAG_CHARS} characters")


def check_note(text: str) -> str:
    """The note text xp stores for `text` (CRLF as LF, outer blank space stripped); `BadInput` when it
    holds control characters other than tab and newline, or is larger than `MAX_NOTE_BYTES`."""
    text = text.replace("\r\n", "\n").strip()
    bad = first_unsafe(text, allow="\t\n")
    if bad:
        raise BadInput(f"the note holds the control character {bad}",
                       hint="use printable text only (tabs and newlines are fine; escape sequences are refused)")
    size = len(text.encode("utf-8", errors="surrogatepass"))
    if size > MAX_NOTE_BYTES:
        raise BadInput(f"the note is {size:,} bytes; a note holds at most {MAX_NOTE_BYTES:,} bytes (64 KiB)",
                       hint="shorten it, or keep the long text in a file of the repository and name it in the note")
    return text


def _shown_note(text: str) -> str:
    """A stored note's text as xp shows it: control characters escaped, cut at `MAX_NOTE_BYTES`."""
    shown = escape(text, keep="\t\n")
    if len(shown) <= MAX_NOTE_BYTES // 4:  # Four UTF-8 bytes per character at most: surely short enough.
        return shown
    encoded = shown.encode("utf-8", errors="surrogatepass")
    if len(encoded) <= MAX_NOTE_BYTES:
        return shown
    size = len(text.encode("utf-8", errors="surrogatepass"))
    return encoded[:MAX_NOTE_BYTES].decode("utf-8", errors="ignore") + _cut_marker(size)


def _cut_marker(size: int) -> str:
    return f" … [note cut: it is {size:,} bytes; xp shows the first {MAX_NOTE_BYTES:,}]"


def _unread_marker(size: int) -> str:
    return f"[note not shown: it is stored in {size:,} bytes; xp reads notes of at most {MAX_STORED_BYTES:,}]"


def _shown_tags(raw: object) -> tuple[str, ...]:
    """Stored tags as xp shows them: strings, control characters escaped, at most `MAX_TAGS` of `MAX_TAG_CHARS`."""
    items = [t for t in raw if isinstance(t, str)] if isinstance(raw, list) else []
    return tuple(escape(t[:MAX_TAG_CHARS]) for t in items[:MAX_TAGS])


@dataclass(frozen=True)
class Annotations:
    """What a person said about an experiment after the fact."""

    tags: tuple[str, ...] = ()
    note: str = ""
    starred: bool = False

    def to_json(self) -> str:
        """The note's text as stored in git (`starred` only when set, so older notes read back byte for byte)."""
        data: dict[str, Any] = {"version": VERSION, "tags": list(self.tags), "note": self.note}
        if self.starred:
            data["starred"] = True
        return json.dumps(data, indent=2) + "\n"

    @property
    def empty(self) -> bool:
        """True when there is nothing to store."""
        return not self.tags and not self.note and not self.starred

    @classmethod
    def from_text(cls, text: str) -> Annotations:
        """Parses a stored note (bounded and escaped, see above); a note written by hand (not JSON)
        becomes the note text."""
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            return cls(note=_shown_note(text.strip()))
        if not isinstance(data, dict):
            return cls(note=_shown_note(text.strip()))
        note = data.get("note")
        return cls(tags=_shown_tags(data.get("tags")), note=_shown_note(note if isinstance(note, str) else ""),
                   starred=data.get("starred") is True)


def _read(repo: pygit2.Repository, note: pygit2.Note) -> Annotations:
    """One stored note; one too large to be xp's is not loaded, only reported."""
    size = repo.odb.read_header(note.id)[1]
    if size > MAX_STORED_BYTES:
        return Annotations(note=_unread_marker(size))
    return Annotations.from_text(note.message)


def read_all(repo: pygit2.Repository) -> dict[str, Annotations]:
    """Commit id → annotations, for every annotated commit."""
    try:
        notes = list(repo.notes(NOTES_REF))  # type: ignore[call-arg]  # pygit2's stub lacks the ref argument
    except Exception:  # No notes ref yet.
        return {}
    return {str(n.annotated_id): _read(repo, n) for n in notes}


def read(repo: pygit2.Repository, commit: str) -> Annotations:
    """The annotations of one commit (empty when it has none)."""
    try:
        return _read(repo, repo.lookup_note(commit, NOTES_REF))
    except KeyError:
        return Annotations()


def write(repo: pygit2.Repository, commit: str, annotations: Annotations) -> None:
    """Replaces the annotations of one commit (removes the note when there is nothing to say)."""
    sig = signature(repo)
    if annotations.empty:
        with contextlib.suppress(KeyError):
            repo.lookup_note(commit, NOTES_REF).remove(sig, sig, NOTES_REF)
        return
    repo.create_note(annotations.to_json(), sig, sig, commit, NOTES_REF, True)
