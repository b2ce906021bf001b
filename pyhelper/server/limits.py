"""Every size and count `xp serve` accepts from its client and sends back, in one table.

The client is the editor, but what reaches the server through it is not all the user's own: a
pasted note, a pulled experiment's commit message or notes, a stray process writing on the
helper's stdin. None of it may take the server down, stall it, or make every answer huge.

| What                                           | Limit               | Beyond it                                    |
|------------------------------------------------|---------------------|----------------------------------------------|
| one message (its `Content-Length`)             | 16 MiB              | skipped; a request whose id can be read in   |
|                                                |                     | its first bytes is answered with -32001      |
| a message's header block                       | 8 KiB               | skipped up to the next `Content-Length`      |
| a header without a valid `Content-Length`, or  | -                   | skipped up to the next `Content-Length`      |
| a body shorter or longer than its length said  |                     | header; serving goes on (a request whose id  |
|                                                |                     | can be read is answered with -32001)         |
| a body that is not JSON, or nested too deeply  | Python's recursion  | -32700 when its id can be read; serving goes |
|                                                | limit               | on                                           |
| input ending inside a message                  | -                   | one line on stderr, exit 1 (the extension    |
|                                                |                     | starts the helper again)                     |
| a string in a request's params                 | 65,536 characters   | -32001 naming the field                      |
| a list in a request's params                   | 1,000 items         | -32001 naming the field                      |
| a whole number in a request's params           | ±(2**53 - 1)        | -32001 naming the field                      |
| `xp/startQueue` `jobs`                         | 1 to 64             | -32001                                       |
| a page of `xp/showExperiments` (`limit`)       | 5,000 rows, also    | -32001 for a larger `limit`; without one,    |
|                                                | the default         | pages of 5,000 (`nextCursor`); checkpoint    |
|                                                |                     | rows: the newest 5,000                       |
| `xp/plotsData` `revs`                          | 100                 | -32001                                       |
| a `-S key=range(…)` (`xp/runExperiment`)       | 100,000 values      | -32001 (`core/queue/sweep.py`); a grid is    |
|                                                |                     | counted, never built, before it is refused   |
| free text sent (a row's note, message, errors, | 100,000 characters  | cut, ending in `… [N more characters]`       |
| string values; diff and compare values; queue  |                     |                                              |
| errors; remote urls and the default's name)    |                     |                                              |
| tags sent per row                              | 100, of 1,000       | the first 100, each cut as above             |
|                                                | characters each     |                                              |
| a chunk of `xp/readQueueLog`, of the answer to | 1 MiB               | the rest in the next chunk (`nextOffset`,    |
| `xp/followQueueLog` or of one                  |                     | `offset`)                                    |
| `xp/queueLogUpdated`                           |                     |                                              |
| queue logs followed at once                    | 32                  | -32001 for one more (following an entry      |
| (`xp/followQueueLog`)                          |                     | again replaces its follower)                 |
| how long one queue log is followed             | 24 hours            | a last `xp/queueLogUpdated`: `done`, with    |
|                                                |                     | the `reason`                                 |
| a failed run's message / a progress line       | 4,000 / 200 chars   | cut                                          |

The wire bounds (strings, lists, numbers) are checked in `wire.py` for every request's params,
before any handler runs; the per-method ones in the handlers; framing in `framing.py`. Core bounds
notes and tags as it reads them (`core/experiments/notes.py`: 64 KiB, 100 tags of 100 characters);
the lengths sent here are larger, so that what core shows arrives whole and only text core leaves
alone (a pulled commit's message, a file's string value) is cut.
"""

from __future__ import annotations

from typing import Any

MAX_BODY = 16 * 1024 * 1024
"""Bytes in one JSON-RPC message's body."""
MAX_HEADER = 8 * 1024
"""Bytes in one message's header block (`Content-Length`, `Content-Type`)."""

MAX_STRING = 65_536
"""Characters in any string of a request's params."""
MAX_ITEMS = 1_000
"""Items in any list of a request's params."""
MAX_INT = 2**53 - 1
"""The largest whole number (either sign) a request may hold: JSON's exact integers."""

MAX_JOBS = 64
"""Queue workers one `xp/startQueue` starts."""
MAX_PAGE = 5_000
"""Rows in one page of `xp/showExperiments` (and its default page size)."""
MAX_PLOT_REVISIONS = 100
"""Revisions one `xp/plotsData` draws (each may carry images of up to 10 MB)."""

MAX_TEXT = 100_000
"""Characters of free text sent in one field (a note, a commit message, an error, a string value)."""
MAX_TAGS = 100
"""Tags sent per row."""
MAX_TAG = 1_000
"""Characters sent per tag (a tag core shows, its control characters escaped, is shorter)."""
MAX_MESSAGE = 4_000
"""Characters of a failed run's message shown in the editor."""
MAX_LOG_CHUNK = 1 << 20
"""Bytes of a queue entry's log in one answer or notification (`xp/readQueueLog`, `xp/followQueueLog`,
`xp/queueLogUpdated`); the rest comes in the next."""
MAX_FOLLOWED = 32
"""Queue logs one client follows at once (each is a thread looking at the queue a few times a second)."""
MAX_FOLLOW_SECONDS = 24 * 3600
"""How long one queue log is followed; a run still going after that is followed again by asking again."""


def cut(text: str, limit: int = MAX_TEXT) -> str:
    """`text`, or its first `limit` characters and a marker saying how many were left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… [{len(text) - limit:,} more characters]"


def cut_values(value: Any) -> Any:
    """A params/metrics value (or a mapping of them) with every long string cut; the same object when none is."""
    if isinstance(value, str):
        return cut(value)
    if isinstance(value, dict):
        bounded = {k: cut_values(v) for k, v in value.items()}
        return value if all(bounded[k] is v for k, v in value.items()) else bounded
    if isinstance(value, list):
        items = [cut_values(v) for v in value]
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    return value


def cut_tags(tags: list[str] | tuple[str, ...]) -> list[str]:
    """At most `MAX_TAGS` tags, each cut to `MAX_TAG` characters."""
    return [cut(t, MAX_TAG) for t in tags[:MAX_TAGS]]
