"""The wire format of xp's custom messages: camelCase JSON, strict types, `null` kept.

lsprotocol's converter renames fields of any attrs class to camelCase but drops fields that hold
their default (so `nextCursor: null` would vanish) and coerces types (`"10"` becomes 10, any
string a bool). xp's own types are registered here with hooks of their own: every field is
written, and what a client sends must have the declared JSON type, or the request fails with
"invalid params" naming the field. A request's params are also bounded (`limits.py`: string
length, list length, whole numbers JSON holds exactly); beyond a bound it fails as bad input.
"""

from __future__ import annotations

import functools
import types as pytypes
import typing
from typing import Any

import attrs
import cattrs


class WireError(TypeError):
    """A message field has the wrong JSON type, or a required field is missing."""


class WireLimit(WireError):
    """A request's field is well-formed but over one of `limits.py`'s bounds."""


def camel(name: str) -> str:
    """`next_cursor` → `nextCursor` (a trailing `_`, as in `filter_`, is dropped)."""
    head, *rest = name.rstrip("_").split("_")
    return head + "".join(part.title() for part in rest)


_JSON_NAMES = {str: "a string", int: "a whole number", float: "a number", bool: "true or false",
               list: "a list", dict: "an object"}


def _check(value: Any, tp: Any, where: str, bounded: bool = False) -> Any:
    """`value` (decoded JSON) as type `tp`, or a `WireError` naming `where`; `bounded` also checks `limits.py`."""
    if bounded:
        _bound(value, where)
    if tp is Any:
        return value
    origin = typing.get_origin(tp)
    if origin in (typing.Union, pytypes.UnionType):
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _check(value, option, where, bounded)
            except WireError as exc:
                errors.append(str(exc))
        raise WireError(errors[0] if len(errors) == 1 else f"`{where}` has the wrong type")
    if origin is typing.Literal:
        allowed = typing.get_args(tp)
        if value not in allowed:
            raise WireError(f"`{where}` must be one of {', '.join(repr(a) for a in allowed)}, not {value!r}")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise WireError(f"`{where}` must be a list, not {_json_type(value)}")
        (item,) = typing.get_args(tp) or (Any,)
        return [_check(v, item, f"{where}[{i}]", bounded) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise WireError(f"`{where}` must be an object, not {_json_type(value)}")
        _, item = typing.get_args(tp) or (str, Any)
        return {k: _check(v, item, f"{where}.{k}", bounded) for k, v in value.items()}
    if attrs.has(tp):
        return structure(value, tp, where, bounded=bounded)
    if tp is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return float(value) if ok else _wrong(value, tp, where)
    if tp is int:
        return value if isinstance(value, int) and not isinstance(value, bool) else _wrong(value, tp, where)
    if tp in (str, bool):
        return value if isinstance(value, tp) else _wrong(value, tp, where)
    raise WireError(f"`{where}`: xp cannot read a field of type {tp!r}")


def _bound(value: Any, where: str) -> None:
    """Refuses a string, list or whole number over `limits.py`'s bounds (before its type is looked at)."""
    from pyhelper.server import limits

    if isinstance(value, str) and len(value) > limits.MAX_STRING:
        raise WireLimit(f"`{where}` is {len(value):,} characters long; the limit is {limits.MAX_STRING:,}")
    if isinstance(value, (list, dict)) and len(value) > limits.MAX_ITEMS:
        raise WireLimit(f"`{where}` has {len(value):,} items; the limit is {limits.MAX_ITEMS:,}")
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > limits.MAX_INT:
        raise WireLimit(f"`{where}` is out of range; whole numbers must lie within ±{limits.MAX_INT:,}")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    for tp in (bool, int, float, str, list, dict):
        if isinstance(value, tp):
            return _JSON_NAMES[tp]
    return type(value).__name__


def _wrong(value: Any, tp: type, where: str) -> Any:
    raise WireError(f"`{where}` must be {_JSON_NAMES.get(tp, tp.__name__)}, not {_json_type(value)} ({value!r})")


@functools.cache
def _fields(cls: type) -> tuple[tuple[str, str, Any, bool], ...]:
    """(name, wire name, type, required) of each field, worked out once per class."""
    hints = typing.get_type_hints(cls)
    return tuple((f.name, camel(f.name), hints[f.name], f.default is attrs.NOTHING) for f in attrs.fields(cls))


def structure(data: Any, cls: type, where: str = "params", *, bounded: bool = False) -> Any:
    """An instance of the attrs class `cls` from decoded JSON, checking every field's type (and bounds)."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise WireError(f"`{where}` must be an object, not {_json_type(data)}")
    kwargs = {}
    for name, wire, hint, required in _fields(cls):
        path = wire if where == "params" else f"{where}.{wire}"
        if wire in data:
            kwargs[name] = _check(data[wire], hint, path, bounded)
        elif required:
            raise WireError(f"`{path}` is required")
    return cls(**kwargs)


def unstructure(value: Any) -> Any:
    """Plain JSON data for an xp wire value: camelCase keys, every field present."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, dict):
        return value  # Mappings on the wire hold plain JSON data (params and metrics values).
    if isinstance(value, (list, tuple)):
        return [unstructure(v) for v in value]
    cls: type = type(value)
    if attrs.has(cls):
        return {wire: unstructure(getattr(value, name)) for name, wire, _, _ in _fields(cls)}
    return value


def register(converter: cattrs.Converter, classes: typing.Iterable[type],
             bounded: typing.Iterable[type] = ()) -> cattrs.Converter:
    """Makes `converter` read and write `classes` with the strict camelCase hooks above; what it reads
    as one of `bounded` (a request's params) is also held to `limits.py`'s bounds."""
    chosen = frozenset(classes)
    limited = frozenset(bounded)
    converter.register_structure_hook_func(
        lambda cls: cls in chosen, lambda data, cls: structure(data, cls, bounded=cls in limited))
    converter.register_unstructure_hook_func(lambda cls: cls in chosen, unstructure)
    return converter
