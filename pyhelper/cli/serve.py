"""`xp serve`: the language server editors start (JSON-RPC over stdio)."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`xp serve` takes no options: the editor talks to it over stdin/stdout."""
    parser.set_defaults(handler="serve:serve")


def serve(args: argparse.Namespace) -> int:
    """Runs the language server until the client says exit or goes away."""
    from pyhelper.server import serve as run_server

    return run_server()
