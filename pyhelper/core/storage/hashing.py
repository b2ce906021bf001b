"""Content hashes as DVC 3 computes them, and a stat index that avoids re-hashing unchanged files.

A file's hash is the md5 of its bytes. A directory's hash is the md5 of its manifest (the JSON
list of `{"md5", "relpath"}` entries sorted by path, as DVC serialises it) plus `.dir`.
The stat index (SQLite in `.xp/`) maps (path, inode, size, mtime, ctime) to a file's md5.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import stat as statmod
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyhelper.core.storage.ignore_rules import Rules

_CHUNK = 1 << 20
# A file changed within this many nanoseconds of being indexed might change again within the same
# timestamp tick without its stat changing (git's "racy" case), so it is not remembered yet.
_RACY_NS = 2_000_000_000


_MD5 = re.compile(r"[0-9a-f]{32}(\.dir)?")


def is_md5(value: object) -> bool:
    """True for a file's md5 (32 hex digits) or a folder's (`….dir`): the only names a cache object may have."""
    return isinstance(value, str) and _MD5.fullmatch(value) is not None


@dataclass(frozen=True)
class HashInfo:
    """What dvc.lock records for a file or directory."""

    md5: str
    size: int
    nfiles: int | None = None
    """Number of files for a directory; None for a file."""
    isexec: bool = False
    manifest: tuple[tuple[str, str], ...] = field(default=(), compare=False, repr=False)
    """For a directory: (relpath, md5) of each file, sorted by relpath."""
    checksum: str | None = None
    """For a URL dependency: the server's ETag (or DVC's token of its details) instead of an md5."""
    legacy: bool = field(default=False, compare=False)
    """Recorded by DVC 2 (no `hash: md5` beside it): the md5 of text files with Windows line ends made
    Unix's, kept in the cache's old layout (`ab/cdef…`, not `files/md5/ab/cdef…`)."""

    def __post_init__(self) -> None:
        # The md5 names a file in the cache: one read from a pulled lock or trailer could otherwise be a path
        # (`xx/home/u/.bashrc`), which the cache would read, or delete as a corrupted object.
        if self.md5 and not is_md5(self.md5):
            raise ValueError(f"'{self.md5[:80]}' is not an md5")

    @property
    def isdir(self) -> bool:
        """True for a directory hash (`….dir`)."""
        return self.md5.endswith(".dir")


def file_md5(path: str | os.PathLike[str]) -> str:
    """The hex md5 of a file's bytes."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "md5").hexdigest()


_TEXT_CHARS = bytes(range(32, 127)) + b"\n\r\t\f\b"


def _is_text(block: bytes) -> bool:
    """DVC's test for a text file: no NUL and at most 30% non-text bytes in its first 512 bytes."""
    if not block:
        return True
    if b"\x00" in block:
        return False
    return len(block.translate(None, _TEXT_CHARS)) / len(block) <= 0.30


def legacy_file_md5(path: str | os.PathLike[str]) -> str:
    """The md5 DVC 2 recorded for a file (`md5-dos2unix`): of its bytes, CRLF made LF when it is text."""
    with open(path, "rb") as handle:
        head = handle.read(512)
        if not _is_text(head):
            digest = hashlib.md5(head)
            for chunk in iter(lambda: handle.read(_CHUNK), b""):
                digest.update(chunk)
            return digest.hexdigest()
        data = head + handle.read()
    return hashlib.md5(data.replace(b"\r\n", b"\n")).hexdigest()


def legacy_hash(path: Path) -> HashInfo | None:
    """A file's or folder's hash as DVC 2 computed it (see `legacy_file_md5`); None when missing."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    if not statmod.S_ISDIR(st.st_mode):
        return HashInfo(md5=legacy_file_md5(path), size=st.st_size, legacy=True)
    entries: list[tuple[str, str]] = []
    size = 0
    for folder, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if d not in (".git", ".xp", ".dvc"))
        for name in files:
            full = Path(folder) / name
            entries.append((full.relative_to(path).as_posix(), legacy_file_md5(full)))
            size += full.stat().st_size
    entries.sort()
    md5 = hashlib.md5(manifest_bytes(entries)).hexdigest() + ".dir"
    return HashInfo(md5=md5, size=size, nfiles=len(entries), manifest=tuple(entries), legacy=True)


def same_content(now: HashInfo | None, recorded: HashInfo | None, path: Path) -> bool:
    """True when a path's current hash matches what was recorded, a DVC 2 record compared its way."""
    if now is None or recorded is None:
        return False
    if now.md5 == recorded.md5:
        return True
    if not recorded.legacy:
        return False
    legacy = legacy_hash(path)
    return legacy is not None and legacy.md5 == recorded.md5


def manifest_bytes(entries: list[tuple[str, str]]) -> bytes:
    """A directory manifest serialised exactly as DVC 3 does (so directory hashes agree)."""
    listing = [{"md5": md5, "relpath": rel} for rel, md5 in sorted(entries)]
    return json.dumps(listing, sort_keys=True).encode("utf-8")


