"""The git side of a remote queue run: the worker's mirror, and pushing the experiment's ref.

A run is named `<entry>.<run>` (the entry's id and how many times it was started, counted in
Redis); its checkpoints carry that name in their trailer, and its final commit the entry's
`xp-queue-entry` trailer. Every push of the experiment ref is a plain push (never forced), so a
checkpoint chain only grows; the one exception is a run replacing the checkpoints an *earlier*
run of the same entry left behind (a run lost or failed mid-way, then retried), done as a
compare-and-swap (`--force-with-lease=REF:THEIR_COMMIT`). Anything else already under the ref
wins: the same tree counts as this run's result, another one fails this run.

The remote and every ref are checked before git sees them (`gitargs`: never an option, never the
`ext::` transport), the remote stands after `--`, and git may use only the file, ssh, https and git
transports: a worker's remote and a job's entry id are values from outside.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from pyhelper.core.git.gitargs import check_refname, check_remote, git_argv, git_env, git_error, shown
from pyhelper.errors import XpError


class Superseded(XpError):
    """The experiment ref belongs to another run now (a later run of the entry, or another experiment)."""


def git(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`git ARGS` in `cwd`, never prompting for credentials, over the allowed transports only."""
    return subprocess.run(git_argv(*args), cwd=cwd, capture_output=True, text=True, env=git_env(),
                          stdin=subprocess.DEVNULL)


def mirror(remote: str, entry_id: str, rev: str, *, root: Path, cache_dir: str | None) -> Path:
    """The cached mirror of `remote` under `root` (created on first use) holding the entry's queue ref,
    checked to be `rev`; its output cache is `cache_dir` when one is given (a symlink)."""
    from pyhelper.core.git.refs import queue_ref

    check_remote(remote, what="worker's remote")
    ref = check_refname(queue_ref(entry_id), what="queue entry's ref")
    path = Path(root) / hashlib.sha1(remote.encode()).hexdigest()[:16]
    if not (path / ".git").is_dir():
        path.mkdir(parents=True, exist_ok=True)
        git(path, "init", "-q")
    fetched = git(path, "fetch", "-q", "--no-tags", "--", remote, f"+{ref}:{ref}")
    if fetched.returncode != 0:
        if "couldn't find remote ref" in fetched.stderr:
            raise XpError(f"the queued commit {rev[:12]} is not on '{shown(remote, 1000)}' ({ref} is missing)",
                          hint="queue it again, or check that the workers use the same remote as the laptop")
        raise XpError(f"cannot fetch from '{shown(remote, 1000)}': {git_error(fetched)}",
                      hint="check the worker's --remote and its access to it")
    got = git(path, "rev-parse", ref).stdout.strip()
    if got != rev:
        raise XpError(f"{ref} on '{shown(remote, 1000)}' is {got[:12]}, not the queued commit {rev[:12]}",
                      hint="queue the experiment again")
    if cache_dir:  # The mirror's output cache is the shared one: outputs land there as they are saved.
        xp_dir = path / ".xp"
        xp_dir.mkdir(exist_ok=True)
        link = xp_dir / "cache"
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
        if not (link.is_symlink() and os.readlink(link) == str(Path(cache_dir).resolve())):
            if link.is_symlink() or link.is_file():
                link.unlink()
            elif link.is_dir():
                shutil.rmtree(link)
            link.symlink_to(Path(cache_dir).resolve(), target_is_directory=True)
    return path


def _push(root: Path, remote: str, refspec: str, lease: str | None = None) -> subprocess.CompletedProcess[str]:
    ref = refspec.split(":", 1)[1]
    options = [f"--force-with-lease={ref}:{lease}"] if lease is not None else []
    return git(root, "push", "--porcelain", *options, "--", remote, refspec)


