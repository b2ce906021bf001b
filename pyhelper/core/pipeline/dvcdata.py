"""`.dvc` files: data tracked outside git (what `dvc add` and `dvc import` write).

A `.dvc` file lists `outs` (path relative to the file's folder, md5, size, nfiles for a folder),
optionally `deps` (an import's source), `frozen`, `wdir` and `md5`. xp reads them so that stages
depending on tracked data see it as an input that exists (or is missing and can be pulled), and
`status` reports it as DVC does. Paths are checked to stay inside the repository: a `.dvc` file
can come from anyone's commit.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyhelper.core.storage.hashing import HashInfo
from pyhelper.core.yamlio.yamlfile import text_of
from pyhelper.errors import PipelineError

DATA_KEYS = ("outs", "deps", "md5", "frozen", "wdir", "meta", "desc")
OUT_KEYS = ("path", "md5", "etag", "checksum", "size", "nfiles", "hash", "cache", "persist", "desc",
            "remote", "push", "type", "labels", "meta", "isexec", "files", "version_id", "cloud")


@dataclass(frozen=True)
class TrackedOut:
    """One path a `.dvc` file tracks."""

    path: str
    """Relative to the repository root (posix)."""
    written: str
    """As written in the `.dvc` file (relative to its folder and wdir)."""
    hash: HashInfo | None
    """What was recorded; None when the file records no hash yet."""
    cache: bool = True


@dataclass(frozen=True)
class DataFile:
    """A `.dvc` file, parsed."""

    path: str
    """The `.dvc` file, relative to the repository root."""
    outs: tuple[TrackedOut, ...]
    deps: tuple[str, ...] = ()
    """Sources of an import (URLs or paths), as written."""
    frozen: bool = False

    @property
    def is_import(self) -> bool:
        """True for `dvc import`/`import-url` files (their data comes from elsewhere)."""
        return bool(self.deps)


def parse_data_file(text: str, path: str) -> DataFile:
    """A `.dvc` file's text as a `DataFile`; a `PipelineError` naming the file, line and fix otherwise."""
    from pyhelper.core.yamlio.yamlfile import line_of, parse_yaml

    def error(message: str, keys: list[Any], hint: str) -> PipelineError:
        return PipelineError(message, hint=hint, path=path, line=line_of(text, keys) if keys else 1)

    data = parse_yaml(text, path=path, error=PipelineError)
    if not isinstance(data, dict):
        raise error("a .dvc file must be a mapping with an `outs:` list", [],
                    f"restore it from git (`git checkout -- {path}`) or track the data again with `xp add`")
    for key in data:
        if key not in DATA_KEYS:
            raise error(f"a .dvc file has an unknown key '{key}'", [key], f"valid keys are: {', '.join(DATA_KEYS)}")
    folder = posixpath.dirname(path) or "."
    wdir = data.get("wdir", ".")
    if not isinstance(wdir, str):
        raise error("`wdir` must be a path", ["wdir"], "write a path relative to the .dvc file")
    base = _inside(posixpath.join(folder, wdir), path, error, ["wdir"])
    raw_outs = data.get("outs") or []
    if not isinstance(raw_outs, list):
        raise error("`outs` must be a list", ["outs"], "write one `- path: …` entry per tracked path")
    outs = []
    for index, item in enumerate(raw_outs):
        if not isinstance(item, dict) or not isinstance(item.get("path"), str) or not item["path"]:
            raise error("an entry of `outs` has no `path`", ["outs", index],
                        f"restore {path} from git, or track the data again with `xp add`")
        for key in item:
            if key not in OUT_KEYS:
                raise error(f"output '{item['path']}' has an unknown key '{key}'", ["outs", index, key],
                            f"valid keys are: {', '.join(OUT_KEYS[:9])}")
        written = item["path"]
        repo_path = _inside(posixpath.join(base, written), path, error, ["outs", index, "path"])
        outs.append(TrackedOut(repo_path, written, _hash(item, path, error, ["outs", index]),
                               cache=item.get("cache", True) is not False))
    raw_deps = data.get("deps") or []
    deps = tuple(str(d["path"]) for d in raw_deps if isinstance(d, dict) and "path" in d) \
        if isinstance(raw_deps, list) else ()
    frozen = data.get("frozen", False)
    if not isinstance(frozen, bool):
        raise error("`frozen` must be true or false", ["frozen"], "write `frozen: true` or remove the line")
    return DataFile(path, tuple(outs), deps, frozen)


def _inside(joined: str, path: str, error: Callable[..., PipelineError], keys: list[Any]) -> str:
    """A path from a `.dvc` file, normalised; outside the repository (or absolute) is an error."""
    normal = posixpath.normpath(joined)
    if posixpath.isabs(joined) or normal == ".." or normal.startswith("../") or "\\" in joined and ":" in joined:
        raise error(f"'{joined}' in {path} is outside the repository", keys,
                    "a .dvc file can only track paths inside the repository")
    return normal


def _hash(item: dict[str, Any], path: str, error: Callable[..., PipelineError], keys: list[Any]) -> HashInfo | None:
    md5 = item.get("md5")
    if md5 is None:
        return None
    if not isinstance(md5, str) or not _is_md5(md5):
        raise error(f"the md5 of '{item.get('path')}' is not a hash", keys + ["md5"],
                    f"restore {path} from git, or track the data again with `xp add`")
    size = item.get("size", 0)
    nfiles = item.get("nfiles")
    if not isinstance(size, int) or (nfiles is not None and not isinstance(nfiles, int)):
        raise error(f"the size of '{item.get('path')}' is not a number", keys + ["size"],
                    f"restore {path} from git, or track the data again with `xp add`")
    return HashInfo(md5=md5, size=size, nfiles=nfiles, isexec=bool(item.get("isexec", False)),
                    legacy=item.get("hash") != "md5")


def _is_md5(value: str) -> bool:
    digest = value[:-4] if value.endswith(".dir") else value
    return len(digest) == 32 and all(c in "0123456789abcdef" for c in digest)


def read_data_files(root: Path, paths: tuple[str, ...] | list[str]) -> list[DataFile]:
    """Every listed `.dvc` file under `root`, parsed (the first broken one raises)."""
    found = []
    for rel in paths:
        try:
            text = text_of(root / rel, rel)
        except UnicodeDecodeError:
            raise PipelineError(f"{rel} is not a text file", path=rel, line=1,
                                hint=f"restore it from git (`git checkout -- {rel}`) or delete it") from None
        except OSError:
            continue
        found.append(parse_data_file(text, rel))
    return found
