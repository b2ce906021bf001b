"""Every git ref namespace xp uses, each with a value type that round-trips to the ref string.

Experiments use DVC's layout, `refs/exps/<baseline[:2]>/<baseline[2:]>/<name>`, so DVC lists
xp's experiments and xp lists DVC's. Tags and notes live in git notes under `refs/notes/xp`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pyhelper.errors import BadInput

EXPS_NAMESPACE = "refs/exps"
NOTES_REF = "refs/notes/xp"
"""Git notes holding each experiment's tags and note (JSON), versioned and pushable."""
QUEUE_NAMESPACE = "refs/xp/queue"
"""Queued experiments' commits, one ref per entry. Outside refs/exps/ so that DVC, which reads
every ref under refs/exps/ as an experiment, never trips over them."""

_SHA = re.compile(r"[0-9a-f]{40}")
_BAD_NAME = re.compile(r"[\x00-\x20\x7f~^:?*\[\\/]|\.\.|@\{|\.lock$|^[.-]|\.$")


@dataclass(frozen=True, order=True)
class ExpRef:
    """An experiment's ref: its baseline commit and its name."""

    baseline: str
    """The full hex id of the baseline commit."""
    name: str

    def __str__(self) -> str:
        return f"{EXPS_NAMESPACE}/{self.baseline[:2]}/{self.baseline[2:]}/{self.name}"

    @property
    def prefix(self) -> str:
        """The ref folder holding every experiment of the same baseline."""
        return baseline_prefix(self.baseline)

    @classmethod
    def parse(cls, ref: str) -> ExpRef | None:
        """The ExpRef a ref string names, or None for refs that are not experiments."""
        parts = ref.split("/")
        if len(parts) != 5 or "/".join(parts[:2]) != EXPS_NAMESPACE:
            return None
        baseline = parts[2] + parts[3]
        if len(parts[2]) != 2 or not _SHA.fullmatch(baseline):
            return None
        return cls(baseline, parts[4])


def baseline_prefix(baseline: str) -> str:
    """`refs/exps/ab/cdef…/`: where the experiments of one baseline live."""
    return f"{EXPS_NAMESPACE}/{baseline[:2]}/{baseline[2:]}/"


def queue_ref(entry_id: str) -> str:
    """The ref keeping a queue entry's commit alive."""
    return f"{QUEUE_NAMESPACE}/{entry_id}"


def check_name(name: str) -> str:
    """Returns `name` when it is a valid experiment name (one git ref component), else raises."""
    if not name or _BAD_NAME.search(name) or name == "@":
        raise BadInput(
            f"'{name}' is not a valid experiment name",
            hint="use letters, digits, '-', '_' and '.', with no spaces, '/', '..', or leading '.' or '-'",
        )
    return name
