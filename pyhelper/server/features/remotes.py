"""Where outputs go: the project's remote storage, for the editor's status bar (`xp remote list`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pyhelper.core.credentials import redact
from pyhelper.server import protocol as p
from pyhelper.server.errors import translated
from pyhelper.server.limits import cut

if TYPE_CHECKING:
    from pyhelper.server.server import XpServer


def list_remotes(ls: XpServer, params: p.ListRemotesParams) -> p.ListRemotesResult:
    """`xp remote list`: names, redacted urls and the default; never the options, which may hold secrets.

    A config file that does not parse raises core's BadInput naming its file and line (-32001 on the wire)."""
    from pyhelper.core.remotes.config import read_remotes

    project = ls.project()
    found = read_remotes(project)
    # The files are a teammate's (they come with `git pull`): the default's name is sent cut, like any text.
    return p.ListRemotesResult(
        default=cut(found.default) if found.default is not None else None,
        remotes=[p.RemoteInfo(name=remote.name, url=cut(redact(remote.url)), is_default=remote.name == found.default)
                 for remote in sorted(found.remotes.values(), key=lambda r: r.name)],
        files=[str(project.root / rel) for rel in found.files],
    )


HANDLERS: dict[str, Callable[..., Any]] = {
    p.LIST_REMOTES: list_remotes,
}


def register(server: XpServer) -> None:
    """Registers the remote-storage request, run on a worker thread (it reads files)."""
    for method, handler in HANDLERS.items():
        server.feature(method)(server.thread()(translated(handler)))
