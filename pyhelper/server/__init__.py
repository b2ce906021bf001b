"""xp's language server (pygls, stdio): every experiment and queue operation as typed JSON-RPC,
change notifications pushed from a watcher, and hovers, diagnostics and completion in the
project's files. Started by `xp serve`. `pyhelper.core` knows nothing of it.
"""

from __future__ import annotations


def build():
    """A server with every feature registered (not started)."""
    from lsprotocol import types as lsp

    from pyhelper.server.features import diagnostics, experiments, language, plots, queue, remotes, run, runs
    from pyhelper.server.server import XpServer

    server = XpServer()

    @server.feature(lsp.INITIALIZE)
    def initialize(ls: XpServer, params: lsp.InitializeParams) -> None:
        ls.set_root(params)
        # The first look is taken before the client hears back, so a change it makes right after
        # `initialize` is seen as a change (and notified once `initialized` arrives).
        ls.watcher.poll()

    @server.feature(lsp.INITIALIZED)
    def initialized(ls: XpServer, params: lsp.InitializedParams) -> None:
        import asyncio

        ls.loop = asyncio.get_running_loop()
        ls.watcher.start()
        ls.thread_pool.submit(_warm_up, ls)

    @server.feature(lsp.SHUTDOWN)
    def shutdown(ls: XpServer, params: None) -> None:
        ls.watcher.stop()
        ls.log_followers.stop_all()

    for feature in (experiments, run, runs, remotes, queue, language, diagnostics, plots):
        feature.register(server)
    return server


def _warm_up(ls) -> None:
    """Builds the experiments table in the background, so the editor's first listing finds it ready."""
    import contextlib

    from pyhelper.errors import XpError

    with contextlib.suppress(XpError, OSError):  # Not a project (yet): the requests will say so.
        ls.table.rows(ls.project(), ls.watcher.poll())
    # The panels' modules too (~50 ms of imports), after the table: the first Plots is not slower than the next.
    import pyhelper.core.experiments.compare  # noqa: F401
    import pyhelper.core.plots.across  # noqa: F401
    import pyhelper.core.plots.collect  # noqa: F401
    import pyhelper.core.plots.templates  # noqa: F401


def serve() -> int:
    """Runs the server over stdin/stdout until the client exits or disappears; returns the exit code."""
    import logging
    import os
    import sys

    logging.basicConfig(level=os.environ.get("XP_SERVER_LOG", "WARNING").upper(), stream=sys.stderr,
                        format="xp serve: %(levelname)s %(name)s: %(message)s")
    # The protocol gets its own copy of stdout; file descriptor 1 then points at stderr, so that
    # nothing else (a library's print, a child process that inherits it) can corrupt the stream.
    protocol_out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    server = build()
    import gc

    # Everything imported so far lives as long as the server: keep the collector from walking it,
    # and let it run less often (a table of 1,000 rows allocates many small objects).
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)
    try:
        server.start_io(sys.stdin.buffer, protocol_out)
    finally:
        server.watcher.stop()
        server.log_followers.stop_all()
    return server.exit_code
