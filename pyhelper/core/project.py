"""The project: where the repository is, where xp keeps its machine-local state, which cache it uses,
and the lock that lets one run at a time use a work tree (`workspace_lock`).

Finding a project only looks at the file system (no git library is imported), so that quick
commands such as a no-op `xp repro` stay quick.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from pyhelper.errors import NoCommits, NotARepository, XpError

if TYPE_CHECKING:
    from pyhelper.core.pipeline.stage import Pipeline

PIPELINE_FILE = "dvc.yaml"
LOCK_FILE = "dvc.lock"
DEFAULT_PARAMS_FILE = "params.yaml"


@dataclass(frozen=True)
class Project:
    """A git work tree holding a pipeline; every path below is absolute."""

    root: Path
    """The work tree commands run in: the user's workspace, or a private one under `.xp/tmp/`."""
    home: Path | None = None
    """The user's workspace when `root` is a private one; its `.xp/` state and cache are shared."""
    sub: str = ""
    """The DVC project's folder inside the repository, posix ('' when it is the root): the nearest
    folder holding `.dvc/` from where xp was started (`dvc init --subdir` monorepos)."""

    @property
    def main_root(self) -> Path:
        """The user's own workspace (where `.xp/` and the cache live)."""
        return self.home or self.root

    @property
    def xp_dir(self) -> Path:
        """`.xp/`: machine-local state (git-ignored, created on first use)."""
        return self.main_root / ".xp"

    def in_workspace(self, root: Path) -> Project:
        """The same project seen from a private work tree that shares its state and cache."""
        return Project(root, home=self.main_root, sub=self.sub)

    @property
    def git_dir(self) -> Path:
        """The repository's git directory (`.git`, or where a `.git` file points)."""
        dot_git = self.root / ".git"
        if dot_git.is_file():
            target = dot_git.read_text().strip().removeprefix("gitdir:").strip()
            return (self.root / target).resolve()
        return dot_git

    @property
    def cache_dir(self) -> Path:
        """The object cache: DVC's own when this is also a DVC project, so both tools share it."""
        dvc_dir = self.main_root / self.sub / ".dvc" if self.sub else self.main_root / ".dvc"
        if dvc_dir.is_dir():
            return _dvc_cache_dir(dvc_dir)
        return self.xp_dir / "cache"

    @property
    def project_root(self) -> Path:
        """The DVC project's folder in this work tree (the repository root, or `sub` in a monorepo)."""
        return self.root / self.sub if self.sub else self.root

    @property
    def pipeline_path(self) -> Path:
        """`dvc.yaml` at the root of the project."""
        return self.project_root / PIPELINE_FILE

    @property
    def lock_path(self) -> Path:
        """`dvc.lock` beside the project's own `dvc.yaml`."""
        return self.project_root / LOCK_FILE

    def pipeline(self) -> Pipeline:  # Imported lazily: finding a project stays light.
        """Every dvc.yaml and `.dvc` file of the project, collected and parsed as DVC does."""
        from pyhelper.core.pipeline.dvcfile import read_pipeline

        return read_pipeline(self.root, sub=self.sub)

    def rel(self, path: Path | str) -> str:
        """`path` relative to the root, with forward slashes (as dvc.yaml and dvc.lock write it)."""
        return Path(os.path.relpath(path, self.root)).as_posix()

    def ensure_xp_dir(self) -> Path:
        """Creates `.xp/` with a `.gitignore` of its own, so git never sees what is inside."""
        xp = self.xp_dir
        ignore = xp / ".gitignore"
        if not ignore.is_file():  # Also when `.xp/` was deleted and something below it recreated the folder.
            xp.mkdir(parents=True, exist_ok=True)
            ignore.write_text("*\n")
        return xp

    def require_pipeline(self) -> None:
        """Raises `PipelineError` with the fix when the project has no dvc.yaml and no `.dvc` file."""
        if self.pipeline_path.is_file() or (self.project_root / ".dvc").is_dir():
            return  # A DVC project tracking nothing yet is a project too (its status is empty).
        from pyhelper.core.pipeline.collect import collect

        found = collect(self.root, self.sub)
        if found.pipelines or found.data:
            return
        from pyhelper.errors import PipelineError

        raise PipelineError(
            f"there is no {PIPELINE_FILE} (nor any .dvc file) in {self.project_root} or its folders",
            hint="write one with a `stages:` section (`xp demo` creates an example project)",
        )

    @property
    def common_dir(self) -> Path:
        """Where the repository's refs and objects live: the git directory, or in a linked worktree
        (`git worktree add`) the main one its `commondir` names."""
        git_dir = self.git_dir
        pointer = git_dir / "commondir"
        return (git_dir / pointer.read_text().strip()).resolve() if pointer.is_file() else git_dir

    def has_commits(self) -> bool:
        """True when HEAD points at a commit (a freshly `git init`-ed repository has none)."""
        head = (self.git_dir / "HEAD").read_text().strip()
        if not head.startswith("ref:"):
            return True
        ref = head.removeprefix("ref:").strip()
        git_dir = self.common_dir  # Branches are shared by every worktree.
        if (git_dir / ref).is_file() or (self.git_dir / ref).is_file():
            return True
        packed = git_dir / "packed-refs"
        return packed.is_file() and any(
            line.rstrip().endswith(" " + ref) for line in packed.read_text().splitlines()
        )

    def require_commits(self) -> None:
        """Raises `NoCommits` with the fix when the repository has no commit yet."""
        if not self.has_commits():
            raise NoCommits(self.no_commits_yet(), hint="commit your project first: git add -A && git commit -m "
                            "'Initial commit'" + self.orphan_hint(), path=str(self.root))

    def _unborn_branch(self) -> str | None:
        """The branch HEAD names when it has no commit but the repository has other branches (an orphan
        branch: `git checkout --orphan`), else None."""
        head = (self.git_dir / "HEAD").read_text().strip()
        branch = head.removeprefix("ref:").strip().removeprefix("refs/heads/")
        heads = self.common_dir / "refs" / "heads"
        packed = self.common_dir / "packed-refs"
        others = (heads.is_dir() and any(heads.iterdir())) or (
            packed.is_file() and " refs/heads/" in packed.read_text(errors="replace"))
        return branch if others else None

    def no_commits_yet(self) -> str:
        """What to say when HEAD has no commit: the repository's first, or an orphan branch."""
        branch = self._unborn_branch()
        if branch:
            return f"the branch '{branch}' has no commits yet (an orphan branch)"
        return "the repository has no commits yet"

    def orphan_hint(self) -> str:
        """The other way out on an orphan branch."""
        return ", or go back to a branch with commits (git switch -)" if self._unborn_branch() else ""


