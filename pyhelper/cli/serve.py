"""`xp serve`: the language server editors start (JSON-RPC over stdio)."""

from __future__ import annotations

import argparse


def serve(args: argparse.Namespace) -> int:
    """Runs the language server until the client says exit or goes away."""
    from pyhelper.server import serve as run_server

    return run_server()
