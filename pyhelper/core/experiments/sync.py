"""`xp exp push` / `xp exp pull`: experiments and their notes through a git remote.

Network work goes through the `git` command (it knows the user's credentials, SSH setup and
remotes). The remote is checked first (`gitargs.check_remote`: never an option such as
`--upload-pack=CMD`, never the `ext::` transport), stands after `--`, and git may use only the
file, ssh, https and git transports; refs a remote lists are used only when git accepts their
names. Neither direction forces: when the other side already has a different experiment of
the same name, that one experiment is refused (the others still go through) and the error names
it. Notes merge, with local notes winning on conflicts; a push merges the remote's notes first,
so that pushing never drops someone else's tags.
"""

from __future__ import annotations

import io
import re
import subprocess
import threading
from collections.abc import Callable

from pyhelper.core.credentials import redact, redact_text
from pyhelper.core.experiments.resolve import find
from pyhelper.core.experiments.save import Experiment
from pyhelper.core.git.gitargs import check_remote, git_argv, git_env, valid_refname
from pyhelper.core.git.gitrepo import exp_refs, open_repo
from pyhelper.core.git.refs import EXPS_NAMESPACE, NOTES_REF, ExpRef
from pyhelper.core.processes import stop_group
from pyhelper.core.project import Project
from pyhelper.errors import BadInput, XpError

FETCHED_NOTES = "refs/notes/xp-fetched"
_REJECTED_FETCH = re.compile(r"^\s*!\s+\[rejected\]\s+(\S+)\s+->\s+(\S+)")


class SyncError(XpError):
    """A push or pull that the remote (or the local repository) refused."""


class SyncCancelled(SyncError):
    """A push or pull stopped on the caller's request."""


_PROGRESS = re.compile(r"^(Counting|Compressing|Writing|Receiving|Resolving|Enumerating) objects:")
"""git's progress lines (`--progress`), the ones passed on to a follower."""


class Follow:
    """How a caller follows a push or pull: git's progress lines as they come, and a way to stop it."""

    def __init__(self, on_line: Callable[[str], None] | None = None) -> None:
        self.on_line = on_line
        """Called (from a reader thread) with each progress line git prints, e.g. `Writing objects: 45% (9/20)`."""
        self.cancel = threading.Event()
        """Set it to stop git: its process group ends (a local remote's receive-pack and hooks with it)."""


def _git(project: Project, *args: str, follow: Follow | None = None) -> subprocess.CompletedProcess[str]:
    env = git_env()
    if follow is None:
        return subprocess.run(git_argv(*args), cwd=project.root, capture_output=True, text=True, env=env,
                              stdin=subprocess.DEVNULL)
    return _followed(project, list(args), env, follow)


