"""Typed errors raised by `pyhelper.core`; the CLI and the server translate them once, at the edge.

Every error says what went wrong, where (file and line when there is one) and how to fix it.
"""

from __future__ import annotations


class XpError(Exception):
    """Base of every error xp reports to a user; `exit_code` is what the CLI exits with."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str = "", path: str = "", line: int | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.path = path
        self.line = line

    @property
    def where(self) -> str:
        """`file:line` (or just the file) the error is about, or an empty string."""
        if not self.path:
            return ""
        return f"{self.path}:{self.line}" if self.line else self.path

    def __str__(self) -> str:
        where = self.where
        return f"{where}: {self.message}" if where else self.message

    def one_line(self) -> str:
        """What the user is told: `file:line: message — hint` (the CLI prints it after `error: `)."""
        if not self.hint:
            return str(self)
        text = str(self)
        # A message that quotes lines (a failing stage's output) gets its fix on a line of its own, not glued
        # to the last quoted line.
        return f"{text}\n  hint: {self.hint}" if "\n" in text else f"{text} — {self.hint}"


class Notice(UserWarning):
    """Something the user should know that did not stop the command (a cache rebuilt, a file skipped):
    core raises it with `warnings.warn(Notice(...))`; the CLI prints `note: …` on stderr."""


class StateError(XpError):
    """A file of xp's own state (`.xp/runs.db`…) cannot be used; the hint says how to recover (exit code 2)."""


class BadInput(XpError):
    """The user's files or arguments are wrong (exit code 2)."""


class NotARepository(BadInput):
    """The folder is not inside a git repository."""


class NoCommits(BadInput):
    """The git repository has no commit yet."""


class PipelineError(BadInput):
    """`dvc.yaml` (or a file it points at) is malformed or inconsistent."""


class ParamsError(BadInput):
    """A params file is malformed, or a key it should hold is missing."""


class UnknownRevision(BadInput):
    """A git revision name does not resolve."""


class UnknownRun(BadInput):
    """A run-cache id does not match any recorded run."""


class UnknownExperiment(BadInput):
    """No experiment matches a name (or several do)."""


class WouldOverwrite(BadInput):
    """An operation would overwrite uncommitted changes; nothing was changed."""


class StageFailed(XpError):
    """A stage's command exited non-zero (exit code 1)."""

    exit_code = 1

    def __init__(self, stage: str, returncode: int, tail: list[str]):
        lines = "\n".join(f"  | {line}" for line in tail)
        message = f"stage '{stage}' failed: its command exited with code {returncode}"
        if lines:
            message += f"; last lines of its output:\n{lines}"
        super().__init__(
            message,
            hint="fix the command and run `xp repro` again; dvc.lock was not updated for this stage",
        )
        self.stage = stage
        self.returncode = returncode
        self.tail = tail


def did_you_mean(word: str, choices: list[str]) -> str:
    """A "did you mean 'x'?" fragment for a misspelt word, or an empty string when nothing is close."""
    import difflib

    found = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"did you mean '{found[0]}'?" if found else ""
