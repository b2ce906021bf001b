"""Which `dvc.yaml` and `.dvc` files make up a project, found the way DVC 3 finds them.

DVC walks the project's folder and reads every `dvc.yaml` and `*.dvc` file, except in folders that
`.dvcignore` or git ignores, folders that hold another DVC project (their own `.dvc/`), and
folders that are outputs of the stages found so far. xp does the same walk (one `os.scandir` per
folder) and additionally skips its own `.xp/` and Python virtual environments (a folder with
`pyvenv.cfg`), which never hold a project's pipeline but can hold tens of thousands of files.
"""

from __future__ import annotations

import configparser
import os
import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pyhelper.core.git.gitcore import lookup_tree
from pyhelper.core.storage.ignore_rules import Rules, compile_pattern

if TYPE_CHECKING:
    import pygit2

PIPELINE_NAME = "dvc.yaml"
DATA_SUFFIX = ".dvc"
SKIP_DIRS = frozenset({".git", ".dvc", ".xp", ".hg"})
MAX_FILES = 100_000
"""Folders visited at most: a walk that would go further stops (a project is never that large)."""


@dataclass(frozen=True)
class Collected:
    """The project's pipeline files and data files, relative to the repository root (posix)."""

    pipelines: tuple[str, ...]
    """Every dvc.yaml, the project's own first, then by folder."""
    data: tuple[str, ...]
    """Every `.dvc` file."""
    parsing: dict[str, str]
    """`[parsing]` of the project's `.dvc/config` (how mappings unpack into `cmd`)."""


def project_sub(root: Path, start: Path | None = None) -> str:
    """The DVC project's folder inside the repository at `root`: the nearest folder from `start`
    (default: the current directory) up to `root` that holds `.dvc/`; '' for the root itself."""
    here = Path(start or os.getcwd()).resolve()
    root = root.resolve()
    if here != root and root not in here.parents:
        return ""
    for folder in (here, *here.parents):
        if folder == root:
            return ""
        if (folder / ".dvc").is_dir():
            return folder.relative_to(root).as_posix()
    return ""


def git_rules(root: Path) -> Rules:
    """`.gitignore` files of the tree, with `.git/info/exclude` (DVC skips git-ignored folders and files)."""
    extra = []
    exclude = root / ".git" / "info" / "exclude"
    try:
        for line in exclude.read_text(encoding="utf-8", errors="replace").splitlines():
            pattern = compile_pattern(line)
            if pattern is not None:
                extra.append(pattern)
    except OSError:
        pass
    return Rules(root, names=(".gitignore",), extra=tuple(extra))


def collect(root: Path, sub: str = "") -> Collected:
    """Walks the project at `root/sub` and lists its dvc.yaml and `.dvc` files."""
    base = root / sub if sub else root
    dvc_rules = Rules(base)
    git = git_rules(root)
    pipelines: list[str] = []
    data: list[str] = []
    outs: set[str] = set()
    pending = [""]
    visited = 0
    while pending and visited < MAX_FILES:
        folder = pending.pop(0)
        visited += 1
        try:
            entries = sorted(os.scandir(base / folder if folder else base), key=lambda e: e.name)
        except OSError:
            continue
        dirs: list[str] = []
        for entry in entries:
            rel = f"{folder}/{entry.name}" if folder else entry.name
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                continue
            if is_dir:
                if entry.name in SKIP_DIRS or (Path(entry.path) / ".dvc").is_dir():
                    continue
                if os.path.exists(os.path.join(entry.path, "pyvenv.cfg")):
                    continue
                dirs.append(rel)
                continue
            if entry.name != PIPELINE_NAME and not entry.name.endswith(DATA_SUFFIX):
                continue
            if dvc_rules.decide(rel, False) or git.decide(_in_repo(sub, rel), False):
                continue
            if entry.name == PIPELINE_NAME:
                pipelines.append(_in_repo(sub, rel))
                outs.update(_declared_outs(base / rel, folder))
            else:
                data.append(_in_repo(sub, rel))
        for rel in dirs:
            if rel in outs or dvc_rules.decide(rel, True) or git.decide(_in_repo(sub, rel), True):
                continue
            pending.append(rel)
    return Collected(tuple(pipelines), tuple(data), parsing_options(base))


def _in_repo(sub: str, rel: str) -> str:
    return f"{sub}/{rel}" if sub else rel


