"""The object cache in DVC 3's layout (`files/md5/ab/cdef…`), and linking its objects into place.

Objects are written once, atomically, and made read-only. Outputs are put into the workspace by
reflink when the file system can, else by hardlink (only when read-only bits protect the shared
inode, i.e. not as root), else by copy — so a user can never edit an output through into the
cache. A checkout re-verifies a cached object whose stat changed and drops it if it is corrupt.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from pathlib import Path

from pyhelper.core.hashing import HashInfo, StatIndex, file_md5, is_md5, manifest_bytes
from pyhelper.errors import BadInput

_FICLONE = 0x40049409


class Cache:
    """A content-addressed store of files and directory manifests."""

    def __init__(self, root: Path, index: StatIndex | None = None):
        self.root = root
        self.index = index or StatIndex(None)

    def object_path(self, md5: str, legacy: bool = False) -> Path:
        """Where the object with this hash lives (whether or not it is there); `legacy`: DVC 2's layout."""
        if not is_md5(md5):  # Callers check md5s where they read them; this keeps any other out of paths.
            raise ValueError(f"'{md5[:80]}' is not an md5")
        if legacy:
            return self.root / md5[:2] / md5[2:]
        return self.root / "files" / "md5" / md5[:2] / md5[2:]

    def has_file(self, md5: str, legacy: bool = False) -> bool:
        """True when the object is present and intact."""
        path = self.object_path(md5, legacy)
        if not path.is_file():
            return False
        if legacy:
            # DVC 2's objects are DVC's own to keep: a mismatch makes one unusable, never deleted.
            from pyhelper.core.hashing import legacy_file_md5

            return legacy_file_md5(path) == md5 or self.index.file_hash(path) == md5
        if self.index.file_hash(path) != md5:
            path.unlink(missing_ok=True)  # Corrupted (someone wrote through a link): forget it.
            return False
        return True

    def has(self, info: HashInfo) -> bool:
        """True when a file, or a directory's manifest and every file in it, is cached."""
        if not info.isdir:
            return self.has_file(info.md5, info.legacy)
        entries = self.manifest(info.md5, info.legacy)
        return entries is not None and all(self.has_file(md5, info.legacy) for _, md5 in entries)

    def manifest(self, md5: str, legacy: bool = False) -> list[tuple[str, str]] | None:
        """The (relpath, md5) entries of a cached directory, or None when absent or unreadable.

        A manifest may come from a remote or a shared cache (whoever made it chose its text): an entry
        whose relpath leaves its folder or whose md5 is not one is refused (`BadInput`) before any is used.
        """
        path = self.object_path(md5, legacy)
        try:
            listing = json.loads(path.read_bytes())
            entries = [(entry["relpath"], entry["md5"]) for entry in listing]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        _check_manifest(path, entries)
        return entries

    def read(self, md5: str) -> bytes | None:
        """The bytes of a cached file, or None when it is not cached."""
        try:
            return self.object_path(md5).read_bytes()
        except OSError:
            return None

    def save(self, path: Path, info: HashInfo) -> None:
        """Stores the file or directory at `path` (whose hash is `info`) in the cache."""
        if info.isdir:
            for rel, md5 in info.manifest:
                self._save_file(path / rel, md5)
            target = self.object_path(info.md5)
            if not target.exists():
                _write_object(target, lambda tmp: tmp.write_bytes(manifest_bytes(list(info.manifest))))
        else:
            self._save_file(path, info.md5)

    def _save_file(self, source: Path, md5: str) -> None:
        target = self.object_path(md5)
        if target.exists():
            return
        _write_object(target, lambda tmp: _clone_or_copy(source, tmp))
        if file_md5(target) != md5:  # The file changed while it was being saved.
            target.unlink(missing_ok=True)
            raise OSError(f"'{source}' changed while it was being cached")

    def checkout(self, info: HashInfo, dest: Path) -> None:
        """Replaces whatever is at `dest` by the cached file or directory."""
        remove(dest)
        if info.isdir:
            entries = self.manifest(info.md5, info.legacy) or []
            dest.mkdir(parents=True, exist_ok=True)
            for rel, md5 in entries:
                self._link(md5, dest / rel, info.legacy)
        else:
            self._link(info.md5, dest, info.legacy)

    def _link(self, md5: str, dest: Path, legacy: bool = False) -> None:
        source = self.object_path(md5, legacy)
        dest.parent.mkdir(parents=True, exist_ok=True)
        if _reflink(source, dest):
            return
        if os.geteuid() != 0:
            try:
                os.link(source, dest)
                return
            except OSError:
                pass
        shutil.copyfile(source, dest)


def _check_manifest(path: Path, entries: list) -> None:
    """Refuses a manifest with an entry outside its folder, one that is another's folder, or a bad md5."""
    files = set()
    for rel, md5 in entries:
        parts = rel.split("/") if isinstance(rel, str) else [""]
        if any(part in ("", ".", "..") or "\0" in part for part in parts):
            problem = f"lists '{rel}', which is outside its folder"
        elif not is_md5(md5) or md5.endswith(".dir"):
            problem = f"gives '{rel}' the md5 '{str(md5)[:80]}', which is not an md5"
        else:
            files.add(rel)
            continue
        raise BadInput(f"the cached folder listing {path} {problem}",
                       hint="it came from a remote or a shared cache that someone else writes to: delete that "
                            "object and fetch the data again from a remote you trust")
    for rel in files:
        folder = rel.rpartition("/")[0]
        while folder:
            if folder in files:
                raise BadInput(f"the cached folder listing {path} lists '{folder}' both as a file and a folder",
                               hint="delete that object and fetch the data again")
            folder = folder.rpartition("/")[0]


def remove(path: Path) -> None:
    """Deletes a file, link or directory tree if present."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def _write_object(target: Path, fill) -> None:
    """Writes a cache object through a temporary file, then renames it and makes it read-only."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    os.close(fd)
    tmp = Path(name)
    try:
        fill(tmp)
        os.chmod(tmp, 0o444)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _clone_or_copy(source: Path, dest: Path) -> None:
    """Copies a file into the cache, sharing blocks when the file system can."""
    dest.unlink(missing_ok=True)
    if not _reflink(source, dest):
        shutil.copyfile(source, dest)


def clone(source: Path, dest: Path) -> bool:
    """Makes `dest` a copy-on-write clone of `source` when the file system can (True), else does nothing."""
    return _reflink(source, dest)


def _reflink(source: Path, dest: Path) -> bool:
    """Makes `dest` a copy-on-write clone of `source`; False when the file system cannot."""
    import fcntl

    try:
        with open(source, "rb") as src, open(dest, "wb") as dst:
            fcntl.ioctl(dst.fileno(), _FICLONE, src.fileno())
        return True
    except OSError as exc:
        dest.unlink(missing_ok=True)
        if exc.errno in (errno.EOPNOTSUPP, errno.EXDEV, errno.EINVAL, errno.ENOTTY, errno.EBADF):
            return False
        raise
