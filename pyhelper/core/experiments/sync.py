"""`xp exp push` / `xp exp pull`: experiments and their notes through a git remote.

Network work goes through the `git` command (it knows the user's credentials, SSH setup and
remotes). Pushes never force: a remote that already has a different experiment of the same
name rejects it, and the error says so. Notes merge with local notes winning on conflicts.
"""

from __future__ import annotations

import os
import subprocess

from pyhelper.core.experiments.resolve import find
from pyhelper.core.experiments.save import Experiment
from pyhelper.core.gitrepo import exp_refs, open_repo
from pyhelper.core.project import Project
from pyhelper.core.refs import EXPS_NAMESPACE, NOTES_REF, ExpRef
from pyhelper.errors import BadInput, XpError

FETCHED_NOTES = "refs/notes/xp-fetched"


def _git(project: Project, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    return subprocess.run(["git", *args], cwd=project.root, capture_output=True, text=True, env=env,
                          stdin=subprocess.DEVNULL)


def _failed(action: str, remote: str, result: subprocess.CompletedProcess[str]) -> XpError:
    detail = " ".join(line.strip() for line in result.stderr.strip().splitlines()[-3:])
    return XpError(f"{action} '{remote}' failed: {detail}",
                   hint="check the remote's name/URL and your access; a rejected experiment already exists "
                        "there with other content (rename yours with `xp exp rename`)")


def push(project: Project, remote: str, names: list[str]) -> list[Experiment]:
    """Pushes the named experiments (default: all) and the notes ref to `remote`."""
    repo = open_repo(project)
    chosen = [find(repo, n) for n in names] if names else [Experiment(r, s) for r, s in exp_refs(repo)]
    if not chosen:
        raise BadInput("there are no experiments to push", hint="run one with `xp exp run` first")
    refspecs = [f"{e.ref}:{e.ref}" for e in chosen]
    if NOTES_REF in repo.references:
        refspecs.append(f"{NOTES_REF}:{NOTES_REF}")
    result = _git(project, "push", "--porcelain", remote, *refspecs)
    if result.returncode != 0:
        raise _failed("pushing to", remote, result)
    return chosen


def pull(project: Project, remote: str, names: list[str]) -> list[ExpRef]:
    """Fetches the named experiments (default: all) and merges the remote's notes."""
    listing = _git(project, "ls-remote", remote, f"{EXPS_NAMESPACE}/*")
    if listing.returncode != 0:
        raise _failed("listing", remote, listing)
    refs = [ref for line in listing.stdout.splitlines() if (ref := ExpRef.parse(line.split("\t")[-1]))]
    if names:
        missing = [n for n in names if n not in {r.name for r in refs}]
        if missing:
            raise BadInput(f"'{remote}' has no experiment named {', '.join(missing)}",
                           hint=f"list them with `git ls-remote {remote} 'refs/exps/*'`")
        refs = [r for r in refs if r.name in names]
    if not refs:
        return []
    result = _git(project, "fetch", remote, *[f"{r}:{r}" for r in refs])
    if result.returncode != 0:
        raise _failed("fetching from", remote, result)
    notes = _git(project, "fetch", remote, f"+{NOTES_REF}:{FETCHED_NOTES}")
    if notes.returncode == 0:
        _git(project, "notes", "--ref", NOTES_REF, "merge", "-q", "-s", "ours", FETCHED_NOTES)
        _git(project, "update-ref", "-d", FETCHED_NOTES)
    return refs