def _declared_outs(path: Path, folder: str) -> set[str]:
    """Folders a dvc.yaml's stages write (DVC does not look for pipeline files inside outputs).

    Read from the text without interpolation: an output written with `${...}` is not skipped, which
    only costs a look inside it.
    """
    found: set[str] = set()
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return found
    if "outs" not in text:
        return found
    from pyhelper.core.yamlio.yamlfile import parse_yaml
    from pyhelper.errors import XpError

    try:
        data = parse_yaml(text, path="dvc.yaml")
    except XpError:
        return found  # Reported when the file is parsed for real.
    stages = data.get("stages") if isinstance(data, dict) else None
    for definition in (stages or {}).values() if isinstance(stages, dict) else ():
        if not isinstance(definition, dict):
            continue
        do = definition.get("do")
        body = do if isinstance(do, dict) else definition
        wdir = body.get("wdir", ".") if isinstance(body.get("wdir", "."), str) else "."
        for kind in ("outs", "metrics", "plots"):
            for item in body.get(kind) or () if isinstance(body.get(kind), list) else ():
                out = item if isinstance(item, str) else next(iter(item), None) if isinstance(item, dict) else None
                if isinstance(out, str) and "${" not in out and "${" not in wdir:
                    found.add(posixpath.normpath(posixpath.join(folder or ".", wdir, out)))
    return found


def parsing_options(base: Path) -> dict[str, str]:
    """`[parsing]` `bool` and `list` from `.dvc/config` and `.dvc/config.local` (local wins)."""
    options: dict[str, str] = {}
    for name in ("config", "config.local"):
        path = base / ".dvc" / name
        if not path.is_file():
            continue
        parser = configparser.ConfigParser()
        try:
            parser.read(path, encoding="utf-8")
        except (configparser.Error, UnicodeDecodeError):
            continue
        if parser.has_section("parsing"):
            for key in ("bool", "list"):
                if parser.has_option("parsing", key):
                    options[key] = parser.get("parsing", key).strip().lower()
    return options


class TreeFiles:
    """The dvc.yaml files of git trees (a commit's, an experiment's), each subtree walked once.

    Experiments share almost all of their subtrees, so listing the pipeline files of a thousand
    experiments costs about one walk. Folders holding `.dvc/` (other projects) and xp's and git's
    own folders are skipped, as in the workspace; `.dvcignore` inside a commit is not read.
    """

    def __init__(self, repo: pygit2.Repository, sub: str = ""):
        self.repo = repo
        self.sub = sub
        self._memo: dict[str, tuple[str, ...]] = {}

    def files(self, tree: pygit2.Tree) -> tuple[str, ...]:
        """Every dvc.yaml and `.dvc` file of the project in `tree`, relative to the repository root."""
        if self.sub:
            try:
                entry = tree[self.sub]
            except KeyError:
                return ()
            if entry.type_str != "tree":
                return ()
            tree = lookup_tree(self.repo, entry.id)
        found = self._walk(tree, 0)
        return tuple(f"{self.sub}/{f}" if self.sub else f for f in found)

    def pipelines(self, tree: pygit2.Tree) -> tuple[str, ...]:
        """Every dvc.yaml of the project in `tree`, the project's own first, relative to the repository root."""
        return tuple(f for f in self.files(tree) if f.rsplit("/", 1)[-1] == PIPELINE_NAME)

    def data(self, tree: pygit2.Tree) -> tuple[str, ...]:
        """Every `.dvc` file of the project in `tree`, relative to the repository root."""
        return tuple(f for f in self.files(tree) if f.endswith(DATA_SUFFIX))

    def _walk(self, tree: pygit2.Tree, depth: int) -> tuple[str, ...]:
        key = str(tree.id)
        if key in self._memo:
            return self._memo[key]
        files: list[str] = []
        subdirs: list[tuple[str, pygit2.Object]] = []
        for entry in tree:
            name = entry.name or ""  # Always set on a tree's entries.
            if entry.type_str == "blob":
                if name == PIPELINE_NAME or name.endswith(DATA_SUFFIX):
                    files.append(name)
            elif entry.type_str == "tree" and name not in SKIP_DIRS and depth < 32:
                subdirs.append((name, entry))
        for name, entry in sorted(subdirs, key=lambda item: item[0]):
            child = lookup_tree(self.repo, entry.id)
            try:
                nested = child[".dvc"]
            except KeyError:
                nested = None
            if nested is not None and nested.type_str == "tree":
                continue  # Another DVC project.
            files.extend(f"{name}/{f}" for f in self._walk(child, depth + 1))
        self._memo[key] = tuple(files)
        return self._memo[key]
