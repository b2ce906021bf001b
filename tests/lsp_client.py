"""A real LSP client (pytest-lsp, VS Code's recorded capabilities) driving the real `xp serve`.

`started(repo)` runs `python -m pyhelper serve` in `repo`, initializes it as VS Code 1.65 would
and yields the client; xp's notifications are recorded with the time they arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException
from pygls.uris import from_fs_path
from pytest_lsp import LanguageClient, LanguageClientProtocol, client_capabilities
from pytest_lsp.client import register_lsp_features

from pyhelper.server import protocol
from tests.conftest import GIT_ENV

VSCODE = "visual-studio-code"


class XpClientProtocol(LanguageClientProtocol):
    """The client side of xp's typed messages (results are checked against protocol.py)."""

    def get_message_type(self, method: str) -> Any:
        return protocol.MESSAGE_TYPES.get(method) or super().get_message_type(method)

    def get_result_type(self, method: str) -> Any:
        return protocol.RESPONSE_TYPES.get(method) or super().get_result_type(method)


def make_client(*, typed: bool = True) -> LanguageClient:
    """A test client; `typed=False` sends and receives plain JSON (for malformed requests)."""
    kwargs: dict[str, Any] = {}
    if typed:
        kwargs = {"protocol_cls": XpClientProtocol, "converter_factory": protocol.converter}
    else:
        from pygls.protocol import default_converter

        kwargs = {"converter_factory": default_converter}
    client = LanguageClient(**kwargs)
    register_lsp_features(client)
    client.xp_notifications = []  # type: ignore[attr-defined]

    for method in protocol.NOTIFICATIONS:
        def record(params: Any, method: str = method) -> None:
            client.xp_notifications.append((time.monotonic(), method, params))  # type: ignore[attr-defined]

        client.feature(method)(record)
    return client


async def initialize(client: LanguageClient, repo: Path) -> lsp.InitializeResult:
    """The initialize handshake VS Code does, rooted at `repo`."""
    uri = from_fs_path(str(repo))
    return await client.initialize_session(lsp.InitializeParams(
        capabilities=client_capabilities(VSCODE), root_uri=uri,
        workspace_folders=[lsp.WorkspaceFolder(uri=uri, name=repo.name)],
    ))


@contextlib.asynccontextmanager
async def started(repo: Path, *, typed: bool = True,
                  python: tuple[str, ...] = ("-m", "pyhelper")) -> AsyncIterator[LanguageClient]:
    """A client connected to `xp serve` running in `repo` (shut down cleanly afterwards).

    `python` is what starts xp before the `serve` argument: a test may wrap it (e.g. `-c` code that
    limits the server's memory first).
    """
    client = make_client(typed=typed)
    await client.start_io(sys.executable, *python, "serve", cwd=str(repo), env={**os.environ, **GIT_ENV})
    client.init_result = await initialize(client, repo)  # type: ignore[attr-defined]
    try:
        yield client
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.shutdown_session(), 10)
        await client.stop()


async def request(client: LanguageClient, method: str, params: Any, timeout: float = 30) -> Any:
    """Sends a request and waits for its result (a JSON-RPC error is raised)."""
    return await asyncio.wait_for(client.protocol.send_request_async(method, params), timeout)


async def refused(client: LanguageClient, method: str, params: Any, code: int = protocol.BAD_INPUT) -> str:
    """Sends a request that must be answered with a JSON-RPC error of `code`; returns the error's message."""
    with pytest.raises(JsonRpcException) as caught:
        await request(client, method, params)
    assert caught.value.code == code, caught.value
    return caught.value.message


async def notification(client: LanguageClient, method: str, *, after: float = 0.0, timeout: float = 10,
                       where: Any = None) -> tuple[float, Any]:
    """(arrival time, params) of the first `method` notification that arrived after `after`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for arrived, name, params in list(client.xp_notifications):  # type: ignore[attr-defined]
            if name == method and arrived >= after and (where is None or where(params)):
                return arrived, params
        await asyncio.sleep(0.02)
    raise AssertionError(f"no {method} notification within {timeout}s; got {client.xp_notifications}")  # type: ignore[attr-defined]


def open_document(client: LanguageClient, path: Path, text: str | None = None, version: int = 1) -> str:
    """Tells the server a file is open in the editor; returns its URI."""
    uri = from_fs_path(str(path))
    language = {".yaml": "yaml", ".yml": "yaml", ".json": "json", ".toml": "toml"}.get(path.suffix, "plaintext")
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(text_document=lsp.TextDocumentItem(
        uri=uri, language_id=language, version=version, text=path.read_text() if text is None else text)))
    return uri


def change_document(client: LanguageClient, uri: str, text: str, version: int) -> None:
    """Replaces an open document's whole text (as one full-content change)."""
    client.text_document_did_change(lsp.DidChangeTextDocumentParams(
        text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=text)]))


def reproduced_project(gen, xp, *, experiments: tuple[tuple[str, str], ...] = ()) -> Path:
    """tests.test_experiments.PROJECT reproduced and committed, plus experiments (name, train.lr) made by the CLI."""
    from tests.conftest import git
    from tests.test_experiments import PROJECT

    repo = gen(PROJECT)
    xp("repro", cwd=repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "reproduced")
    for name, lr in experiments:
        xp("exp", "run", "-q", "-n", name, "-S", f"train.lr={lr}", cwd=repo)
    return repo


THREE_EXPERIMENTS = (("low", "0.05"), ("mid", "0.2"), ("high", "0.3"))
"""The experiments most server tests start from."""
