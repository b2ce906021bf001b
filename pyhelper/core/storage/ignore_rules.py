"""`.dvcignore` and `.gitignore` patterns (git's wildmatch rules), matched as DVC and git match them.

A rule set belongs to the folder holding the file; a path is tested against every rule set from
the repository root down to its own folder, and the last pattern that matches decides (a `!`
pattern re-includes). A path inside an ignored folder is ignored whatever later patterns say,
as in git.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

MAX_PATTERNS = 10_000
"""Patterns read from one file at most (a hostile ignore file stays cheap to match)."""


@dataclass(frozen=True)
class Pattern:
    """One line of an ignore file, compiled."""

    regex: re.Pattern[str]
    include: bool
    """True for a plain pattern (ignores), False for a `!` pattern (re-includes)."""
    dir_only: bool
    """A pattern ending in `/` matches folders only."""


def compile_pattern(line: str) -> Pattern | None:
    """A pattern line as a regular expression over paths relative to its file's folder; None for blanks/comments."""
    if line.endswith("\n"):
        line = line[:-1]
    if line.endswith("\r"):
        line = line[:-1]
    # Trailing spaces are dropped unless escaped.
    while line.endswith(" ") and not line.endswith("\\ "):
        line = line[:-1]
    if not line or line.startswith("#"):
        return None
    include = True
    if line.startswith("!"):
        include = False
        line = line[1:]
    elif line.startswith("\\!") or line.startswith("\\#"):
        line = line[1:]
    dir_only = line.endswith("/")
    line = line.rstrip("/")
    if not line:
        return None
    anchored = "/" in line
    line = line.lstrip("/")
    parts = line.split("/")
    out = "" if anchored else "(?:.*/)?"
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if part == "**":
            out += ".*" if last else "(?:.*/)?"
            continue
        out += _glob(part) + ("" if last else "/")
    return Pattern(re.compile(out + r"\Z", re.DOTALL), include, dir_only)


def _glob(part: str) -> str:
    """One path segment's glob (`*`, `?`, `[...]`, `\\x`) as a regular expression."""
    out = ""
    i = 0
    while i < len(part):
        char = part[i]
        if char == "\\" and i + 1 < len(part):
            out += re.escape(part[i + 1])
            i += 2
            continue
        if char == "*":
            while i + 1 < len(part) and part[i + 1] == "*":
                i += 1
            out += "[^/]*"
        elif char == "?":
            out += "[^/]"
        elif char == "[":
            end = part.find("]", i + 2 if i + 1 < len(part) and part[i + 1] in "!^" else i + 1)
            if end == -1:
                out += re.escape(char)
            else:
                body = part[i + 1:end]
                negate = body[:1] in ("!", "^")
                if negate:
                    body = body[1:]
                body = body.replace("\\", "\\\\")
                out += f"[{'^' if negate else ''}{body}]"
                i = end
        else:
            out += re.escape(char)
        i += 1
    return out


def parse_rules(text: str) -> tuple[Pattern, ...]:
    """Every pattern of an ignore file's text, in order."""
    found = []
    for line in text.splitlines()[:MAX_PATTERNS]:
        pattern = compile_pattern(line)
        if pattern is not None:
            found.append(pattern)
    return tuple(found)


@dataclass
class Rules:
    """The ignore files of a tree, by folder (repository-relative, '' for the root), read on demand."""

    root: Path
    names: tuple[str, ...] = (".dvcignore",)
    """The ignore files to read in each folder (`.dvcignore`, `.gitignore`)."""
    extra: tuple[Pattern, ...] = ()
    """Patterns of the root folder that no file holds (DVC's defaults, `.git/info/exclude`)."""
    _by_dir: dict[str, tuple[Pattern, ...]] = field(default_factory=dict)

    def patterns(self, folder: str) -> tuple[Pattern, ...]:
        """The patterns the ignore files in `folder` hold."""
        if folder not in self._by_dir:
            found: list[Pattern] = list(self.extra) if folder == "" else []
            for name in self.names:
                try:
                    text = (self.root / folder / name).read_text(encoding="utf-8", errors="replace")
                except OSError:
                    continue
                found.extend(parse_rules(text))
            self._by_dir[folder] = tuple(found)
        return self._by_dir[folder]

    def decide(self, path: str, is_dir: bool) -> bool | None:
        """True/False when some pattern says the path is ignored/re-included; None when none matches.

        Only the path itself is tested (not its folders): a walk that skips ignored folders
        never asks about what is inside them; `ignored` tests the folders too.
        """
        verdict: bool | None = None
        parts = path.split("/")
        for depth in range(len(parts)):
            folder = "/".join(parts[:depth])
            rel = "/".join(parts[depth:])
            for pattern in self.patterns(folder):
                if pattern.dir_only and not is_dir:
                    continue
                if pattern.regex.match(rel):
                    verdict = pattern.include
        return verdict

    def ignored(self, path: str, is_dir: bool) -> bool:
        """True when the path, or a folder holding it, is ignored."""
        parts = path.split("/")
        for depth in range(1, len(parts)):
            if self.decide("/".join(parts[:depth]), True):
                return True
        return bool(self.decide(path, is_dir))
