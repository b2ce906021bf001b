"""What xp hands to git from outside: remotes and ref names checked, and the safe setting of every
git command that talks to a remote.

A remote name or URL comes from the user (a CLI argument, a language-server request, `.xp/config`)
or from a job; a ref name may come from a remote's listing or a queue entry. git reads an argument
that starts with `-` as an option wherever it stands among the options, and `--upload-pack=CMD` or
`--receive-pack=CMD` run CMD; a URL such as `ext::sh -c CMD` runs CMD through git's `ext` transport.
So every such value is checked here before it reaches git, every remote-talking call puts `--`
before its positionals (`git push`, `git fetch` and `git ls-remote` accept it; verified with git
2.39), and git is only allowed the file, ssh, https and git transports (`GIT_ALLOW_PROTOCOL`
overrides any `protocol.*.allow` in the user's config; the `-c` options say the same again).
"""

from __future__ import annotations

import os
import re
import subprocess

from pyhelper.errors import BadInput

MAX_REMOTE = 4096
"""The longest remote name or URL accepted (git's own URLs stay far below it)."""
MAX_REF = 1024
"""The longest ref name accepted."""
ALLOWED_PROTOCOLS = ("file", "ssh", "https", "git")
"""The transports git may use for xp; `ext::` (it runs a command), `fd::`, other remote helpers and http are not."""
SAFE_GIT_CONFIG: tuple[str, ...] = (
    "-c", "protocol.allow=never",
    *(option for name in ALLOWED_PROTOCOLS for option in ("-c", f"protocol.{name}.allow=always")),
)
"""`git -c …` options that limit the transports to ALLOWED_PROTOCOLS; put them before the subcommand."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_HELPER = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)::")
"""`<transport>::<address>`: git hands the address to `git-remote-<transport>` (`ext::` runs a command)."""
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_SCHEMES = {"file": "file", "ssh": "ssh", "git+ssh": "ssh", "ssh+git": "ssh", "https": "https", "git": "git"}
"""URL schemes git accepts, and the transport each one is."""
_DASH_HOST = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://(?:[^/@]*@)?\[?-")
"""A URL whose host starts with `-`: ssh would read it as an option (git refuses it too, since 2.14.1)."""


def shown(value: str, limit: int = 80) -> str:
    """`value` safe to put in a one-line message: credentials hidden, control characters escaped, shortened."""
    from pyhelper.core.credentials import redact

    text = _CONTROL.sub(lambda m: ascii(m.group())[1:-1], redact(value))
    return text if len(text) <= limit else text[:limit - 1] + "…"


def check_remote(value: str, *, what: str = "remote") -> str:
    """Returns `value` when git can only read it as a remote (a name, a path or a URL), else raises BadInput."""
    fix = "give a remote's name (see `git remote -v`), a path or a file://, ssh://, https:// or git:// URL"
    if not isinstance(value, str) or not value.strip():
        raise BadInput(f"the {what} is empty", hint=fix)
    if len(value) > MAX_REMOTE:
        raise BadInput(f"the {what} '{shown(value)}' is {len(value)} characters long (at most {MAX_REMOTE})", hint=fix)
    if _CONTROL.search(value):
        raise BadInput(f"the {what} '{shown(value)}' holds a control character", hint=fix)
    if value.startswith("-"):
        raise BadInput(f"the {what} '{shown(value)}' starts with '-': git would read it as an option, not a remote",
                       hint=fix + " (write a folder named -x as ./-x)")
    helper = _HELPER.match(value)
    if helper and helper.group(1).lower() not in ALLOWED_PROTOCOLS:
        raise BadInput(f"the {what} '{shown(value)}' uses git's '{helper.group(1)}' transport, which xp does not allow",
                       hint=fix)
    scheme = _SCHEME.match(value)
    if scheme and scheme.group(1).lower() not in _SCHEMES:
        raise BadInput(f"the {what} '{shown(value)}' uses {scheme.group(1)}://, which xp does not allow",
                       hint=fix)
    if _DASH_HOST.match(value):
        raise BadInput(f"the {what} '{shown(value)}' names a host starting with '-'", hint=fix)
    return value


def valid_refname(value: str) -> bool:
    """True when `value` is a full ref name git accepts (`refs/…`, no leading `-`, no `*`, `..`, `:` …)."""
    from pyhelper.core.git.gitcore import native

    return (isinstance(value, str) and 0 < len(value) <= MAX_REF and value.startswith("refs/")
            and not _CONTROL.search(value) and bool(native().reference_is_valid_name(value)))


def check_refname(value: str, *, what: str = "ref") -> str:
    """Returns `value` when it is a valid full ref name (see `valid_refname`), else raises BadInput."""
    if not valid_refname(value):
        raise BadInput(f"the {what} '{shown(str(value))}' is not a valid git ref name",
                       hint="a ref is refs/… made of valid names (see `git check-ref-format`)")
    return value


def git_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a git command that talks to a remote: no credential prompt, the allowed transports only."""
    return {**(os.environ if base is None else base), "GIT_TERMINAL_PROMPT": "0",
            "GIT_ALLOW_PROTOCOL": ":".join(ALLOWED_PROTOCOLS)}


def git_error(result: subprocess.CompletedProcess[str]) -> str:
    """The line of a failed git command's output that says why."""
    lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
    important = [line.split(":", 1)[1].strip() for line in lines if line.startswith(("fatal:", "error:"))]
    return "; ".join(important or lines[-2:]) or f"git exited with code {result.returncode}"


def git_argv(*args: str) -> list[str]:
    """`git` with SAFE_GIT_CONFIG before `args` (the subcommand and its arguments)."""
    return ["git", *SAFE_GIT_CONFIG, *args]
