"""Output: the JSON-lines encoding of events and the writer with its flush policy.

Every command that streams writes through `LineWriter`, so the flush policy
of DESIGN.md section 4 lives in one place: `auto` flushes after every event
unless all input comes from regular files (saved logs go at full speed, live
streams get no added latency), `event` always flushes, `never` only at the end.
"""

from __future__ import annotations

import json
from enum import Enum
from typing import IO, Any

import orjson

from ssechat.sse import Event, Retry


class FlushPolicy(str, Enum):
    """When the writer flushes stdout."""

    AUTO = "auto"
    EVENT = "event"
    NEVER = "never"

    def flushes_each_event(self, *, input_is_regular_file: bool) -> bool:
        """Whether to flush after every event for input of this kind."""
        if self is FlushPolicy.AUTO:
            return not input_is_regular_file
        return self is FlushPolicy.EVENT


def json_line(obj: Any) -> bytes:
    """One compact UTF-8 JSON line (no ASCII escaping, key order kept)."""
    try:
        return orjson.dumps(obj, option=orjson.OPT_APPEND_NEWLINE)
    except TypeError:
        # orjson refuses integers past 64 bits and lone surrogates (from JSON
        # escapes such as "\ud800"); the standard library writes both, with
        # escapes so the line stays valid UTF-8.
        return (json.dumps(obj, separators=(",", ":")) + "\n").encode("ascii")


def raw_event_line(item: Event | Retry) -> bytes:
    """The `parse-sse --events` line of DESIGN.md section 2."""
    if isinstance(item, Retry):
        return json_line({"retry": item.milliseconds})
    if item.id:
        return json_line({"event": item.event, "data": item.data, "id": item.id})
    return json_line({"event": item.event, "data": item.data})


class LineWriter:
    """Writes encoded lines to a binary stream, flushing as the policy says."""

    def __init__(self, stream: IO[bytes], *, flush_each: bool) -> None:
        self.stream = stream
        self.flush_each = flush_each

    def write(self, lines: list[bytes]) -> None:
        """Write the lines that one read of input produced, as one batch."""
        if not lines:
            return
        self.stream.write(b"".join(lines))
        if self.flush_each:
            self.stream.flush()

    def flush(self) -> None:
        self.stream.flush()