class StatIndex:
    """Remembers file hashes by stat signature; opened lazily, committed on `close()`."""

    def __init__(self, db_path: Path | None):
        self.db_path = db_path
        self._db: sqlite3.Connection | None = None
        self._dirty = False
        self._read_only = False
        """The index's folder cannot be written: hashes are read from it, never stored."""
        self._ignore: tuple[Path, Rules] | None = None

    def use_dvcignore(self, root: Path) -> None:
        """Leaves files that `.dvcignore` (under `root`) ignores out of folder hashes, as DVC does."""
        from pyhelper.core.storage.ignore_rules import Rules

        self._ignore = (root, Rules(root))

    def _ignored(self, full: Path, is_dir: bool) -> bool:
        if self._ignore is None:
            return False
        root, rules = self._ignore
        try:
            rel = full.relative_to(root).as_posix()
        except ValueError:
            return False
        return bool(rules.decide(rel, is_dir))

    def _conn(self) -> sqlite3.Connection | None:
        if self.db_path is None:
            return None
        if self._db is None:
            self.db_path.parent.mkdir(parents=True, exist_ok=True)
            if not os.access(self.db_path.parent, os.W_OK):
                # A read-only .xp/ (a read-only mount): the index is read as it is and never written.
                self._read_only = True
                if not self.db_path.is_file():
                    self.db_path = None
                    return None
            try:
                self._db = self._open()
            except sqlite3.DatabaseError as exc:
                self._rebuild(exc)
        return self._db

    def _open(self) -> sqlite3.Connection:
        assert self.db_path is not None
        if self._read_only:  # `immutable`: no -shm or -wal file can be made beside it.
            return sqlite3.connect(f"{self.db_path.as_uri()}?mode=ro&immutable=1", uri=True, timeout=30)
        db = sqlite3.connect(self.db_path, timeout=30)
        try:
            db.execute(
                "CREATE TABLE IF NOT EXISTS stat_index (path TEXT PRIMARY KEY, inode INTEGER,"
                " size INTEGER, mtime INTEGER, ctime INTEGER, md5 TEXT)"
            )
        except BaseException:
            db.close()
            raise
        return db

    def _rebuild(self, exc: sqlite3.DatabaseError) -> None:
        """The index is only a cache of hashes: a damaged one is moved aside and started afresh (said once);
        when even that fails, hashes are computed without it."""
        import warnings

        from pyhelper.errors import Notice

        assert self.db_path is not None
        if self._db is not None:
            self._db.close()
            self._db = None
        broken = self.db_path.with_name(self.db_path.name + ".broken")
        try:
            os.replace(self.db_path, broken)
            for suffix in ("-wal", "-shm", "-journal"):
                Path(str(self.db_path) + suffix).unlink(missing_ok=True)
            self._db = self._open()
            said = f"moved to {broken.name} and started afresh (it only speeds up hashing)"
        except (OSError, sqlite3.Error):
            self.db_path = None
            said = "hashing without it this time"
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        warnings.warn(Notice(f"the stat index {broken.parent / broken.name.removesuffix('.broken')} was unreadable "
                             f"({detail}): {said}"), stacklevel=2)

    def file_hash(self, path: Path, st: os.stat_result | None = None) -> str:
        """The md5 of a file, from the index when its stat is unchanged."""
        st = st or path.stat()
        db = self._conn()
        key = str(path)
        if db is not None:
            try:
                row = db.execute(
                    "SELECT md5 FROM stat_index WHERE path=? AND inode=? AND size=? AND mtime=? AND ctime=?",
                    (key, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns),
                ).fetchone()
            except sqlite3.DatabaseError as exc:  # Damaged beyond its header (a truncated file).
                self._rebuild(exc)
                db, row = self._db, None
            if row:
                return str(row[0])
        md5 = file_md5(path)
        if db is not None and not self._read_only and time.time_ns() - max(st.st_mtime_ns, st.st_ctime_ns) > _RACY_NS:
            try:
                db.execute(
                    "INSERT OR REPLACE INTO stat_index VALUES (?,?,?,?,?,?)",
                    (key, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, md5),
                )
                self._dirty = True
            except sqlite3.DatabaseError as exc:
                self._rebuild(exc)
        return md5

    def record(self, path: Path, md5: str) -> None:
        """Remembers the md5 of a file xp has just written and verified (a checkout), so the next
        status does not read it again. The caller makes sure a later write shows in its stat (a
        checked-out copy's mtime is set back past the racy window; see `Cache.checkout`)."""
        db = self._conn()
        if db is None or self._read_only:
            return
        st = path.stat()
        try:
            db.execute("INSERT OR REPLACE INTO stat_index VALUES (?,?,?,?,?,?)",
                       (str(path), st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, md5))
            self._dirty = True
        except sqlite3.DatabaseError as exc:
            self._rebuild(exc)

    def hash_path(self, path: Path) -> HashInfo | None:
        """The HashInfo of a file or directory, or None when it does not exist."""
        try:
            st = path.stat()
        except FileNotFoundError:
            return None
        if statmod.S_ISDIR(st.st_mode):
            return self._hash_dir(path)
        return HashInfo(md5=self.file_hash(path, st), size=st.st_size, isexec=bool(st.st_mode & 0o100))

    def _hash_dir(self, path: Path) -> HashInfo:
        entries: list[tuple[str, str]] = []
        size = 0
        for folder, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if d not in (".git", ".xp", ".dvc")
                             and not self._ignored(Path(folder) / d, True))
            for name in files:
                full = Path(folder) / name
                if self._ignored(full, False):
                    continue
                st = full.stat()
                rel = full.relative_to(path).as_posix()
                entries.append((rel, self.file_hash(full, st)))
                size += st.st_size
        entries.sort()
        md5 = hashlib.md5(manifest_bytes(entries)).hexdigest() + ".dir"
        return HashInfo(md5=md5, size=size, nfiles=len(entries), manifest=tuple(entries))

    def close(self) -> None:
        """Commits what was learned and closes the database."""
        if self._db is not None:
            try:
                if self._dirty:
                    self._db.commit()
            except sqlite3.DatabaseError:
                pass  # What was learned is lost; the hashes themselves were right.
            finally:
                self._db.close()
                self._db = None