def _followed(project: Project, args: list[str], env: dict[str, str],
              follow: Follow) -> subprocess.CompletedProcess[str]:
    """Runs git in its own process group, passing its progress lines on, until it ends or `follow.cancel` is set."""
    proc = subprocess.Popen(git_argv(*args), cwd=project.root, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    out: list[bytes] = []
    err: list[str] = []

    def read_err() -> None:
        # git redraws a progress line with "\r"; each redraw is one line here.
        stream = proc.stderr
        assert isinstance(stream, io.BufferedReader)  # Popen's default buffering: read1 returns what is there.
        buffer = b""
        while chunk := stream.read1(4096):
            buffer += chunk
            *lines, buffer = re.split(rb"[\r\n]", buffer)
            for raw in lines:
                line = raw.decode("utf-8", "replace").strip()
                if line:
                    err.append(line)
                    if follow.on_line is not None and _PROGRESS.match(line):
                        follow.on_line(line)
        if buffer.strip():
            err.append(buffer.decode("utf-8", "replace").strip())

    reader = threading.Thread(target=read_err, daemon=True)
    reader.start()
    stdout_reader = threading.Thread(target=lambda: out.append(proc.stdout.read() if proc.stdout else b""), daemon=True)
    stdout_reader.start()
    try:
        while proc.poll() is None:
            if follow.cancel.wait(0.1):
                break
    except BaseException:  # Ctrl-C: git runs in its own session, so it must be ended here.
        stop_group(proc)
        raise
    if proc.poll() is None:
        stop_group(proc)
        raise SyncCancelled(f"git {args[0]} was stopped before it finished "
                            "(a ref it had not updated yet stays as it was)", hint="run it again to finish it")
    reader.join(5)
    stdout_reader.join(5)
    return subprocess.CompletedProcess(["git", *args], proc.returncode, b"".join(out).decode("utf-8", "replace"),
                                       "\n".join(err) + "\n")




def _failed(action: str, remote: str, result: subprocess.CompletedProcess[str]) -> XpError:
    """The error of a git command that failed for another reason than a refused experiment."""
    lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
    important = [line.split(":", 1)[1].strip() for line in lines if line.startswith(("fatal:", "error:"))]
    detail = redact_text("; ".join(important or lines[-2:])) or f"git exited with code {result.returncode}"
    return SyncError(f"{action} '{redact(remote)}' failed: {detail}",
                     hint="check the remote's name or URL (`git remote -v`) and your access to it")


def _names(refs: list[ExpRef]) -> str:
    return ", ".join(f"'{ref.name}' (baseline {ref.baseline[:7]})" for ref in refs)


def _merge_notes(project: Project, remote: str) -> None:
    """Merges the remote's notes into the local notes ref (local wins on conflicts)."""
    fetched = _git(project, "fetch", "-q", "--", remote, f"+{NOTES_REF}:{FETCHED_NOTES}")
    if fetched.returncode != 0:
        return  # The remote has no notes yet.
    _git(project, "notes", "--ref", NOTES_REF, "merge", "-q", "-s", "ours", FETCHED_NOTES)
    _git(project, "update-ref", "-d", FETCHED_NOTES)


def push(project: Project, remote: str, names: list[str], *, follow: Follow | None = None,
         baselines: set[str] | None = None) -> list[Experiment]:
    """Pushes the named experiments (default: all; with `baselines`, only those of these commits) and the notes
    ref to `remote`; `follow` gets git's progress and can stop it (`SyncCancelled`)."""
    check_remote(remote)
    named = redact(remote)
    repo = open_repo(project)
    refs = exp_refs(repo)
    chosen = [find(repo, n, refs=refs) for n in names] if names else [Experiment(r, s) for r, s in refs]
    if baselines is not None:
        chosen = [e for e in chosen if e.ref.baseline in baselines]
    if not chosen:
        raise BadInput("there are no experiments to push" + (" of those commits" if baselines is not None else ""),
                       hint="run one with `xp exp run` first" if baselines is None
                       else "see `xp exp list -A` for the commits that have experiments")
    refspecs = [f"{e.ref}:{e.ref}" for e in chosen]
    if NOTES_REF in repo.references:
        _merge_notes(project, remote)
        refspecs.append(f"{NOTES_REF}:{NOTES_REF}")
    result = _git(project, "push", "--porcelain", *(["--progress"] if follow else []), "--", remote, *refspecs,
                  follow=follow)
    if result.returncode == 0:
        return chosen
    # Porcelain lines: "<flag>\t<src>:<dst>\t<summary>"; "!" marks a refused ref, and the summary
    # says why: "[rejected] (non-fast-forward)" when the remote has other content under that name,
    # "[remote rejected] (<reason>)" when a hook or the server's rules said no.
    refused: dict[str, str] = {}
    for line in result.stdout.splitlines():
        fields = line.split("\t")
        if line.startswith("!") and len(fields) >= 3:
            refused[fields[1].split(":")[-1]] = fields[2]
    declined = {ref: why for ref, why in refused.items() if not why.startswith("[rejected]")}
    if declined:
        ref, why = next(iter(declined.items()))
        parsed = ExpRef.parse(ref)
        what = f"experiment '{parsed.name}'" if parsed else ref
        reason = why.partition("(")[2].rstrip(")") or why
        said = [line.split(":", 1)[1].strip() for line in result.stderr.splitlines() if line.startswith("remote:")]
        if any(said):
            from pyhelper.core.printable import escape

            reason += f" (the remote says: {escape(' '.join(x for x in said if x))})"  # Its hooks' words, raw.
        more = f" and {len(declined) - 1} more" if len(declined) > 1 else ""
        raise SyncError(f"'{named}' refused {what}{more}: {reason}",
                        hint="the remote's rules do not accept it: ask its owner, or push to another remote")
    refused_exps = [ref for ref in map(ExpRef.parse, refused) if ref is not None]
    if refused_exps:
        pushed = len(chosen) - len(refused_exps)
        raise SyncError(
            f"'{named}' already has a different experiment named {_names(refused_exps)}; "
            f"it was not pushed (the other {pushed} experiment(s) are on '{named}' now)",
            hint=f"rename yours with `xp exp rename {refused_exps[0].name} NEW_NAME` and push again",
        )
    if list(refused) == [NOTES_REF]:
        raise SyncError(f"'{named}' refused the experiments' notes ({NOTES_REF}); the experiments were pushed",
                        hint="someone pushed notes at the same moment: push again")
    raise _failed("pushing to", remote, result)


def _without_shadows(project: Project, refs: list[ExpRef]) -> list[ExpRef]:
    """The remote's experiments whose names are fine here; one named like a revision of this repository
    (`main`, `HEAD`, a tag) would make `xp exp diff main` mean it, so it is left out and said (a Notice)."""
    import warnings

    from pyhelper.core.experiments.names import check_new
    from pyhelper.core.git.gitrepo import open_repo
    from pyhelper.core.printable import escape
    from pyhelper.errors import Notice

    repo = open_repo(project)
    kept, left = [], []
    for ref in refs:
        try:
            check_new(repo, ref.name)
            kept.append(ref)
        except BadInput:
            left.append(ref.name)
    if left:
        warnings.warn(Notice(f"left out {len(left)} experiment(s) whose names would shadow a revision or are too "
                             f"long here: {escape(', '.join(sorted(set(left))[:10]))} (rename them where they were "
                             "made, then pull again)"), stacklevel=3)
    return kept


def pull(project: Project, remote: str, names: list[str], *, follow: Follow | None = None,
         baselines: set[str] | None = None) -> list[ExpRef]:
    """Fetches the named experiments (default: all; with `baselines`, only those of these commits) and merges the
    remote's notes; `follow` as for `push`."""
    check_remote(remote)
    named = redact(remote)
    listing = _git(project, "ls-remote", "--", remote, f"{EXPS_NAMESPACE}/*")
    if listing.returncode != 0:
        raise _failed("listing", remote, listing)
    # The listing is the remote's word: a ref git would not accept as a name is left out, as git does.
    refs = [ref for line in listing.stdout.splitlines()
            if (ref := ExpRef.parse(line.split("\t")[-1])) and valid_refname(str(ref))]
    if names:
        missing = [n for n in names if n not in {r.name for r in refs}]
        if missing:
            raise BadInput(f"'{named}' has no experiment named {', '.join(missing)}",
                           hint=f"list them with `git ls-remote {named} 'refs/exps/*'`")
        refs = [r for r in refs if r.name in names]
    if baselines is not None:
        refs = [r for r in refs if r.baseline in baselines]
        if not refs:
            raise BadInput(f"'{named}' has no experiments of those commits",
                           hint="leave out --rev/-n to pull every experiment, or name them")
    refs = _without_shadows(project, refs)
    if not refs:
        return []
    result = _git(project, "fetch", *(["--progress"] if follow else []), "--", remote, *[f"{r}:{r}" for r in refs],
                  follow=follow)
    _merge_notes(project, remote)
    if result.returncode != 0:
        parsed = [ExpRef.parse(m.group(2)) for line in result.stderr.splitlines()
                  if (m := _REJECTED_FETCH.match(line))]
        refused = [ref for ref in parsed if ref is not None]
        if refused:
            raise SyncError(
                f"you already have a different experiment named {_names(refused)}; it was not pulled "
                f"(the other {len(refs) - len(refused)} experiment(s) were)",
                hint=f"rename yours with `xp exp rename {refused[0].name} NEW_NAME` and pull again",
            )
        raise _failed("fetching from", remote, result)
    return refs


def outputs_of_pulled(project: Project, refs: list[ExpRef]) -> tuple[int, list[str]] | None:
    """After a pull: the outputs of experiments remote queue workers ran, copied from the queue's shared
    cache dir into this project's cache (count copied, md5s not found there); None when no shared cache
    dir is configured. The CLI and the editor both call it after `pull`, so both bring the same home."""
    from pyhelper.core.queue.backend import config_path

    if not refs or not config_path(project).is_file():
        return None
    from pyhelper.core.queue.remote_outputs import outputs_home

    repo = open_repo(project)
    return outputs_home(project, [str(repo.references[str(ref)].target) for ref in refs])


def outputs_note(copied: tuple[int, list[str]] | None) -> str:
    """The sentence saying what `outputs_of_pulled` did, or '' when it did nothing."""
    if copied is None or not (copied[0] or copied[1]):
        return ""
    return (f"Copied {copied[0]} output object(s) from the shared cache dir into this project's cache"
            + (f"; {len(copied[1])} not found there" if copied[1] else "") + ".")
