"""The incremental SSE decoder: bytes in any chunking in, SSE events out.

This is the WHATWG HTML "Interpreting an event stream" algorithm
(https://html.spec.whatwg.org/multipage/server-sent-events.html), and the one
decoder every ssechat command uses. It is written by hand on purpose: the
Python libraries we tried fall short of the spec in ways that lose data on
real captures. sseclient-py raises UnicodeDecodeError and stops on a single
invalid UTF-8 byte, keeps no last-event-id across events, does not strip the
BOM and accepts any `retry` value; others split lines on every character that
`str.splitlines` knows (U+2028, form feed...) where the spec splits only on
CR, LF and CRLF. Where a library and the spec disagree, the spec wins here.

The spec, as implemented:

- the stream is UTF-8, decoded with replacement; one leading BOM is dropped;
- lines end at CRLF, LF or CR, and a CRLF split across two reads is one end;
- a line starting with `:` is a comment (reported only when asked for, since
  capture annotations live in comments);
- `field: value` loses exactly one leading space of the value;
- `data` lines are joined with LF; `event` sets the type (default `message`);
- `id` sets the last event id unless it contains NUL, and the id persists
  across events; `retry` counts only when all ASCII digits;
- a blank line dispatches; an empty data buffer dispatches nothing.

One documented extension (DESIGN.md section 2): at the end of input a pending
event is dispatched as if the blank line had come, because saved captures
often lack it. `Decoder(dispatch_at_eof=False)` gives the spec's behaviour.

Memory is bounded by the largest single event (`max_event_bytes`), never by
the stream: a line without an end is kept as a list of parts, so a 50 MB line
fed in small reads costs linear time, not quadratic.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Iterator
from typing import Final, NamedTuple

from ssechat.errors import EventTooLargeError

DEFAULT_MAX_EVENT_BYTES: Final = 16 * 1024 * 1024
_BOM: Final = "\ufeff"


class Event(NamedTuple):
    """A dispatched SSE event. `id` is the last event id at dispatch time."""

    event: str
    data: str
    id: str


class Retry(NamedTuple):
    """A valid `retry` field (milliseconds), reported where it was read."""

    milliseconds: int


class Comment(NamedTuple):
    """A comment line, without its leading colon (only with `comments=True`)."""

    text: str


Item = Event | Retry | Comment


class Decoder:
    """Feed bytes with `feed()`, finish with `close()`; both return SSE items."""

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
        self._utf8 = codecs.getincrementaldecoder("utf-8")("replace")
        self._at_start = True  # the BOM may only come first
        self._skip_lf = False  # the previous read ended in CR: a leading LF ends nothing
        self._partial: list[str] = []  # the unterminated last line, in parts
        self._partial_len = 0
        self._data: list[str] = []
        self._data_len = 0
        self._event_type = ""
        self._last_id = ""
        self._pending_error: EventTooLargeError | None = None
        # For telling SSE from something else (an HTML page, binary noise).
        self.lines_seen = 0
        self.field_lines_seen = 0
        self.events_dispatched = 0

    # -- public API -------------------------------------------------------

    def feed(self, chunk: bytes) -> list[Item]:
        """Decode one read of any size; returns the items it completed.

        An event over the size bound raises EventTooLargeError, but only after
        the items completed before it have been returned: nothing is lost.
        """
        self._raise_pending()
        items: list[Item] = []
        try:
            self._feed_text(self._utf8.decode(chunk), items)
        except EventTooLargeError as exc:
            if not items:
                raise
            self._pending_error = exc
        return items

    def close(self) -> list[Item]:
        """End of input: flush the UTF-8 decoder and the pending line/event."""
        self._raise_pending()
        items: list[Item] = []
        self._feed_text(self._utf8.decode(b"", final=True), items)
        if self._partial:
            line = "".join(self._partial)
            self._partial.clear()
            self._partial_len = 0
            self._process_lines([line], items)
        if self.dispatch_at_eof:
            self._dispatch(items)
        self._reset_event()
        return items

    @property
    def last_event_id(self) -> str:
        """The last event id seen so far (for reconnecting with Last-Event-ID)."""
        return self._last_id

    @property
    def looks_like_sse(self) -> bool:
        """False when the input so far had lines but none was an SSE field or comment."""
        return self.lines_seen == 0 or self.field_lines_seen > 0

    # -- internals --------------------------------------------------------

    def _raise_pending(self) -> None:
        if self._pending_error is not None:
            raise self._pending_error

    def _feed_text(self, text: str, items: list[Item]) -> None:
        if not text:
            return
        if self._at_start:
            self._at_start = False
            if text[0] == _BOM:
                text = text[1:]
        if self._skip_lf:
            self._skip_lf = False
            if text[:1] == "\n":
                text = text[1:]
                if not text:
                    return
        if "\r" in text:
            self._skip_lf = text[-1] == "\r"
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        if "\n" not in text:
            self._keep_partial(text)
            return
        lines = text.split("\n")
        if self._partial:
            self._partial.append(lines[0])
            lines[0] = "".join(self._partial)
            self._partial.clear()
            self._partial_len = 0
        tail = lines.pop()
        self._process_lines(lines, items)
        if tail:
            self._keep_partial(tail)

    def _keep_partial(self, text: str) -> None:
        self._partial.append(text)
        self._partial_len += len(text)
        if self._partial_len + self._data_len > self.max_event_bytes:
            self._partial.clear()
            self._partial_len = 0
            raise EventTooLargeError(self.max_event_bytes)

    def _process_lines(self, lines: list[str], items: list[Item]) -> None:
        data = self._data
        self.lines_seen += len(lines)
        for line in lines:
            if not line:
                if data:
                    self._dispatch(items)
                    data = self._data
                else:
                    self._event_type = ""
                continue
            colon = line.find(":")
            if colon == 0:
                self.field_lines_seen += 1
                if self.comments:
                    items.append(Comment(line[1:]))
                continue
            if colon < 0:
                field, value = line, ""
            else:
                field = line[:colon]
                value = line[colon + 1 :]
                if value[:1] == " ":
                    value = value[1:]
            if field == "data":
                data.append(value)
                self._data_len += len(value) + 1
                if self._data_len > self.max_event_bytes:
                    self._reset_event()
                    raise EventTooLargeError(self.max_event_bytes)
            elif field == "event":
                self._event_type = value
            elif field == "id":
                if "\0" not in value:
                    self._last_id = value
            elif field == "retry":
                if value.isdigit() and value.isascii():
                    items.append(Retry(int(value)))
            else:
                continue  # unknown fields are ignored
            self.field_lines_seen += 1

    def _dispatch(self, items: list[Item]) -> None:
        if self._data:
            items.append(Event(self._event_type or "message", "\n".join(self._data), self._last_id))
            self.events_dispatched += 1
        self._reset_event()

    def _reset_event(self) -> None:
        self._data = []
        self._data_len = 0
        self._event_type = ""


def decode(
    chunks: Iterable[bytes],
    *,
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
    dispatch_at_eof: bool = True,
    comments: bool = False,
) -> Iterator[Item]:
    """Decode a whole stream given as an iterable of byte chunks."""
    decoder = Decoder(
        max_event_bytes=max_event_bytes, dispatch_at_eof=dispatch_at_eof, comments=comments
    )
    for chunk in chunks:
        yield from decoder.feed(chunk)
    yield from decoder.close()
