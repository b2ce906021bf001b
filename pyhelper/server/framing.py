"""The server's stdin: JSON-RPC frames read with bounded sizes, and found again after a bad one.

pygls 2.1.1 reads a `Content-Length` header and then `stdin.read(length)` in one call: a huge
length is a MemoryError that ends the server, and a wrong one puts it out of step for good (every
later message is read as part of a header, so nothing is answered again). xp reads its own frames:

- a body is at most `limits.MAX_BODY` bytes, a header block at most `limits.MAX_HEADER`;
- after anything that is not a well-formed frame, reading goes on at the next `Content-Length:
  N\\r\\n`. That text can never occur inside a valid JSON body (a raw CR is not allowed in a JSON
  string, and the header's words are not JSON outside one), so finding it is safe. A wrong length
  shows: the body read does not end as a JSON object ends, or the next header is inside it;
- a request refused this way is answered with an error when its id can be read in its first bytes,
  so the client does not wait for ever; each refusal is one line on stderr;
- input ending inside a message ends the server with one line (exit 1), which the extension sees
  as a crash and answers by starting the helper again.

Frames are cut on a daemon thread (reads block) and handed one at a time to the event loop, which
handles them as pygls' own loop does.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import re
import threading
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from pygls.exceptions import JsonRpcException

from pyhelper.server import limits
from pyhelper.server.protocol import BAD_INPUT

logger = logging.getLogger(__name__)

PARSE_ERROR = -32700
"""JSON-RPC's code for a body that is not JSON."""

_LENGTH = re.compile(rb"Content-Length:[ \t]{0,16}(\d{1,20})[ \t]{0,16}\r\n", re.IGNORECASE)
_TAIL = 64
"""Bytes kept from the end of skipped input: the start of a header cut by a read."""
_HEADER_LINES = re.compile(rb"(?:[!-9;-~]+:[^\r\n]*\r\n)*")
"""Header lines before `Content-Length` in the same block (`Content-Type: …`): not junk."""
_ID = re.compile(rb'"id"\s*:\s*(-?\d{1,16}|"[^"\\]{0,256}")')
_CHUNK = 1 << 16


@dataclass(frozen=True)
class Refused:
    """Input that was not read as a message: why (one line), and the id of its request when known."""

    reason: str
    request_id: int | str | None = None
    code: int = BAD_INPUT
    final: bool = False
    """The input ended: nothing more will come."""


Frame = bytes | Refused


def frames(read: Callable[[int], bytes]) -> Iterator[Frame]:
    """The bodies of the frames `read` delivers, and a `Refused` for each piece of input that is not one."""
    buf = bytearray()
    eof = False
    skipped = 0  # Bytes dropped while looking for a header, said once the next header is found.
    told = False  # The bytes being skipped belong to a frame already refused (said once).

    def fill() -> bool:
        nonlocal eof
        if eof:
            return False
        chunk = read(_CHUNK)
        if not chunk:
            eof = True
            return False
        buf.extend(chunk)
        return True

    while True:
        header = _LENGTH.search(buf)
        if header is None:
            if eof:
                if skipped + len(buf.strip()):
                    yield Refused(f"skipped {skipped + len(buf):,} bytes that were not a message, then the input ended",
                                  final=True)
                return
            if len(buf) > _TAIL:
                skipped += len(buf) - _TAIL
                del buf[:-_TAIL]
            fill()
            continue
        if header.start():
            prefix = bytes(buf[:header.start()])
            if skipped or (prefix.strip() and not _HEADER_LINES.fullmatch(prefix)):
                if not told:
                    what = "a Content-Length that is not a number of bytes" if b"content-length" in prefix.lower() \
                        else "bytes that were not a message"
                    yield Refused(f"skipped {skipped + len(prefix):,} bytes ({what}); reading on from the next message")
                skipped = 0
                del buf[:header.start()]
                continue
        told = False
        end = buf.find(b"\r\n\r\n", header.end() - 2)
        if end < 0 and len(buf) - header.start() <= limits.MAX_HEADER:
            if not fill():
                yield Refused("the input ended inside a message's header", final=True)
                return
            continue
        if end < 0 or end - header.start() > limits.MAX_HEADER:
            yield Refused(f"skipped a header block over {limits.MAX_HEADER:,} bytes")
            told = True
            del buf[:header.end()]
            continue
        length = int(header.group(1))
        del buf[:end + 4]
        body = _skip_body if length > limits.MAX_BODY else _body
        outcome = yield from body(buf, fill, length)
        if outcome is _ENDED:
            return
        told = outcome is _REFUSED


_READ, _REFUSED, _ENDED = "read", "refused", "ended"
"""How reading one body went: a body was yielded; it was refused (what follows it is part of it); the input ended."""


