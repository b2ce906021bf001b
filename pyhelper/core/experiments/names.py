"""Generated experiment names: adjective-noun, unique among the experiments of one baseline."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import random

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
