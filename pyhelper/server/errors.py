"""The one place where xp's errors become JSON-RPC errors (the server's edge).

The message is the same one line the CLI prints after `error: ` (what, where, the fix); the code
says which kind: -32001 bad input, -32002 the operation failed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pygls.exceptions import JsonRpcException

from pyhelper.errors import BadInput, XpError
from pyhelper.server.protocol import BAD_INPUT, OPERATION_FAILED


class XpRpcError(JsonRpcException):
    """A JSON-RPC error carrying an xp application code."""


def rpc_error(exc: XpError) -> XpRpcError:
    """The JSON-RPC error for an xp error."""
    code = BAD_INPUT if isinstance(exc, BadInput) else OPERATION_FAILED
    return XpRpcError(message=exc.one_line(), code=code)


def translated(handler: Callable[..., Any]) -> Callable[..., Any]:
    """Wraps a request handler so that the xp errors it raises reach the client as JSON-RPC errors."""

    def wrapper(ls: Any, params: Any) -> Any:  # pygls passes the server to a first parameter named `ls`.
        try:
            return handler(ls, params)
        except XpError as exc:
            raise rpc_error(exc) from None
        except OSError as exc:  # The repository vanished under the server, a disk is full...
            raise XpRpcError(message=f"{exc.filename or 'xp'}: {exc.strerror or exc}", code=OPERATION_FAILED) from None

    wrapper.__name__ = handler.__name__
    wrapper.__doc__ = handler.__doc__
    return wrapper
