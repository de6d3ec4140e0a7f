"""NDJSON input (Ollama's native API): one JSON object per line, each line an event.

Ollama's `/api/chat` and `/api/generate` stream newline-delimited JSON, not
SSE. Each non-blank line becomes one `sse.Event` of type `message` whose data
is the line, so the dialects read it like an SSE event's data. A last line
without its line end is dispatched at the end of input, as `sse.Decoder`
does with an event that lacks its blank line, and `ended_inside_event` says
so: the pipeline reads it when it is whole JSON (a saved body may lack the
final newline), and takes it for the cut otherwise. Lines that start with
`:` are SSE-style comments (the annotations of `send --save` captures):
`Comment` items when asked for, as `sse.Decoder` gives them, else skipped.
"""

from __future__ import annotations

from ssechat.errors import EventTooLargeError
from ssechat.sse import DEFAULT_MAX_EVENT_BYTES, Comment, Event, Item


def _event(line: bytes) -> Event:
    return Event("message", line.decode("utf-8", "replace").strip(), "")


def _comment(line: bytes) -> Comment:
    return Comment(line.decode("utf-8", "replace").strip()[1:])


class NdjsonDecoder:
    """Feed bytes with `feed()`, finish with `close()`: the interface of `sse.Decoder`."""

    looks_like_sse = True  # the input was recognised as NDJSON: never "not SSE"
    last_event_id = ""

    def __init__(
        self,
        *,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        dispatch_at_eof: bool = True,
        comments: bool = False,
    ) -> None:
        self.max_event_bytes = max_event_bytes
        self.dispatch_at_eof = dispatch_at_eof
        self.comments = comments
        self.events_dispatched = 0
        self.ended_inside_event = False
        self._parts: list[bytes] = []  # the unterminated last line, in parts (no quadratic joins)
        self._length = 0

    def feed(self, chunk: bytes) -> list[Item]:
        """The events of the lines that `chunk` completes."""
        if b"\n" not in chunk:
            self._keep(chunk)
            return []
        lines = chunk.split(b"\n")
        if self._parts:
            lines[0] = b"".join(self._parts) + lines[0]
            self._parts, self._length = [], 0
        self._keep(lines.pop())
        return self._items(lines)

    def _items(self, lines: list[bytes]) -> list[Item]:
        items: list[Item] = []
        for line in lines:
            line = line.strip()
            if line[:1] == b":":
                if self.comments:
                    items.append(_comment(line))
            elif line:
                items.append(_event(line))
                self.events_dispatched += 1
        return items

    def _keep(self, part: bytes) -> None:
        if part:
            self._parts.append(part)
            self._length += len(part)
            if self._length > self.max_event_bytes:
                raise EventTooLargeError(self.max_event_bytes)

    def close(self) -> list[Item]:
        """End of input: a last line without its line end (see the module docstring)."""
        line = b"".join(self._parts).strip()
        self._parts, self._length = [], 0
        self.ended_inside_event = bool(line) and line[:1] != b":"
        if not line or not (self.dispatch_at_eof or line[:1] == b":"):
            return []
        return self._items([line])
