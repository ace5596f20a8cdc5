"""Terraform values on the wire: cty's msgpack encoding, with unknown values.

An object is a map of every attribute name to its value (``None`` for null). A value not known
until apply is the ``UNKNOWN`` sentinel.
"""

from __future__ import annotations

import json
from typing import Any, Final

import msgpack

__all__ = ["UNKNOWN", "Object", "Unknown", "decode", "encode", "is_known"]


class Unknown:
    """A value Terraform will only know after apply."""

    _instance: Unknown | None = None

    def __new__(cls) -> Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __deepcopy__(self, memo: dict[int, Any]) -> Unknown:
        return self


UNKNOWN: Final = Unknown()
Object = dict[str, Any]

# cty encodes an unknown as msgpack extension 0 (and a refined unknown as extension 12).
_UNKNOWN_CODES: Final = frozenset({0, 12})
_UNKNOWN_ENCODED: Final = msgpack.ExtType(0, b"\x00")


def is_known(value: Any) -> bool:
    return value is not UNKNOWN


def _ext_hook(code: int, data: bytes) -> Any:
    if code in _UNKNOWN_CODES:
        return UNKNOWN
    return msgpack.ExtType(code, data)


def _default(value: Any) -> Any:
    if value is UNKNOWN:
        return _UNKNOWN_ENCODED
    raise TypeError(f"cannot encode a {type(value).__name__} as a Terraform value")


def decode(dynamic_value: Any) -> Any:
    """A ``tfplugin6.DynamicValue`` as Python (``None`` when empty or null)."""
    if dynamic_value.msgpack:
        return msgpack.unpackb(dynamic_value.msgpack, ext_hook=_ext_hook, raw=False)
    if dynamic_value.json:
        return json.loads(dynamic_value.json)
    return None


def encode(value: Any) -> bytes:
    """msgpack bytes for a ``tfplugin6.DynamicValue``."""
    packed: bytes = msgpack.packb(value, default=_default, use_bin_type=True)
    return packed
