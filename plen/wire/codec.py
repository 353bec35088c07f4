"""Wire dataclasses <-> JSON.

Every wire message is a frozen, slotted, keyword-only dataclass. ``encode`` turns one into
plain JSON values; ``decode`` builds one back, following the type hints, and rejects unknown
fields so a typo on either side fails loudly instead of being ignored.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import types
import typing
from typing import Any, TypeVar

from plen.wire.errors import ErrorCode, WireError

T = TypeVar("T")


def encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {k: encode(v) for k, v in value.items()}
    return value


def dumps(value: Any) -> bytes:
    return json.dumps(encode(value), separators=(",", ":")).encode()


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def decode(cls: type[T], data: Any) -> T:
    try:
        return _decode(cls, data)
    except WireError:
        raise
    except (TypeError, ValueError, KeyError) as exc:
        raise WireError(ErrorCode.INVALID, f"malformed {getattr(cls, '__name__', cls)}: {exc}")


def _decode(tp: Any, data: Any) -> Any:
    origin = typing.get_origin(tp)
    if tp is Any:
        return data
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if data is None and type(None) in args:
            return None
        last_error: Exception | None = None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _decode(arg, data)
            except (TypeError, ValueError, KeyError) as exc:
                last_error = exc
        raise TypeError(f"no variant of {tp} matches: {last_error}")
    if origin is list or origin is tuple:
        if not isinstance(data, list):
            raise TypeError(f"expected a list, got {type(data).__name__}")
        (arg, *_) = typing.get_args(tp) or (Any,)
        items = [_decode(arg, v) for v in data]
        return items if origin is list else tuple(items)
    if origin is dict:
        if not isinstance(data, dict):
            raise TypeError(f"expected an object, got {type(data).__name__}")
        _, vt = typing.get_args(tp) or (str, Any)
        return {str(k): _decode(vt, v) for k, v in data.items()}
    if dataclasses.is_dataclass(tp):
        if not isinstance(data, dict):
            raise TypeError(f"expected an object for {tp.__name__}")
        hints = _hints(tp)
        names = {f.name for f in dataclasses.fields(tp)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown fields {sorted(unknown)} for {tp.__name__}")
        kwargs = {name: _decode(hints[name], value) for name, value in data.items()}
        return tp(**kwargs)
    if typing.get_origin(tp) is typing.Literal:
        if data not in typing.get_args(tp):
            raise ValueError(f"{data!r} is not one of {typing.get_args(tp)}")
        return data
    supertype = getattr(tp, "__supertype__", None)  # NewType
    if supertype is not None:
        return _decode(supertype, data)
    if tp is float and isinstance(data, int) and not isinstance(data, bool):
        return float(data)
    if tp in (int, float, str, bool):
        if not isinstance(data, tp) or (tp is int and isinstance(data, bool)):
            raise TypeError(f"expected {tp.__name__}, got {type(data).__name__}")
        return data
    if tp is type(None):
        if data is not None:
            raise TypeError("expected null")
        return None
    raise TypeError(f"cannot decode {tp!r}")


def loads(cls: type[T], raw: bytes | str) -> T:
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise WireError(ErrorCode.INVALID, f"body is not JSON: {exc}")
    return decode(cls, data)
