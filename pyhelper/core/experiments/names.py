"""Experiment names: the checks a new name passes, and generated adjective-noun names.

A name is typed back wherever a revision is (`xp exp diff HEAD main`, `xp exp apply NAME`), and
experiments are looked up first: a name git would also read as a revision hides that revision.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pyhelper.core.git.refs import check_name
from pyhelper.errors import BadInput

if TYPE_CHECKING:
    import random

    import pygit2

MAX_LENGTH = 100
"""Longest name, in bytes of UTF-8: it becomes one component of a git ref, a file name that git keeps
under 255 bytes, beside `refs/exps/ab/cdef…/` (the queue's recovered names keep the same bound)."""

_HEX = re.compile(r"[0-9a-fA-F]{4,64}")
_GIT_HEADS = re.compile(r"[A-Z_]*HEAD")
"""HEAD, FETCH_HEAD, ORIG_HEAD, MERGE_HEAD…: git's special refs, resolved whether or not they exist now."""
_STEP = re.compile(r"@\d+$")


def check_new(repo: pygit2.Repository, name: str) -> str:
    """Returns `name` when it may name a new experiment: a valid ref component of at most MAX_LENGTH bytes
    that no revision answers to (HEAD, a branch, tag or remote, a commit id or its prefix) and that is not
    xp's `workspace` or a checkpoint's `NAME@STEP`; raises `BadInput` with the fix otherwise."""
    size = len(name.encode("utf-8", "surrogatepass"))
    if size > MAX_LENGTH:
        unit = "characters" if name.isascii() else "bytes in UTF-8"
        raise BadInput(f"the experiment name '{name[:40]}…' is {size} {unit} long (at most {MAX_LENGTH}: "
                       "it becomes a git ref)", hint="choose a shorter name with -n")
    check_name(name)
    hidden = _shadowed(repo, name)
    if hidden:
        raise BadInput(f"the experiment name '{name}' is also {hidden}: `xp exp diff {name}` and the like would "
                       "mean the experiment, not it", hint=f"choose another name, e.g. 'exp-{name}'")
    return name


def _shadowed(repo: pygit2.Repository, name: str) -> str:
    """What `name` already means to xp or git ('' when nothing)."""
    if name == "workspace":
        return "xp's name for the work tree"
    if _STEP.search(name):
        return "how a checkpoint is named (NAME@STEP)"
    if _GIT_HEADS.fullmatch(name):
        return f"git's {name}"
    for prefix, what in (("refs/heads/", "a branch"), ("refs/tags/", "a tag"), ("refs/remotes/", "a remote"),
                         ("refs/", "a ref")):
        if repo.references.get(prefix + name) is not None or (
                what == "a remote" and repo.references.get(f"refs/remotes/{name}/HEAD") is not None):
            return what
    if _HEX.fullmatch(name):
        if len(name) in (40, 64):
            return "written as a commit id"
        try:
            repo.revparse_single(name)
        except KeyError:
            return ""
        except ValueError:  # Ambiguous: several objects start so.
            return "a prefix of object ids in this repository"
        return "a prefix of an object id in this repository"
    return ""


def is_free(repo: pygit2.Repository, name: str) -> bool:
    """True when a generated name hides no revision (a branch may happen to be called `brave-otter`)."""
    return not _shadowed(repo, name)

ADJECTIVES = (
    "agile", "amber", "ample", "azure", "bold", "brave", "brisk", "calm", "civic", "coral", "cosmic",
    "crisp", "curly", "dapper", "deft", "eager", "early", "fleet", "fluid", "frank", "fresh", "gentle",
    "glad", "grand", "hardy", "hasty", "husky", "ivory", "jolly", "keen", "lanky", "lucid", "lunar",
    "mellow", "merry", "misty", "nimble", "noble", "oaken", "placid", "plucky", "polar", "proud",
    "quick", "quiet", "rapid", "regal", "rosy", "rustic", "sandy", "shiny", "silky", "sleek", "snowy",
    "solar", "spry", "stark", "steady", "sunny", "swift", "tidal", "tidy", "vivid", "wary", "witty", "zesty",
)
NOUNS = (
    "acorn", "alder", "anchor", "aspen", "badger", "basin", "beacon", "birch", "bison", "brook", "canyon",
    "cedar", "comet", "condor", "coral", "crane", "delta", "dune", "eagle", "ember", "falcon", "fern",
    "fjord", "gecko", "glacier", "grove", "harbor", "heron", "island", "jaguar", "kestrel", "lagoon",
    "lark", "lynx", "maple", "marten", "meadow", "mesa", "nebula", "orbit", "osprey", "otter", "pebble",
    "pine", "plover", "prairie", "quartz", "raven", "reef", "ridge", "river", "sequoia", "shoal", "sparrow",
    "spruce", "summit", "thicket", "tundra", "valley", "walrus", "willow", "wren", "yak", "zephyr",
)


def generate(taken: set[str], rng: random.Random | None = None) -> str:
    """A fresh `adjective-noun` name not in `taken` (a numeric suffix once the pairs run out)."""
    if rng is None:
        import random  # Imported here: most commands never generate a name.

        rng = random.Random()
    for _ in range(200):
        name = f"{rng.choice(ADJECTIVES)}-{rng.choice(NOUNS)}"
        if name not in taken:
            return name
    base = f"{rng.choice(ADJECTIVES)}-{rng.choice(NOUNS)}"
    suffix = 2
    while f"{base}-{suffix}" in taken:
        suffix += 1
    return f"{base}-{suffix}"
