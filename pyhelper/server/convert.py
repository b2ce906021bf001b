"""Core values → wire types, field by field (nothing from core is serialised as it is).

Free text from git (messages, notes, tags: a pulled experiment's too) and from files is cut to
`limits.py`'s lengths here, so that one huge note does not make every answer huge.
"""

from __future__ import annotations

from pyhelper.core.experiments.show import Row
from pyhelper.core.queue.db import Entry, Worker
from pyhelper.server import protocol as p
from pyhelper.server.limits import cut, cut_tags, cut_values


def row(value: Row) -> p.ExperimentRow:
    """One table row."""
    return p.ExperimentRow(
        kind=value.kind, name=value.name, rev=value.rev, baseline=value.baseline, created=value.created,
        status=value.status, message=cut(value.message), tags=cut_tags(value.tags), note=cut(value.note),
        params=cut_values(value.params), metrics=cut_values(value.metrics), deps=dict(value.deps),
        errors={path: cut(error) for path, error in value.errors.items()},
        step=value.step, starred=value.starred,
    )


def entry(value: Entry) -> p.QueueEntry:
    """One queue entry."""
    return p.QueueEntry(id=value.id, name=value.name, status=value.status, created=value.created,
                        started=value.started, finished=value.finished, error=cut(value.error or ""))


def worker(value: Worker) -> p.QueueWorker:
    """One live worker."""
    status = "stopping" if value.stopping else "running" if value.entry else "idle"
    return p.QueueWorker(pid=value.pid, host=value.host, status=status, entry_id=value.entry)
