"""Core values → wire types, field by field (nothing from core is serialised as it is)."""

from __future__ import annotations

from pyhelper.core.experiments.show import Row
from pyhelper.core.queue.db import Entry, Worker
from pyhelper.server import protocol as p


def row(value: Row) -> p.ExperimentRow:
    """One table row."""
    return p.ExperimentRow(
        kind=value.kind, name=value.name, rev=value.rev, baseline=value.baseline, created=value.created,
        status=value.status, message=value.message, tags=list(value.tags), note=value.note,
        params=value.params, metrics=value.metrics, deps=dict(value.deps), errors=dict(value.errors),
        step=value.step, starred=value.starred,
    )


def entry(value: Entry) -> p.QueueEntry:
    """One queue entry."""
    return p.QueueEntry(id=value.id, name=value.name, status=value.status, created=value.created,
                        started=value.started, finished=value.finished, error=value.error or "")


def worker(value: Worker) -> p.QueueWorker:
    """One live worker."""
    status = "stopping" if value.stopping else "running" if value.entry else "idle"
    return p.QueueWorker(pid=value.pid, host=value.host, status=status, entry_id=value.entry)