def find_project(start: Path | str | None = None) -> Project:
    """The project containing `start` (default: the current directory)."""
    here = Path(start or os.getcwd()).resolve()
    dvc_root: Path | None = None
    for folder in (here, *here.parents):
        if dvc_root is None and (folder / ".dvc").is_dir():
            dvc_root = folder
        if (folder / ".git").exists():
            sub = dvc_root.relative_to(folder).as_posix() if dvc_root is not None and dvc_root != folder else ""
            return Project(folder, sub=sub)
    raise NotARepository(
        f"'{here}' is not inside a git repository",
        hint="start one with `git init && git add -A && git commit -m 'Initial commit'`, "
        "or create a ready-made project with `xp demo`",
    )


def _dvc_cache_dir(dvc_dir: Path) -> Path:
    """The cache folder a DVC project configured (`cache.dir` in .dvc/config), or its default."""
    for name in ("config.local", "config"):
        config = dvc_dir / name
        if not config.is_file():
            continue
        import configparser

        parser = configparser.ConfigParser()
        try:
            parser.read(config)
        except configparser.Error:
            continue
        if parser.has_option("cache", "dir"):
            return (dvc_dir / parser.get("cache", "dir")).resolve()
    return dvc_dir / "cache"


class workspace_lock:
    """An exclusive lock on the workspace: two repros (or experiment runs) never run at once."""

    def __init__(self, project: Project):
        xp = project.ensure_xp_dir()
        # One lock per work tree: the user's workspace, or each private one under .xp/tmp/.
        self.path = xp / "workspace.lock" if project.home is None else xp / "tmp" / f"{project.root.name}.lock"
        self.handle: TextIO | None = None

    def __enter__(self) -> None:
        import fcntl

        self.handle = handle = open(self.path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise XpError(
                f"another xp run is already using this workspace (pid {holder})",
                hint="wait for it to finish, or stop it",
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()

    def __exit__(self, *exc: object) -> None:
        assert self.handle is not None
        self.handle.close()
