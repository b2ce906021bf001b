"""`xp demo`: lays out a small, real ML project (prepare → train → evaluate) in a new git repository.

The project files live in `template/` beside this module and are copied verbatim. Creating the
project never runs the pipeline; the CLI does that afterwards through the core engine, so the
first run is an ordinary `xp repro` that a user can watch.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from pyhelper.errors import BadInput, XpError

COMMIT_MESSAGE = "Demo project: prepare → train → evaluate"

# DVC writes a .gitignore beside each cached output; one file at the top says the same thing.
# The metrics and plot files are `cache: false`, so git tracks them and they are not listed.
GITIGNORE = """\
# xp keeps its cache, run-cache and logs here; it is machine-local and never committed.
/.xp/
# Outputs of stages, stored in the cache and restored from it, so git does not track them.
/data/prepared
/model/model.json
# Byte code Python writes when the stages import src/params.py.
__pycache__/
# The demo's stand-in for a shared git server: `xp exp push origin` goes here.
/origin.git/
# The demo's stand-in for remote storage (an S3 bucket, a shared disk): `xp push` puts outputs here.
/storage/
"""

# The demo's remote storage, configured as `xp remote add -d storage PATH` writes it (a project
# without .dvc/ keeps DVC's config sections in .xpconfig). An absolute path, as a bucket's url is: a
# teammate's clone elsewhere on this machine reaches the same folder.
XPCONFIG = """\
[core]
    remote = storage
['remote "storage"']
    url = {path}
"""

# Installing the package byte-compiles the template's scripts; the copies would be litter.
_SKIPPED = {"__pycache__", ".DS_Store"}

# Variables that point git at another repository, as they are set while a git hook runs; left
# in place they would make `git init` and `git commit` act on that repository instead.
_GIT_LOCATION_VARS = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_PREFIX")


def create(dest: Path) -> Path:
    """Create the demo project in `dest` (new or empty), commit it, and return its resolved path."""
    dest = Path(dest)
    created = _claim(dest)
    try:
        _copy_tree(files("pyhelper.demo") / "template", dest)
        (dest / ".gitignore").write_text(GITIGNORE, encoding="utf-8")
        (dest / ".xpconfig").write_text(XPCONFIG.format(path=dest.resolve() / "storage"), encoding="utf-8")
        _git(dest, "init", "-q", "-b", "main")
        _track_dataset(dest)
        _commit(dest, COMMIT_MESSAGE)
        _add_origin(dest)
    except BaseException:
        # The folder was new or empty before, so removing what is in it loses nothing of the
        # user's and lets them run the same command again once the cause is fixed.
        _clear(dest, remove_folder=created)
        raise
    return dest.resolve()


def _claim(dest: Path) -> bool:
    """Make sure `dest` is a new or empty folder; True when this call created it."""
    if dest.exists() or dest.is_symlink():
        if not dest.is_dir():
            raise BadInput(
                "already exists and is not a folder",
                hint="give `xp demo` the name of a new folder",
                path=str(dest),
            )
        if any(dest.iterdir()):
            raise BadInput(
                "already exists and is not empty; the demo goes into a new or empty folder",
                hint=f"choose another name (for example `xp demo {dest.name}-2`) or empty the folder",
                path=str(dest),
            )
        return False
    dest.mkdir(parents=True)
    return True


def _copy_tree(source: Traversable, target: Path) -> None:
    """Copy the template's files byte for byte, walking it through importlib.resources."""
    for entry in source.iterdir():
        if entry.name in _SKIPPED or entry.name.endswith(".pyc"):
            continue
        if entry.is_dir():
            (target / entry.name).mkdir()
            _copy_tree(entry, target / entry.name)
        else:
            (target / entry.name).write_bytes(entry.read_bytes())


DATASET = "data/raw/features.csv"
"""The demo's data tracked outside git (what `xp add` / `dvc add` do): cached, with a `.dvc` file."""


