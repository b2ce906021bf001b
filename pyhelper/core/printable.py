"""Control characters in text from other people (notes, tags, params, names): which are unsafe, and
how they are shown instead.

A terminal obeys escape sequences in whatever it prints (`\\x1b[2J` clears the screen, OSC 52
`\\x1b]52;c;…\\x07` writes the clipboard, CR overwrites the line), and bidirectional overrides
make text read differently from what it is ("Trojan Source"). xp refuses these characters where a
person types text (`exp tag`, `exp note`) and shows any that are already stored as visible
escapes (`\\x1b`, `\\u202e`), so they reach neither a terminal nor a Markdown table raw.
"""

from __future__ import annotations

import re

UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
"""C0 and C1 control characters, DEL, bidirectional marks/overrides/isolates, line/paragraph separators,
and lone surrogates (from JSON's `\\ud800` or undecodable argv bytes: printing one raises an error)."""

_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def escape(text: str, *, keep: str = "") -> str:
    """`text` with every unsafe character (except those in `keep`, e.g. "\\t\\n") written as a visible escape."""
    if not UNSAFE.search(text):
        return text
    return UNSAFE.sub(lambda m: m.group() if m.group() in keep else _escape(m), text)


def first_unsafe(text: str, *, allow: str = "") -> str | None:
    """The first unsafe character of `text` not in `allow`, as a visible escape (`\\x1b`), or None."""
    for match in UNSAFE.finditer(text):
        if match.group() not in allow:
            return _escape(match)
    return None
