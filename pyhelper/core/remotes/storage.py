"""Where a remote's objects live, in DVC 3's layout (`files/md5/ab/cdef…`, `.dir` manifests beside the files).

One small interface (`Storage`) for every type: which of these objects are missing (one listing per
prefix folder, never a request per object), upload one (atomically: a temporary name, then a rename,
so a killed push leaves no half object under its final name), download one to a path. The local
folder (also a mounted shared disk) is built in; other types come through the fsspec filesystems DVC
itself uses, imported only when such a remote is used.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from pyhelper.errors import BadInput

if TYPE_CHECKING:
    from pyhelper.core.remotes.config import Remote

TEMP_PREFIX = ".tmp-xp-"
"""An object being uploaded, beside its final name: `.tmp-xp-PID-…`."""


class Storage(Protocol):
    """A remote's object store."""

    label: str
    """How messages name it: `'store' (/mnt/shared/store)`."""

    def missing(self, md5s: Iterable[str]) -> set[str]:
        """Those of `md5s` (`abc…` or `abc….dir`) the remote does not have."""

    def upload(self, source: Path, md5: str) -> None:
        """Stores the file `source` as object `md5`, atomically."""

    def download(self, md5: str, dest: Path) -> None:
        """Writes object `md5` to `dest` (a temporary path the caller verifies); FileNotFoundError when absent."""


def object_key(md5: str) -> str:
    """The object's path below the remote's root."""
    return f"files/md5/{md5[:2]}/{md5[2:]}"


class LocalStorage:
    """A folder (local or a mounted shared disk)."""

    def __init__(self, root: Path, label: str):
        self.root = root
        self.label = label

    def missing(self, md5s: Iterable[str]) -> set[str]:
        by_prefix: dict[str, list[str]] = defaultdict(list)
        for md5 in md5s:
            by_prefix[md5[:2]].append(md5)
        absent: set[str] = set()
        for prefix, wanted in by_prefix.items():
            try:
                present = set(os.listdir(self.root / "files" / "md5" / prefix))
            except FileNotFoundError:
                present = set()
            absent.update(md5 for md5 in wanted if md5[2:] not in present)
        return absent

    def upload(self, source: Path, md5: str) -> None:
        target = self.root / object_key(md5)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f"{TEMP_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}")
        try:
            shutil.copyfile(source, tmp)
            os.chmod(tmp, 0o444)  # As DVC leaves objects in a local remote: nobody edits one in place.
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def download(self, md5: str, dest: Path) -> None:
        shutil.copyfile(self.root / object_key(md5), dest)


def open_storage(remote: Remote, *, create: bool = False, check: bool = True) -> Storage:
    """The storage of `remote`; `create`: a local folder that does not exist yet is made (a push); without
    `check`, a folder that is not there is taken as an empty remote (a status)."""
    label = f"'{remote.name}' ({remote.url})"
    if remote.scheme == "local":
        root = Path(os.path.expanduser(remote.url.removeprefix("file://")))
        if create:
            root.mkdir(parents=True, exist_ok=True)
        elif check and not root.is_dir():
            raise BadInput(f"remote {label} is not a folder xp can read",
                           hint="mount it, or fix its url with `xp remote modify "
                                f"{remote.name} url PATH`")
        return LocalStorage(root, label)
    raise BadInput(f"remote {label} is of type '{remote.scheme}', which this version of xp cannot reach yet "
                   "(local and shared folders only)",
                   hint="use `dvc push`/`dvc pull` for it meanwhile: xp reads the same cache")
