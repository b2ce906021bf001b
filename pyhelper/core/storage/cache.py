"""The object cache in DVC 3's layout (`files/md5/ab/cdef…`), and linking its objects into place.

Objects are written once, atomically, and made read-only. Outputs are put into the workspace by
reflink when the file system can, else by hardlink (only when read-only bits protect the shared
inode, i.e. not as root), else by copy — so a user can never edit an output through into the
cache. A checkout re-verifies a cached object whose stat changed and drops it if it is corrupt.

What a checkout puts in the workspace is verified as it is written (the md5 of the copy, or of the object
before it is linked): an object whose bytes rotted while its stat stayed the same is refused
(`CorruptObject`), dropped from the cache and never used. Each file is written to a temporary file beside
its destination and renamed into place, so a checkout killed half way leaves the old file or the new one.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pyhelper.core.processes import alive
from pyhelper.core.storage.hashing import HashInfo, StatIndex, file_md5, is_md5, manifest_bytes
from pyhelper.errors import BadInput

_FICLONE = 0x40049409
_CHUNK = 1024 * 1024
TEMP_PREFIX = ".xp-tmp-"
OBJECT_TEMP_PREFIX = ".tmp-xp-"
"""An object being written, beside the objects: `.tmp-xp-PID-…` (`xp exp clean` removes a dead writer's)."""
CHECKPOINT_TEMP_PREFIX = ".tmp-xp-checkpoint-"
"""A checkpoint's output being copied, at the cache's root: `.tmp-xp-checkpoint-PID-…`."""
"""Temporary files a checkout writes beside an output start with this, then the writer's pid."""


class CorruptObject(BadInput):
    """A cached object does not hold what its name (its md5) says: it was not used."""


class Cache:
    """A content-addressed store of files and directory manifests."""

    def __init__(self, root: Path, index: StatIndex | None = None):
        self.root = root
        self.index = index or StatIndex(None)
        self.dropped: list[Path] = []
        """Objects found not to hash to their names (and deleted) by this instance."""

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
            from pyhelper.core.storage.hashing import legacy_file_md5

            return legacy_file_md5(path) == md5 or self.index.file_hash(path) == md5
        if self.index.file_hash(path) != md5:
            path.unlink(missing_ok=True)  # Corrupted (written through a link, or bit rot): forget it.
            self.dropped.append(path)
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
        """Replaces whatever is at `dest` by the cached file or directory, verified as it is written.

        A file is written beside `dest` and renamed over it; a folder is built beside it and swapped in. An
        object that does not hash to its name raises `CorruptObject` and `dest` is left as it was.
        """
        dest.parent.mkdir(parents=True, exist_ok=True)
        _clean_stale_temps(dest)
        if not info.isdir:
            tmp = self._verified_copy(info.md5, dest, info.legacy)
            if dest.is_dir() and not dest.is_symlink():
                shutil.rmtree(dest)
            os.replace(tmp, dest)
            if not info.legacy:
                self.remember(dest, info.md5)
            return
        entries = self.manifest(info.md5, info.legacy) or []
        build = Path(tempfile.mkdtemp(dir=dest.parent, prefix=_temp_prefix(dest)))
        try:
            for rel, md5 in entries:
                target = build / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(self._verified_copy(md5, target, info.legacy), target)
        except BaseException:
            shutil.rmtree(build, ignore_errors=True)
            raise
        # The old folder is moved aside (whole) before the new one takes its name, then deleted.
        aside = None
        if os.path.lexists(dest):
            aside = Path(tempfile.mkdtemp(dir=dest.parent, prefix=_temp_prefix(dest))) / "old"
            os.replace(dest, aside)
        os.replace(build, dest)
        if aside is not None:
            shutil.rmtree(aside.parent, ignore_errors=True)
        if not info.legacy:
            for rel, md5 in entries:
                self.remember(dest / rel, md5)

    def remember(self, path: Path, md5: str) -> None:
        """Puts what was just written and verified at `path` in the stat index: a `repro` or `status`
        right after `exp apply` does not read a 2 GB output again.

        A copy was written just now, inside the window where a write in the same clock tick would
        leave its stat unchanged; its mtime is set back past that window first, so any later write
        moves it. A hardlink is the read-only object itself, with the object's old mtime."""
        from pyhelper.core.storage.hashing import _RACY_NS  # (DVC 2's md5s are not of the bytes: never given here.)

        try:
            st = path.stat()
            if st.st_nlink == 1:
                os.utime(path, ns=(st.st_atime_ns, time.time_ns() - 2 * _RACY_NS))
            self.index.record(path, md5)
        except OSError:
            pass  # Only a shortcut: the next status hashes the file instead.

    def _verified_copy(self, md5: str, dest: Path, legacy: bool) -> Path:
        """A temporary file beside `dest` holding the object, checked to hash to `md5` (else `CorruptObject`).

        A hardlink shares the object's inode, so the object is hashed before it is linked; a reflink or a
        copy is hashed as it is written.
        """
        source = self.object_path(md5, legacy)
        fd, name = tempfile.mkstemp(dir=dest.parent, prefix=_temp_prefix(dest))
        os.close(fd)
        tmp = Path(name)
        try:
            if legacy:  # DVC 2's md5 of a text file is not of its bytes: hashed on its own, before the copy.
                from pyhelper.core.storage.hashing import legacy_file_md5

                self._refuse_unless(legacy_file_md5(source) == md5, source, dest, drop=False)
                _link_or_copy(source, tmp)
                return tmp
            if _reflink(source, tmp):
                self._refuse_unless(file_md5(tmp) == md5, source, dest, drop=True)
                os.chmod(tmp, 0o666 & ~_umask())
            elif os.geteuid() != 0 and os.stat(source).st_dev == os.stat(dest.parent).st_dev:
                # The workspace file will be the object itself: it is checked before it is linked.
                self._refuse_unless(_fresh(source) or file_md5(source) == md5, source, dest, drop=True)
                if not _hardlink(source, tmp):
                    self._refuse_unless(copy_hashing(source, tmp) == md5, source, dest, drop=True)
            elif _fresh(source):  # Checked by this process as it arrived, a moment ago: copied, not read again.
                shutil.copyfile(source, tmp)
                os.chmod(tmp, 0o666 & ~_umask())
            else:
                self._refuse_unless(copy_hashing(source, tmp) == md5, source, dest, drop=True)
                os.chmod(tmp, 0o666 & ~_umask())
            return tmp
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def _refuse_unless(self, ok: bool, source: Path, dest: Path, *, drop: bool) -> None:
        """Raises `CorruptObject` (dropping the object unless it is DVC 2's) when `ok` is False."""
        if ok:
            return
        if drop:
            source.unlink(missing_ok=True)  # It is wrong whatever happens: gone, so the next run caches a good one.
        said = "it was not used and is removed from the cache" if drop else "it was not used"
        raise CorruptObject(f"the cached object {source} (for '{dest.name}') does not hold what its name says "
                            f"(bit rot?): {said}", hint="`xp repro` rebuilds the output")

    def present(self, info: HashInfo, dest: Path) -> bool:
        """Like `has`, but an object found corrupt (and dropped) for `dest` raises `CorruptObject` instead of
        counting as missing, so the user hears why the output is not restored."""
        before = len(self.dropped)
        if self.has(info):
            return True
        if len(self.dropped) > before:
            self._refuse_unless(False, self.dropped[-1], dest, drop=True)
        return False


def _check_manifest(path: Path, entries: list[Any]) -> None:
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


def _write_object(target: Path, fill: Callable[[Path], object]) -> None:
    """Writes a cache object through a temporary file, then renames it and makes it read-only."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f"{OBJECT_TEMP_PREFIX}{os.getpid()}-")
    os.close(fd)
    tmp = Path(name)
    try:
        fill(tmp)
        os.chmod(tmp, 0o444)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _temp_prefix(dest: Path) -> str:
    """The name a temporary file for `dest` starts with: whose it is (the pid) and what it will become."""
    return f"{TEMP_PREFIX}{os.getpid()}-{dest.name[:100]}."


def _clean_stale_temps(dest: Path) -> None:
    """Deletes what a killed checkout of `dest` left beside it (temporary names whose writer is gone)."""
    try:
        names = [p for p in dest.parent.iterdir() if p.name.startswith(TEMP_PREFIX)]
    except OSError:
        return
    for path in names:
        pid, _, rest = path.name[len(TEMP_PREFIX):].partition("-")
        if not pid.isdigit() or not rest.startswith(dest.name[:100] + ".") or alive(int(pid)):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def writer_pid(name: str) -> int | None:
    """The pid in the name of a temporary file of the cache (`.tmp-xp-PID-…`, `.tmp-xp-checkpoint-PID-…`)."""
    for prefix in (CHECKPOINT_TEMP_PREFIX, OBJECT_TEMP_PREFIX):
        if name.startswith(prefix):
            pid, dash, _ = name[len(prefix):].partition("-")
            return int(pid) if dash and pid.isdigit() else None
    return None


def _hardlink(source: Path, tmp: Path) -> bool:
    """Makes `tmp` a hardlink to `source` (only read-only bits protect the shared inode); False when it cannot."""
    tmp.unlink(missing_ok=True)
    try:
        os.link(source, tmp)
        return True
    except OSError:
        return False


_FRESH: dict[str, tuple[int, int, int]] = {}
"""Objects this process wrote into the cache after checking their md5 (a fetch), by path → (inode, size, mtime):
a checkout right after (a pull) copies them without hashing them a second time. Same stat, same object."""


def vouch(path: Path) -> None:
    """Notes that this process has just checked the object at `path` against its name."""
    st = os.stat(path)
    _FRESH[str(path)] = (st.st_ino, st.st_size, st.st_mtime_ns)


def _fresh(path: Path) -> bool:
    try:
        st = os.stat(path)
    except OSError:
        return False
    return _FRESH.get(str(path)) == (st.st_ino, st.st_size, st.st_mtime_ns) and not _is_sparse(st)


def _is_sparse(st: os.stat_result) -> bool:
    try:
        return st.st_blocks * 512 < st.st_size
    except AttributeError:
        return True


def copy_hashing(source: Path, dest: Path) -> str:
    """Copies `source` over `dest` and returns the md5 of the bytes written.

    A sparse file is copied hole by hole and hashed as it goes (holes stay holes). Any other is copied by the
    kernel (`copy_file_range`/`sendfile`: no trip through Python, several times quicker for a big file) and
    then the copy is hashed, read back from the page cache: the md5 is of what was written either way."""
    try:
        sparse = _is_sparse(os.stat(source))
    except OSError:
        sparse = True
    if not sparse:
        try:
            size = os.stat(source).st_size
        except OSError:
            size = 0
        if size >= _PIPELINE_FROM:
            return _copy_then_hash_pipelined(source, dest)
        shutil.copyfile(source, dest)
        return file_md5(dest)
    import hashlib

    digest = hashlib.md5()
    _copy_sparse(source, dest, digest.update)
    return digest.hexdigest()


_ZEROS = bytes(_CHUNK)

_PIPELINE_FROM = 32 << 20
"""From this size on, a copy is hashed while the kernel is still copying it (two threads, not one after the other)."""
_PIPELINE_STEP = 16 << 20


def _copy_then_hash_pipelined(source: Path, dest: Path) -> str:
    """`copy_hashing` for a big file: the kernel copies in steps (`copy_file_range`, GIL released) while this
    thread hashes each step already written, read back from the copy (the page cache), so the md5 is still of
    what was written, never of the source (which a remote's writer could change under the copy). The time is
    that of the slower of the two, not their sum. Where the kernel has no `copy_file_range` for these files,
    a plain copy then a hash."""
    import hashlib
    import threading

    done = [0]
    finished = [False]
    failed: list[BaseException] = []
    moved = threading.Condition()
    with open(dest, "wb"):  # Made here, before the copier writes it, so it can be opened to read.
        pass

    def copier() -> None:
        try:
            with open(source, "rb") as src, open(dest, "r+b") as dst:
                while n := os.copy_file_range(src.fileno(), dst.fileno(), _PIPELINE_STEP):
                    with moved:
                        done[0] += n
                        moved.notify()
        except BaseException as exc:  # noqa: BLE001 — handed to the hashing thread, which raises or falls back.
            failed.append(exc)
        finally:
            with moved:
                finished[0] = True
                moved.notify()

    digest = hashlib.md5()
    thread = threading.Thread(target=copier, name="xp-copy", daemon=True)
    thread.start()
    hashed = 0
    with open(dest, "rb") as back:
        while True:
            with moved:
                while done[0] <= hashed and not finished[0]:
                    moved.wait()
                upto, over = done[0], finished[0]
            while hashed < upto:
                block = back.read(min(_PIPELINE_STEP, upto - hashed))
                if not block:
                    break
                digest.update(block)
                hashed += len(block)
            if over and hashed >= done[0]:
                break
    thread.join()
    if failed:
        error = failed[0]
        if isinstance(error, OSError) and error.errno in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
            shutil.copyfile(source, dest)  # No kernel copy between these files: the plain way.
            return file_md5(dest)
        raise error
    return digest.hexdigest()


def _copy_sparse(source: Path, dest: Path, seen: Callable[[bytes], object] | None = None) -> None:
    """Copies `source` over `dest`, leaving a hole where a whole chunk is zeros: a sparse 2 GB file
    (a preallocated array, a disk image) stays a few blocks in the cache and in the workspace.
    `seen` is given every chunk read (to hash while copying)."""
    size = 0
    with open(source, "rb") as src, open(dest, "wb") as dst:
        while block := src.read(_CHUNK):
            if seen is not None:
                seen(block)
            size += len(block)
            if len(block) == _CHUNK and block == _ZEROS:
                dst.seek(_CHUNK, os.SEEK_CUR)
            else:
                dst.write(block)
        dst.truncate(size)  # A trailing hole: the length is set, no block written.


def _link_or_copy(source: Path, dest: Path) -> None:
    """Puts `source` at `dest` by reflink, else hardlink (not as root), else copy."""
    if _reflink(source, dest):
        return
    if os.geteuid() != 0 and _hardlink(source, dest):
        return
    _copy_sparse(source, dest)


def _umask() -> int:
    """The process umask (reading it means setting it, so it is set straight back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _clone_or_copy(source: Path, dest: Path) -> None:
    """Copies a file into the cache, sharing blocks when the file system can."""
    dest.unlink(missing_ok=True)
    if not _reflink(source, dest):
        _copy_sparse(source, dest)


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
