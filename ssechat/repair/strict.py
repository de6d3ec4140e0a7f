"""Strict JSON in and out: the fast path of valid input, and the writer of results.

`loads_strict` parses valid JSON as given (orjson, the standard library where
the two differ) and says `INVALID` for anything else; every stage checks its
output with it. `dumps` writes a repaired value as repair-json prints it.
"""

from __future__ import annotations

import json
from typing import Any, Final

import orjson

from ssechat.repair.result import RepairError

INVALID: Final = object()
"""What `loads_strict` returns for text that is not valid JSON."""

_DIGITS_TO_ZERO: Final = bytes.maketrans(b"123456789", b"000000000")
_LONG_DIGITS: Final = b"0" * 19


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def loads_strict(text: str | bytes) -> Any:
    """The parsed value of valid JSON (no NaN/Infinity), else `INVALID`.

    orjson first (fast); the standard library only where orjson differs:
    integers past 64 bits (orjson makes them floats, losing digits), escaped
    lone surrogates and nesting past orjson's depth limit, which are valid.
    """
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        if not any(word in str(exc) for word in ("surrogate", "depth")):
            return INVALID
    else:
        data = text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
        if data.translate(_DIGITS_TO_ZERO).find(_LONG_DIGITS) < 0:  # no 19-digit run
            return value
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return INVALID


def dumps(value: Any, *, indent: int | None = None, ensure_ascii: bool = False) -> bytes:
    """The repaired value as UTF-8 JSON text, compact unless `indent` is given."""
    if indent is None and not ensure_ascii:
        try:
            return orjson.dumps(value)
        except TypeError:
            pass  # integers past 64 bits, lone surrogates: the standard library below
    separators = (",", ": ") if indent is not None else (",", ":")
    try:
        text = json.dumps(
            value, indent=indent, ensure_ascii=ensure_ascii, separators=separators, allow_nan=False
        )
    except ValueError as exc:  # a number out of float range (1e400) has no JSON form
        raise RepairError(f"cannot write the result as JSON: {exc}") from None
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a "\ud800" escape: keep it escaped
        return json.dumps(value, indent=indent, separators=separators).encode("ascii")
