"""A queue entry's log followed through a real client: `xp/followQueueLog` answers with the log so far, a
real worker runs the entry, and what it prints arrives as `xp/queueLogUpdated` until a last one with `done`.

The stage prints three lines, then waits for a gate file the test creates, then prints three more: the
test sees the first lines arrive while the entry runs without depending on how fast anything is.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from pyhelper.server import protocol as p
from tests.conftest import train_stage
from tests.lsp_client import notification, refused, request, started

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(180)]

TALK = """
import json, os, re, sys, time
tag = re.search(r"tag: (\\w+)", open("params.yaml").read()).group(1)
gate = os.path.join({gates!r}, "open-" + tag)
for i in range(3):
    print(f"{{tag}} line {{i}}", flush=True)
deadline = time.time() + 120
while not os.path.exists(gate) and time.time() < deadline:
    time.sleep(0.05)
for i in range(3, 6):
    print(f"{{tag}} line {{i}} é", flush=True)
json.dump({{"lines": 6}}, open("metrics.json", "w"))
"""


@pytest.fixture
def project(gen, tmp_path: Path) -> Path:
    """A one-stage project whose stage talks, waits for `gates/open-<tag>`, and talks again."""
    gates = tmp_path / "gates"
    gates.mkdir()
    return gen({"dvc.yaml": train_stage("talk.py", params=["tag"], metrics=["metrics.json"]),
                "params.yaml": "tag: none\n", "talk.py": TALK.format(gates=str(gates))})


def _open_gate(project: Path, tag: str) -> None:
    (project.parent / "gates" / f"open-{tag}").write_text("")


def _updates(client, entry_id: str, after: float = 0.0) -> list[p.QueueLogUpdatedParams]:
    return [params for arrived, method, params in client.xp_notifications
            if method == p.QUEUE_LOG_UPDATED and params.entry_id == entry_id and arrived >= after]


async def _queue(client, tag: str) -> str:
    queued = await request(client, p.RUN_EXPERIMENT, p.RunExperimentParams(params=[f"tag={tag}"], name=tag,
                                                                           queue=True))
    assert queued.names == [tag]
    return tag


async def _status(client, name: str, wanted: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        entries = (await request(client, p.QUEUE_STATUS, p.QueueStatusParams())).entries
        if any(e.name == name and e.status == wanted for e in entries):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{name} is not {wanted} after {timeout}s")


async def test_a_followed_log_arrives_in_order_while_it_runs_and_ends_with_done(project):
    async with started(project) as client:
        await _queue(client, "alpha")
        answer = await request(client, p.FOLLOW_QUEUE_LOG, p.FollowQueueLogParams(entry="alpha"))
        assert (answer.name, answer.status, answer.done) == ("alpha", "queued", False)
        assert answer.offset == len(answer.text.encode())
        await request(client, p.START_QUEUE, p.StartQueueParams(jobs=1))
        # The first lines come while the stage waits at its gate: the entry is running.
        _, early = await notification(client, p.QUEUE_LOG_UPDATED, timeout=60,
                                      where=lambda u: "alpha line 2" in "".join(
                                          x.text for x in _updates(client, answer.entry_id)))
        running = _updates(client, answer.entry_id)
        assert running[-1].status == "running" and not any(u.done for u in running)
        _open_gate(project, "alpha")
        _, last = await notification(client, p.QUEUE_LOG_UPDATED, timeout=120,
                                     where=lambda u: u.entry_id == answer.entry_id and u.done)
        assert (last.status, last.reason) == ("success", "")
        await asyncio.sleep(1)  # Nothing comes after `done`.
        updates = _updates(client, answer.entry_id)
        assert updates[-1] is last and [u.done for u in updates].count(True) == 1
        # Each notification starts where the previous one (or the answer) ended; together they are the log.
        offset = answer.offset
        for update in updates:
            assert update.start == offset
            offset = update.offset
        text = answer.text + "".join(u.text for u in updates)
        assert offset == len(text.encode())
        lines = [line for line in text.splitlines() if " line " in line]
        assert lines == [f"alpha line {i}" for i in range(3)] + [f"alpha line {i} é" for i in range(3, 6)]
        # Following a finished entry: all of it in the answer, and nothing follows.
        again = await request(client, p.FOLLOW_QUEUE_LOG, p.FollowQueueLogParams(entry=answer.entry_id))
        assert (again.text, again.offset, again.status, again.done) == (text, offset, "success", True)
        cut = text.index("alpha line 5")
        later = await request(client, p.FOLLOW_QUEUE_LOG, p.FollowQueueLogParams(
            entry="alpha", offset=len(text[:cut].encode())))
        assert (later.text, later.done) == (text[cut:], True)
        # readQueueLog, kept for other callers, reads the same log.
        read = await request(client, p.READ_QUEUE_LOG, p.ReadQueueLogParams(name="alpha"))
        assert (read.text, read.next_offset, read.status) == (text, offset, "success")
        await request(client, p.STOP_QUEUE, p.StopQueueParams())


async def test_unfollow_stops_the_notifications(project):
    async with started(project) as client:
        await _queue(client, "beta")
        answer = await request(client, p.FOLLOW_QUEUE_LOG, p.FollowQueueLogParams(entry="beta"))
        await request(client, p.START_QUEUE, p.StartQueueParams(jobs=1))
        await notification(client, p.QUEUE_LOG_UPDATED, timeout=60,
                           where=lambda u: "beta line 2" in "".join(x.text for x in _updates(client, answer.entry_id)))
        unfollowed = await request(client, p.UNFOLLOW_QUEUE_LOG, p.UnfollowQueueLogParams(entry_id=answer.entry_id))
        assert unfollowed.followed
        after = time.monotonic()
        # The log grows and the entry finishes after the answer: none of it is pushed any more.
        _open_gate(project, "beta")
        await _status(client, "beta", "success")
        await asyncio.sleep(1)
        assert _updates(client, answer.entry_id, after=after) == []
        again = await request(client, p.UNFOLLOW_QUEUE_LOG, p.UnfollowQueueLogParams(entry_id=answer.entry_id))
        assert not again.followed
        await request(client, p.STOP_QUEUE, p.StopQueueParams())


async def test_a_removed_entry_ends_its_follow_with_a_reason(project, xp):
    async with started(project) as client:
        await _queue(client, "gamma")
        answer = await request(client, p.FOLLOW_QUEUE_LOG, p.FollowQueueLogParams(entry="gamma"))
        assert answer.status == "queued" and not answer.done
        xp("queue", "remove", "gamma", cwd=project)
        _, last = await notification(client, p.QUEUE_LOG_UPDATED, timeout=30,
                                     where=lambda u: u.entry_id == answer.entry_id and u.done)
        assert last.reason == "the entry was removed from the queue"


async def test_following_is_bounded_and_refuses_unknown_entries(project):
    async with started(project) as client:
        message = await refused(client, p.FOLLOW_QUEUE_LOG, p.FollowQueueLogParams(entry="nope"))
        assert "nope" in message
        assert "offset must be 0 or more" in await refused(
            client, p.FOLLOW_QUEUE_LOG, p.FollowQueueLogParams(entry="nope", offset=-1))
        queued = await request(client, p.RUN_EXPERIMENT, p.RunExperimentParams(
            params=["tag=range(0,33)"], name="many", queue=True))
        ids = [(await request(client, p.FOLLOW_QUEUE_LOG, p.FollowQueueLogParams(entry=name))).entry_id
               for name in queued.names[:32]]
        assert "32 queue logs are followed already" in await refused(
            client, p.FOLLOW_QUEUE_LOG, p.FollowQueueLogParams(entry=queued.names[32]))
        # Following one again replaces its follower (no new one counted); unfollowing one makes room.
        await request(client, p.FOLLOW_QUEUE_LOG, p.FollowQueueLogParams(entry=queued.names[0]))
        assert (await request(client, p.UNFOLLOW_QUEUE_LOG, p.UnfollowQueueLogParams(entry_id=ids[0]))).followed
        await request(client, p.FOLLOW_QUEUE_LOG, p.FollowQueueLogParams(entry=queued.names[32]))

