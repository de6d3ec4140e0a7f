"""stdout's lines: one JSON line (`json_line`), the line writer, and the flush policy.

Every command that streams writes through a `LineWriter`, so the flush
policy of docs/design.md ("Flushing, streams and exit statuses") lives in
one place: `auto` flushes after every event unless all input comes from
regular files (saved logs go at full speed, live streams get no added
latency), `event` always flushes, `never` only at the end. This module is
all `parse-sse --events` needs of the output side (start-up time: the
normalized events and their writers are `ssechat.normalized`).
"""

from __future__ import annotations

from enum import Enum
from typing import IO, Any

import orjson


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


_dumps = orjson.dumps
_NEWLINE = orjson.OPT_APPEND_NEWLINE


def json_line(obj: Any) -> bytes:
    """One compact UTF-8 JSON line (no ASCII escaping, key order kept)."""
    try:
        return _dumps(obj, option=_NEWLINE)
    except TypeError:
        # orjson refuses integers past 64 bits and lone surrogates (from JSON
        # escapes such as "\ud800"); the standard library writes both, with
        # escapes so the line stays valid UTF-8.
        import json  # here, not at the top: start-up time (the fallback is rare)

        return (json.dumps(obj, separators=(",", ":")) + "\n").encode("ascii")


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
