"""The language server's sizes and counts (issue 16, item 9): every one bounded, as pyhelper/server/limits.py says.

Framing is attacked with raw bytes on the real `xp serve`'s stdin (a huge, non-numeric, missing or
wrong Content-Length; input ending inside a body); the requests through the real LSP client
(`xp/startQueue` with a billion jobs, over-long strings and lists, pages, a pulled experiment's huge text).
"""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from pygls.exceptions import JsonRpcException

from pyhelper.server import limits
from pyhelper.server import protocol as p
from tests.conftest import GIT_ENV, git
from tests.lsp_client import reproduced_project, request, started


class RawServer:
    """`xp serve` driven by bytes written to its stdin; the frames it writes back are collected."""

    def __init__(self, repo: Path) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "pyhelper", "serve"], cwd=repo,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        env={**os.environ, **GIT_ENV})
        self.messages: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.send(frame({"jsonrpc": "2.0", "id": 0, "method": "initialize",
                         "params": {"capabilities": {}, "rootUri": None}}))
        assert self.answer(0)["result"]["serverInfo"]["name"] == "xp"

    def _read(self) -> None:
        out = self.process.stdout
        assert out is not None
        while True:
            length = 0
            while (line := out.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            if not line:
                return
            self.messages.put(json.loads(out.read(length)))

    def send(self, data: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(data)
        self.process.stdin.flush()

    def answer(self, request_id: int, timeout: float = 30) -> dict[str, Any]:
        """The response to `request_id` (notifications and other answers are passed over)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                message = self.messages.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if message.get("id") == request_id and "method" not in message:
                return message
        raise AssertionError(f"no answer to request {request_id} within {timeout}s; "
                             f"server exit code {self.process.poll()}")

    def close(self) -> tuple[int, str]:
        """Closes stdin; the exit code and what the server wrote on stderr."""
        assert self.process.stdin is not None and self.process.stderr is not None
        self.process.stdin.close()
        code = self.process.wait(timeout=30)
        return code, self.process.stderr.read().decode()

    def warnings_at_exit(self, code: int) -> list[str]:
        """Closes stdin, checks the server exits with `code` and no traceback, and returns its framing warnings."""
        exit_code, stderr = self.close()
        assert exit_code == code, stderr
        assert "Traceback" not in stderr
        return [line for line in stderr.splitlines() if "pyhelper.server.framing" in line]


def frame(message: dict[str, Any], length: int | None = None) -> bytes:
    """One message as a client frames it; `length` overrides its Content-Length."""
    body = json.dumps(message).encode()
    return f"Content-Length: {len(body) if length is None else length}\r\n\r\n".encode() + body


def status(request_id: int) -> dict[str, Any]:
    """A cheap request whose answer shows the server still reads its input."""
    return {"jsonrpc": "2.0", "id": request_id, "method": p.QUEUE_STATUS, "params": {}}


@pytest.fixture
def raw(gen):
    server = RawServer(gen({"params.yaml": "lr: 0.1\n"}))
    yield server
    if server.process.poll() is None:
        server.process.kill()
        server.process.wait()


def test_a_huge_content_length_is_skipped_and_the_next_request_answered(raw):
    # pygls read(99999999999) at once: a MemoryError ended the server.
    raw.send(b"Content-Length: 99999999999\r\n\r\n{}" + frame(status(1)))
    assert raw.answer(1)["result"] == {"entries": [], "workers": []}
    assert raw.warnings_at_exit(0) == [
        "xp serve: WARNING pyhelper.server.framing: skipped a message of 99,999,999,999 bytes: the limit is 16 MiB"]


def test_a_body_over_the_limit_is_answered_with_an_error(raw):
    text = "x" * (limits.MAX_BODY + 1)
    raw.send(frame({"jsonrpc": "2.0", "id": 1, "method": p.NOTE_EXPERIMENT, "params": {"name": "a", "text": text}})
             + frame(status(2)))
    refused = raw.answer(1)["error"]
    assert refused["code"] == p.BAD_INPUT
    assert "the limit is 16 MiB" in refused["message"]
    assert raw.answer(2)["result"] == {"entries": [], "workers": []}


@pytest.mark.parametrize("header", [b"Content-Length: abc\r\n\r\n", b"Content-Length: -5\r\n\r\n",
                                    b"Content-Type: text/plain\r\n\r\n", b"garbage without a header\r\n"])
def test_a_missing_or_non_numeric_length_is_skipped(raw, header):
    raw.send(header + json.dumps(status(1)).encode() + frame(status(2)))
    assert raw.answer(2)["result"] == {"entries": [], "workers": []}
    [line] = raw.warnings_at_exit(0)
    assert "reading on from the next message" in line


def test_a_length_too_short_does_not_leave_the_server_deaf(raw):
    # pygls read the rest of the body as a header, and every later message with it.
    raw.send(frame(status(1), length=10) + frame(status(2)))
    assert raw.answer(2)["result"] == {"entries": [], "workers": []}
    raw.send(frame(status(3)))
    assert raw.answer(3)["result"] == {"entries": [], "workers": []}
    assert len(raw.warnings_at_exit(0)) == 1


@pytest.mark.parametrize("extra", [1, 5, 500])
def test_a_length_too_long_answers_that_request_and_the_next(raw, extra):
    body_length = len(json.dumps(status(1)).encode())
    raw.send(frame(status(1), length=body_length + extra) + frame(status(2)))
    refused = raw.answer(1)["error"]
    assert refused["code"] == p.BAD_INPUT
    assert "does not end where its Content-Length" in refused["message"]
    assert raw.answer(2)["result"] == {"entries": [], "workers": []}


def test_a_body_cut_by_the_end_of_input_exits_with_one_line(raw):
    raw.send(b"Content-Length: 100\r\n\r\n" + b'{"jsonrpc": "2.0"')
    assert raw.warnings_at_exit(1) == [
        "xp serve: WARNING pyhelper.server.framing: the input ended 17 bytes into a message of 100 bytes"]


def test_json_nested_too_deeply_is_refused(raw):
    nested = "[" * 200_000 + "]" * 200_000
    body = f'{{"jsonrpc": "2.0", "id": 1, "method": "{p.QUEUE_STATUS}", "params": {{"x": {nested}}}}}'.encode()
    raw.send(f"Content-Length: {len(body)}\r\n\r\n".encode() + body + frame(status(2)))
    refused = raw.answer(1)["error"]
    assert refused["code"] == -32700 and "nested too deeply" in refused["message"]
    assert raw.answer(2)["result"] == {"entries": [], "workers": []}


# -- requests through the real LSP client --------------------------------------------------------

def queue_workers(repo: Path) -> list[str]:
    """Command lines of `xp queue worker` processes started for `repo`."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        text = " ".join(a.decode(errors="replace") for a in argv)
        if b"queue" in argv and b"worker" in argv and str(repo) in text:
            found.append(text)
    return found


@pytest.mark.asyncio
async def test_start_queue_with_a_billion_jobs_is_refused_at_once(gen):
    repo = gen({"params.yaml": "lr: 0.1\n"})
    async with started(repo) as client:
        # Before: the request was never answered, and workers kept being started.
        billion = await _refusal(client, p.START_QUEUE, p.StartQueueParams(jobs=10**9))
        assert "jobs must be between 1 and 64 (got 1,000,000,000)" in billion.message
        for jobs in (0, -1, 2**60):
            assert "jobs" in (await _refusal(client, p.START_QUEUE, p.StartQueueParams(jobs=jobs))).message
        assert queue_workers(repo) == []


async def _refusal(client, method: str, params: Any) -> JsonRpcException:
    with pytest.raises(JsonRpcException) as caught:
        await request(client, method, params, timeout=10)
    assert caught.value.code == p.BAD_INPUT, caught.value.message
    return caught.value


@pytest.mark.asyncio
async def test_strings_lists_and_pages_are_bounded(gen):
    repo = gen({"params.yaml": "lr: 0.1\n", "dvc.yaml": "stages:\n  train:\n    cmd: echo hi\n    params: [lr]\n"})
    async with started(repo) as client:
        long_tag = await _refusal(client, p.TAG_EXPERIMENT, p.TagExperimentParams(name="a", tags=["t" * 70_000]))
        assert "`tags[0]` is 70,000 characters long; the limit is 65,536" in long_tag.message
        many = await _refusal(client, p.REMOVE_EXPERIMENTS, p.RemoveExperimentsParams(names=["a"] * 1001))
        assert "`names` has 1,001 items; the limit is 1,000" in many.message
        note = await _refusal(client, p.NOTE_EXPERIMENT, p.NoteExperimentParams(name="a", text="n" * 5_000_000))
        assert "`text` is 5,000,000 characters long" in note.message
        page = await _refusal(client, p.SHOW_EXPERIMENTS, p.ShowExperimentsParams(limit=10**6))
        assert "limit must be between 1 and 5,000" in page.message
        offset = await _refusal(client, p.READ_QUEUE_LOG, p.ReadQueueLogParams(name="a", offset=2**70))
        assert "`offset` is out of range" in offset.message
        plots = await _refusal(client, p.PLOTS_DATA, p.PlotsDataParams(revs=[f"r{i}" for i in range(101)]))
        assert "plots draw at most 100" in plots.message
        sweep = await _refusal(client, p.RUN_EXPERIMENT, p.RunExperimentParams(
            params=["lr=range(0,1000000000)"], queue=True))
        assert "has 1,000,000,000 values" in sweep.message
        grid = await _refusal(client, p.RUN_EXPERIMENT, p.RunExperimentParams(
            params=[f"k{i}=range(0,1000)" for i in range(6)]))
        assert "these -S values describe 1000000000000000000 experiments" in grid.message
        # Still answering.
        assert (await request(client, p.QUEUE_STATUS, p.QueueStatusParams())).entries == []


@pytest.mark.asyncio
async def test_a_pulled_experiment_with_huge_text_gives_small_rows(gen, xp, tmp_path):
    repo = reproduced_project(gen, xp, experiments=(("low", "0.05"),))
    ref, rev = git(repo, "for-each-ref", "--format=%(refname) %(objectname)", "refs/exps").split()
    # What a pulled experiment may hold: a commit message of 5 MB, a note written by hand of 500 kB,
    # and a thousand long tags (core bounds the notes and tags it reads; the message is the server's to cut).
    message = tmp_path / "message.txt"
    message.write_text("y" * 5_000_000 + "\n\n" + git(repo, "log", "-1", "--format=%B", rev))
    parents = git(repo, "log", "-1", "--format=%P", rev).split()
    forged = git(repo, "commit-tree", f"{rev}^{{tree}}", *(a for parent in parents for a in ("-p", parent)),
                 "-F", str(message)).strip()
    git(repo, "update-ref", ref, forged)
    note = tmp_path / "note.txt"
    note.write_text("x" * 500_000)
    git(repo, "notes", "--ref=xp", "add", "-f", "-F", str(note), forged)
    head = git(repo, "rev-parse", "HEAD").strip()
    tags = tmp_path / "tags.json"
    tags.write_text(json.dumps({"version": 1, "tags": [f"{i}" + "t" * 299 for i in range(1000)], "note": ""}))
    git(repo, "notes", "--ref=xp", "add", "-f", "-F", str(tags), head)
    async with started(repo) as client:
        rows = (await request(client, p.SHOW_EXPERIMENTS, p.ShowExperimentsParams())).rows
        [low] = [r for r in rows if r.name == "low"]
        assert re.fullmatch(rf"y{{{limits.MAX_TEXT}}}… \[4,9\d\d,\d\d\d more characters\]", low.message)
        assert len(low.note) < limits.MAX_TEXT
        [baseline] = [r for r in rows if r.kind == "baseline"]
        assert len(baseline.tags) <= limits.MAX_TAGS
        assert all(len(t) <= limits.MAX_TAG for t in baseline.tags)
        # One revision's row is bounded the same way.
        shown = (await request(client, p.SHOW_REVISION, p.ShowRevisionParams(rev="low"))).row
        assert len(shown.message) < limits.MAX_TEXT + 50
