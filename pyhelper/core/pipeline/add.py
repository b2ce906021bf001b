"""`xp add PATH`: track a data file or folder outside git, writing what `dvc add` writes.

The data goes into the object cache, a `PATH.dvc` file beside it records its hash (byte for byte
DVC 3's format), and a `/name` line in the `.gitignore` beside it keeps git from tracking it. The
`.dvc` file is what the user commits; `dvc pull` / `dvc checkout` read it unchanged.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass
from pathlib import Path

from pyhelper.core.project import Project
from pyhelper.core.storage.atomic_write import write_atomic
from pyhelper.core.storage.hashing import HashInfo
from pyhelper.errors import BadInput


@dataclass(frozen=True)
class Added:
    """One tracked path and the files written for it."""

    path: str
    """The data, relative to the repository root."""
    dvc_file: str
    gitignore: str
    hash: HashInfo
    changed: bool
    """False when the `.dvc` file already recorded this content."""


def dvc_file_text(name: str, info: HashInfo) -> str:
    """The `.dvc` file `dvc add` writes for `name` (relative to the file's folder)."""
    lines = ["outs:", f"- md5: {info.md5}", f"  size: {info.size}"]
    if info.nfiles is not None:
        lines.append(f"  nfiles: {info.nfiles}")
    if info.isexec and not info.isdir:
        lines.append("  isexec: true")
    lines += ["  hash: md5", f"  path: {_yaml_path(name)}"]
    return "\n".join(lines) + "\n"


def _yaml_path(name: str) -> str:
    """A file name as YAML writes it (quoted when a plain scalar would read differently)."""
    from pyhelper.core.yamlio.yamlfile import dump_plain

    return dump_plain({"p": name}).split(":", 1)[1].strip()


def add(project: Project, targets: list[str]) -> list[Added]:
    """Tracks each target (all checked before any is written)."""
    from pyhelper.core.storage.cache import Cache
    from pyhelper.core.storage.hashing import StatIndex

    pipeline = project.pipeline()
    cwd = Path.cwd()
    paths: list[str] = []
    for target in targets:
        full = Path(os.path.abspath(cwd / target))
        root = project.root.resolve()
        try:
            rel = full.relative_to(root).as_posix()
        except ValueError:
            raise BadInput(f"'{target}' is outside the repository",
                           hint="xp add tracks data inside the project; copy it in first") from None
        if not full.exists():
            raise BadInput(f"'{rel}' does not exist", hint="check the path (xp add tracks files and folders)")
        if rel in ("", ".") or rel.split("/")[0] in (".git", ".xp", ".dvc"):
            raise BadInput(f"'{rel or '.'}' cannot be tracked", hint="name a data file or folder inside the project")
        for stage in pipeline.stages.values():
            for out in stage.outs:
                produced = stage.repo_path(out.path)
                if rel == produced or rel.startswith(produced + "/"):
                    raise BadInput(f"'{rel}' is an output of stage '{stage.name}'", path=stage.dvcfile,
                                   hint="xp repro keeps it in the cache already; track only source data with xp add")
        if _tracked_by_git(project.root, rel):
            raise BadInput(f"'{rel}' is tracked by git",
                           hint=f"stop tracking it first: git rm -r --cached '{rel}' "
                                f"&& git commit -m 'stop tracking {rel}'")
        paths.append(rel)
    index = StatIndex(project.ensure_xp_dir() / "index.db")
    cache = Cache(project.cache_dir, index)
    done: list[Added] = []
    try:
        for rel in paths:
            full = project.root / rel
            info = index.hash_path(full)
            assert info is not None
            cache.save(full, info)
            folder, name = posixpath.split(rel)
            dvc_file = f"{rel}.dvc"
            text = dvc_file_text(name, info)
            dvc_path = project.root / dvc_file
            previous = dvc_path.read_text(encoding="utf-8") if dvc_path.is_file() else None
            if previous != text:
                write_atomic(project.root / dvc_file, text)
            gitignore = posixpath.join(folder, ".gitignore")
            _ignore(project.root / gitignore, f"/{name}")
            done.append(Added(rel, dvc_file, gitignore, info, previous != text))
    finally:
        index.close()
    return done


def _ignore(path: Path, line: str) -> None:
    """Adds a line to a .gitignore unless it is there (atomically; the file ends with a newline)."""
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    if line in text.splitlines():
        return
    if text and not text.endswith("\n"):
        text += "\n"
    write_atomic(path, text + line + "\n")


def _tracked_by_git(root: Path, rel: str) -> bool:
    import subprocess

    result = subprocess.run(["git", "ls-files", "--error-unmatch", "--", rel], cwd=root,
                            capture_output=True, text=True)
    return result.returncode == 0