def _track_dataset(repo: Path) -> None:
    """`xp add data/raw/features.csv`: the data goes into the cache, its .dvc file into the commit."""
    from pyhelper.core.pipeline.add import add
    from pyhelper.core.project import Project

    add(Project(repo), [str(repo / DATASET)])


ORIGIN = "origin.git"
"""A bare repository inside the demo folder, its remote `origin`: what a team's git server is."""


def _add_origin(repo: Path) -> None:
    """Makes `origin`, so the README's `xp exp push origin` works as written in the demo."""
    _git(repo, "init", "-q", "--bare", "-b", "main", ORIGIN)
    _git(repo, "remote", "add", "origin", str(repo.resolve() / ORIGIN))


def push_main(repo: Path) -> None:
    """Pushes `main` to the demo's origin (a teammate who clones it gets the baseline of every experiment)."""
    _git(repo, "push", "-q", "origin", "main")


def _commit(repo: Path, message: str) -> None:
    """Commit everything in the work tree."""
    identity: list[str] = []
    # A machine where git was never configured still gets its demo commit, under a name that
    # says who made it; a configured identity is left alone.
    if not _git_config(repo, "user.name"):
        identity += ["-c", "user.name=xp-demo"]
    if not _git_config(repo, "user.email"):
        identity += ["-c", "user.email=xp-demo@localhost"]
    _git(repo, "add", "-A")
    # Signing would stop on a passphrase prompt or a missing key; an unsigned demo commit is fine.
    _git(repo, *identity, "-c", "commit.gpgsign=false", "commit", "-q", "--no-verify", "-m", message)


def _git_config(repo: Path, key: str) -> str:
    """The value of a git setting as seen from `repo`, or an empty string when it is unset."""
    result = _run_git(repo, ["config", key])
    return result.stdout.strip() if result.returncode == 0 else ""


def _git(repo: Path, *args: str) -> None:
    """Run one git command in `repo`, turning a failure into an error that shows git's own words."""
    result = _run_git(repo, list(args))
    if result.returncode != 0:
        raise XpError(
            f"`git {' '.join(args)}` failed with exit code {result.returncode}: {result.stderr.strip()}",
            hint="fix the git problem above and run `xp demo` again",
            path=str(repo),
        )


def _run_git(repo: Path, args: list[str]) -> subprocess.CompletedProcess[str]:
    """Run git with `args` in `repo`, capturing its output, in an environment aimed at `repo` only."""
    env = {k: v for k, v in os.environ.items() if k not in _GIT_LOCATION_VARS}
    try:
        return subprocess.run(
            ["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=False
        )
    except FileNotFoundError:
        raise XpError(
            "git is not installed or not on PATH; the demo project is a git repository",
            hint="install git (for example `apt-get install git`) and run `xp demo` again",
        ) from None


def _clear(folder: Path, *, remove_folder: bool) -> None:
    """Delete what is inside `folder`, and the folder itself when `remove_folder` is set."""
    if remove_folder:
        shutil.rmtree(folder, ignore_errors=True)
        return
    for child in folder.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def commit_results(repo: Path) -> None:
    """Commit what the first reproduction wrote (dvc.lock, metrics, plots, .gitignore files).

    So that `xp params diff` and `xp metrics diff` have a baseline to compare with.
    """
    _commit(repo, "Reproduce the demo pipeline")


EXPERIMENTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("higher-lr", ("train.lr=0.2",)),
    ("longer", ("train.epochs=30",)),
    ("wider", ("model.hidden=16", "train.epochs=20")),
)
"""The experiments `xp demo` runs after the baseline: (name, `-S` assignments)."""

SWEEP: tuple[str, ...] = ("train.lr=0.1,0.2", "model.hidden=4,16")
"""The 2×2 sweep `xp demo` queues and runs with two workers (names sweep-1 … sweep-4)."""

LEFT_QUEUED: tuple[str, ...] = ("train.epochs=15,20",)
"""What `xp demo` queues last and leaves for the user to run (names next-1, next-2)."""