def _check_refused(pushed: subprocess.CompletedProcess[str], remote: str) -> None:
    """Raises when the remote itself said no (a hook, its rules, no access); returns when the ref was
    only out of date ("[rejected]": the remote has another commit under it)."""
    refused = [line.split("\t") for line in pushed.stdout.splitlines() if line.startswith("!")]
    if any(len(fields) >= 3 and fields[2].startswith("[rejected]") for fields in refused):
        return
    # Porcelain "!\t<src>:<dst>\t[remote rejected] (<reason>)": a hook or the server's rules said no.
    reason = next((fields[2] for fields in refused if len(fields) >= 3), "") or git_error(pushed)
    said = " ".join(line.split(":", 1)[1].strip() for line in pushed.stderr.splitlines()
                    if line.startswith("remote:") and line.split(":", 1)[1].strip())
    raise XpError(f"pushing the experiment to '{shown(remote, 1000)}' failed: {reason}"
                  + (f" (the remote says: {said})" if said else ""),
                  hint="check the worker's access to the remote and its rules, then `xp queue retry` the entry")


def _remote_tip(root: Path, remote: str, ref: str, run: str) -> str:
    """The commit the remote holds under `ref` (fetched into the mirror under a ref of this run's own)."""
    seen = f"refs/xp/seen/{run}"
    fetched = git(root, "fetch", "-q", "--no-tags", "--", remote, f"+{ref}:{seen}")
    return git(root, "rev-parse", seen).stdout.strip() if fetched.returncode == 0 else ""


def _owner(root: Path, commit: str) -> tuple[str, int] | None:
    """(entry id, run number) of the run that made `commit` (a checkpoint, or a final queue commit: run 0)."""
    from pyhelper.core.experiments.checkpoint import parse_trailer
    from pyhelper.core.queue.enqueue import TRAILER

    message = git(root, "log", "-1", "--format=%B", commit).stdout
    data = parse_trailer(message)
    if data is not None:
        entry, _, number = str(data.get("run", "")).partition(".")
        return (entry, int(number)) if number.isdigit() else None
    for line in reversed(message.splitlines()):
        if line.startswith(f"{TRAILER}: "):
            return line.split(": ", 1)[1].strip(), 0
    return None


def publish(root: Path, remote: str, ref: str, commit: str, run: str, *, final: bool) -> str:
    """Pushes `commit` as `ref` (a checkpoint, or with `final` the experiment); the commit the remote
    holds under `ref` afterwards. Raises Superseded when the ref belongs to another run."""
    check_remote(remote, what="worker's remote")
    check_refname(ref, what="experiment's ref")
    check_refname(f"refs/xp/seen/{run}", what="run's ref")
    pushed = _push(root, remote, f"{commit}:{ref}")
    if pushed.returncode == 0:
        return commit
    _check_refused(pushed, remote)
    theirs = _remote_tip(root, remote, ref, run)
    if theirs and final and git(root, "rev-parse", f"{theirs}^{{tree}}").stdout.strip() == git(
            root, "rev-parse", f"{commit}^{{tree}}").stdout.strip():
        return theirs  # Another run got there first with the identical result: it stands.
    entry, _, number = run.partition(".")
    owner = _owner(root, theirs) if theirs else None
    if owner is not None and owner[0] == entry:
        if owner[1] == 0 and final:
            return theirs  # This entry's result is recorded already (by an earlier run): it stands.
        if 0 < owner[1] < int(number):  # An earlier run's checkpoints: this run starts the chain over.
            replaced = _push(root, remote, f"{commit}:{ref}", lease=theirs)
            if replaced.returncode == 0:
                return commit
            _check_refused(replaced, remote)
            raise Superseded(f"the experiment ref {ref} on '{shown(remote, 1000)}' changed while this run replaced it",
                             hint="see `xp queue status`; another worker runs this entry")
        what = "recorded" if owner[1] == 0 else f"taken over by a later run (#{owner[1]})"
        raise Superseded(f"this entry's experiment on '{shown(remote, 1000)}' was {what}; "
                         "this run stops and records nothing",
                         hint="nothing to do: the entry's result is the one on the remote")
    raise Superseded(f"'{shown(remote, 1000)}' already has a different experiment under {ref}; "
                     "this run was not recorded",
                     hint="rename that experiment, then `xp queue retry` this entry")