def _body(buf: bytearray, fill: Callable[[], bool], length: int) -> Generator[Frame, None, str]:
    """The body of `length` bytes at the start of `buf`, or why there is none; returns how it went."""
    scanned = 0
    while True:
        stop = min(len(buf), length)
        inside = _LENGTH.search(buf, max(0, scanned - _TAIL), stop)
        if inside is not None or len(buf) >= length:
            body = bytes(buf[:length])
            if inside is None and _framed(body):
                del buf[:length]
                yield body
                return _READ
            # The length is wrong: the next message's header is where this body should be, or the body
            # is cut in the middle. Reading goes on from the body's first byte (the next header may be inside).
            yield Refused(f"a message's body does not end where its Content-Length ({length:,} bytes) says; "
                          f"skipped it", request_id=request_id(body[:4096]))
            return _REFUSED
        scanned = stop
        if not fill():
            yield Refused(f"the input ended {len(buf):,} bytes into a message of {length:,} bytes", final=True)
            return _ENDED


def _framed(body: bytes) -> bool:
    """Whether `body` starts and ends as a JSON object or array does (a cheap check that its length was right)."""
    return body[:64].lstrip()[:1] in (b"{", b"[") and body[-64:].rstrip()[-1:] in (b"}", b"]")


def _skip_body(buf: bytearray, fill: Callable[[], bool], length: int) -> Generator[Frame, None, str]:
    """Drops a body over the limit, to its end or to the next header if one comes first; returns how it went."""
    # Said once its first bytes are here (the request's id is among them), or the next header, or the end.
    while len(buf) < min(length, 4096) and not _LENGTH.search(buf) and fill():
        pass
    yield Refused(f"skipped a message of {length:,} bytes: the limit is {limits.MAX_BODY // 2**20} MiB",
                  request_id=request_id(bytes(buf[:4096])))
    dropped = 0
    while True:
        inside = _LENGTH.search(buf)
        if inside is not None and dropped + inside.start() < length:
            del buf[:inside.start()]
            return _READ
        if dropped + len(buf) >= length:
            del buf[:length - dropped]
            return _READ
        keep = min(_TAIL, len(buf))
        dropped += len(buf) - keep
        del buf[:len(buf) - keep]
        if not fill():
            yield Refused(f"the input ended inside the message of {length:,} bytes", final=True)
            return _ENDED


def request_id(head: bytes) -> int | str | None:
    """The id of the request whose body starts with `head`, when it comes before its params (as clients write it)."""
    before = head.split(b'"params"', 1)[0]
    found = _ID.search(before)
    if found is None or before[:found.start()].count(b"{") != 1:
        return None
    try:
        value = json.loads(found.group(1))
    except ValueError:
        return None
    return value if isinstance(value, (int, str)) else None


async def serve(stdin: BinaryIO, protocol: Any, stop: threading.Event) -> int:
    """Hands every frame on `stdin` to `protocol` until the input ends; 1 when it ended inside a message."""
    loop = asyncio.get_running_loop()
    ended: asyncio.Future[int] = loop.create_future()
    read = _raw_reader(stdin)

    def reader() -> None:
        code = 0
        try:
            for frame in frames(read):
                if stop.is_set():
                    break
                if isinstance(frame, Refused) and frame.final:
                    code = 1
                # One at a time, in order: the next frame is read once this one is handled.
                asyncio.run_coroutine_threadsafe(_deliver(protocol, frame), loop).result()
        except BaseException as exc:  # The loop stopped (`exit` ends it with SystemExit), or stdin broke.
            logger.debug("stopped reading stdin: %r", exc)
        finally:
            with contextlib.suppress(RuntimeError):  # The loop is closed already.
                loop.call_soon_threadsafe(_end, ended, code)

    threading.Thread(target=reader, name="xp-stdin", daemon=True).start()
    return await ended


def _raw_reader(stdin: BinaryIO) -> Callable[[int], bytes]:
    """Reads of at most N bytes, straight from the file descriptor when there is one: a daemon thread
    blocked inside a buffered reader holds its lock, which can stop the interpreter from exiting."""
    try:
        return functools.partial(os.read, stdin.fileno())
    except (AttributeError, OSError, ValueError):  # Not a real file (an in-memory stream).
        return getattr(stdin, "read1", stdin.read)


def _end(ended: asyncio.Future[int], code: int) -> None:
    if not ended.done():
        ended.set_result(code)


async def _deliver(protocol: Any, frame: Frame) -> None:
    """Handles one frame on the event loop, as pygls' reading loop would; a refusal is logged (and answered)."""
    if isinstance(frame, Refused):
        _refuse(protocol, frame)
        return
    try:
        message = json.loads(frame, object_hook=protocol.structure_message)
    except (ValueError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        _refuse(protocol, Refused(f"a message is not valid JSON ({reason}); skipped it",
                                  request_id=request_id(frame[:4096]), code=PARSE_ERROR))
        return
    except Exception as exc:  # pygls could not decode the message (it has logged why).
        logger.warning("could not read a message: %s", exc)
        return
    try:
        protocol.handle_message(message)
    except Exception as exc:
        logger.exception("Unable to handle message")
        protocol._server._report_server_error(exc, JsonRpcException)


def _refuse(protocol: Any, refused: Refused) -> None:
    """One line on stderr, and an error answer to the request when its id is known."""
    logger.warning("%s", refused.reason)
    if refused.request_id is None:
        return
    from lsprotocol.types import ResponseError

    protocol._send_response(refused.request_id, error=ResponseError(code=refused.code,
                                                                    message=f"xp serve: {refused.reason}"))
