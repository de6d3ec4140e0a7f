"""JSON parsing that says "invalid" for input too deep to parse, never crashes.

Every place ssechat reads JSON from outside (events, HTTP error bodies,
option files, repair-json lines, the replay log) parses it here: orjson
first (fast; it refuses nesting past 1024 levels), then the standard library
for what only it reads (lone surrogate escapes, NaN), whose RecursionError on
deep input becomes the ValueError of any invalid JSON.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

_orjson_loads = orjson.loads
_JSONDecodeError = orjson.JSONDecodeError


class TooDeepError(ValueError):
    """JSON nested deeper than can be parsed: invalid JSON, as far as ssechat goes."""


def loads(data: str | bytes | bytearray) -> Any:
    """The JSON value of `data`; ValueError when it is not JSON or nested too deeply."""
    try:
        return _orjson_loads(data)
    except _JSONDecodeError:
        return stdlib_loads(data)


def stdlib_loads(data: str | bytes | bytearray, **options: Any) -> Any:
    """`json.loads(data, **options)`, with too-deep input a ValueError (TooDeepError)."""
    try:
        return json.loads(data, **options)
    except RecursionError:
        raise TooDeepError("JSON nested too deeply to parse") from None
