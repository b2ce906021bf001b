"""The language server object: pygls' LanguageServer with xp's protocol, project and caches.

Features live in `features/` (one module per area), each with a `register(server)` function;
this module only holds what they share.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import threading
from pathlib import Path
from typing import Any, BinaryIO

from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcInternalError, JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol, lsp_method
from pygls.uris import to_fs_path

from pyhelper import __version__
from pyhelper.core.project import Project, find_project
from pyhelper.server import protocol

logger = logging.getLogger(__name__)


class XpProtocol(LanguageServerProtocol):
    """LSP plus xp's typed custom messages and its version in `initialize`."""

    # pygls caches these two with lru_cache; a plain method is called just the same.
    def get_message_type(self, method: str) -> Any:  # type: ignore[override]
        """The envelope of an xp message, else lsprotocol's."""
        return protocol.MESSAGE_TYPES.get(method) or super().get_message_type(method)

    def get_result_type(self, method: str) -> Any:  # type: ignore[override]
        """The response envelope of an xp request, else lsprotocol's."""
        return protocol.RESPONSE_TYPES.get(method) or super().get_result_type(method)

    def structure_message(self, data: dict[str, Any]) -> Any:
        """Decodes a message; a request whose params have the wrong types is answered with an error.

        pygls raises out of the JSON decoder for such a request and never answers it, which
        would leave the client waiting forever.
        """
        try:
            return super().structure_message(data)
        except (JsonRpcInvalidParams, JsonRpcInternalError) as exc:
            if "id" not in data or "method" not in data:
                raise
            from lsprotocol.types import ResponseError

            from pyhelper.server.wire import WireLimit

            found = _wire_error(exc)
            reason = str(found) if found else ""
            if isinstance(found, WireLimit):  # Well-formed but too big: refused as bad input.
                error = ResponseError(code=protocol.BAD_INPUT, message=f"{data['method']}: {reason}")
            elif reason or isinstance(exc, JsonRpcInvalidParams):
                reason = reason or "the params do not have the declared types"
                error = ResponseError(code=JsonRpcInvalidParams.CODE, message=f"{data['method']}: {reason}")
            else:
                error = ResponseError(code=JsonRpcInternalError.CODE,
                                      message=f"{data['method']}: cannot read the request")
            self._send_response(data["id"], error=error)
            return _Answered()

    def handle_message(self, message: Any) -> None:
        """Skips requests already answered while decoding."""
        if isinstance(message, _Answered):
            return
        super().handle_message(message)

    @lsp_method(lsp.INITIALIZE)
    def lsp_initialize(self, params: lsp.InitializeParams):
        """pygls' initialize, plus `capabilities.experimental.xpProtocolVersion`."""
        result = yield from super().lsp_initialize(params)
        result.capabilities.experimental = {"xpProtocolVersion": protocol.PROTOCOL_VERSION}
        return result


class _Answered:
    """Stands for a message that needs no further handling."""

    jsonrpc = "answered"


def _wire_error(exc: BaseException) -> BaseException | None:
    """The first `WireError` inside a (nested) cattrs validation error."""
    from pyhelper.server.wire import WireError

    stack: list[BaseException] = [exc]
    while stack:
        current = stack.pop()
        if isinstance(current, WireError):
            return current
        stack.extend(getattr(current, "exceptions", ()))
        for linked in (current.__cause__, current.__context__):
            if linked is not None:
                stack.append(linked)
    return None


class XpServer(LanguageServer):
    """xp's language server: one project (the workspace root), a warm table, a watcher, log followers."""

    def __init__(self) -> None:
        super().__init__("xp", __version__, protocol_cls=XpProtocol, converter_factory=protocol.converter,
                         max_workers=8)
        self.root = Path.cwd()
        self.loop: asyncio.AbstractEventLoop | None = None
        from pyhelper.server.queue_logs import LogFollowers
        from pyhelper.server.table import Table
        from pyhelper.server.watcher import Watcher

        self.table = Table()
        self.watcher = Watcher(lambda: self.root, self.send_notification)
        self.log_followers = LogFollowers()
        """Queue logs followed for the client (`xp/followQueueLog`)."""
        self.lock = threading.Lock()
        self.exit_code = 0
        self.diagnosed: set[str] = set()
        """Files the client has diagnostics of from us (sent empty ones when they have none left)."""

    def start_io(self, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> None:
        """pygls' stdio server, reading frames with xp's bounded reader (`framing.py`) instead of pygls' own."""
        from pygls.io_ import StdoutWriter

        from pyhelper.server import framing

        self._stop_event = threading.Event()
        self.protocol.set_writer(StdoutWriter(stdout or sys.stdout.buffer))
        try:
            self.exit_code = asyncio.run(framing.serve(stdin or sys.stdin.buffer, self.protocol, self._stop_event))
        except BrokenPipeError:
            logger.error("the connection to the client is lost; stopping")
        except (KeyboardInterrupt, SystemExit):
            pass
        finally:
            self.shutdown()

    def project(self) -> Project:
        """The project at the root (looked up each time: `git init` may happen while the server runs)."""
        return find_project(self.root)

    def set_root(self, params: lsp.InitializeParams) -> None:
        """Takes the project folder from the client (rootUri, first workspace folder), else the cwd.

        A helper started in a folder inside the client's (a DVC project of a monorepo, chosen in the
        extension's project picker) keeps that folder: it is the project the person chose.
        """
        uri = params.root_uri or (params.workspace_folders[0].uri if params.workspace_folders else None)
        path = (to_fs_path(uri) if uri else None) or params.root_path
        if not path:
            return
        chosen, cwd = Path(path).resolve(), Path.cwd().resolve()
        self.root = cwd if chosen in cwd.parents else Path(path)

    def send_notification(self, method: str, params: Any) -> None:
        """Sends a notification from any thread (written by the event loop's thread)."""
        self.call(self.protocol.notify, method, params)

    def call(self, function: Any, *args: Any) -> None:
        """Runs `function(*args)` on the event loop's thread (progress, messages from worker threads)."""
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(function, *args)

    def rel(self, uri: str) -> str | None:
        """A document's path relative to the root, or None when it lies elsewhere."""
        path = to_fs_path(uri)
        if not path:
            return None
        try:
            return Path(path).resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return None
