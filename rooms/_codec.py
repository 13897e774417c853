"""JSON-friendly encoding of the core's frozen dataclasses, driven by their type hints.

Events and commands travel as plain dicts (Redis Streams, WebSocket). Decoding is
strict: a missing or unknown field, or a value of the wrong type, is rejected.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from enum import Enum
from typing import Any

from ._checks import invalid

JSON = None | bool | int | float | str | list["JSON"] | dict[str, "JSON"]


def encode(value: object) -> JSON:
    if isinstance(value, Enum):
        encoded: JSON = value.value
        return encoded
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [encode(item) for item in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"cannot encode {type(value).__name__}")


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def decode_fields(cls: type, raw: dict[str, Any], *, skip: frozenset[str] = frozenset()) -> Any:
    """Build dataclass `cls` from `raw`, checking every field against its type hint."""
    if not isinstance(raw, dict):
        raise invalid(f"{cls.__name__} must be an object")
    hints = _hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = set(raw) - set(fields) - skip
    if unknown:
        raise invalid(f"{cls.__name__}: unknown field(s) {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    for name, f in fields.items():
        if name in raw:
            values[name] = _decode(hints[name], raw[name], f"{cls.__name__}.{name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise invalid(f"{cls.__name__}: missing field {name}")
    return cls(**values)


def _decode(hint: Any, raw: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if raw is None and type(None) in options:
            return None
        (inner,) = [o for o in options if o is not type(None)]
        return _decode(inner, raw, where)
    if origin is tuple:
        item_hint = typing.get_args(hint)[0]
        if not isinstance(raw, list):
            raise invalid(f"{where} must be a list")
        return tuple(_decode(item_hint, item, where) for item in raw)
    if isinstance(hint, type) and issubclass(hint, Enum):
        try:
            return hint(raw)
        except ValueError:
            raise invalid(f"{where}: unknown value {raw!r}") from None
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return decode_fields(hint, raw)
    if hint is float and isinstance(raw, int | float) and not isinstance(raw, bool):
        return float(raw)
    if hint is int and isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if hint in (str, bool) and type(raw) is hint:
        return raw
    raise invalid(f"{where} must be {getattr(hint, '__name__', hint)}, not {type(raw).__name__}")
