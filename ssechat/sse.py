"""The SSE decoder: the WHATWG "Interpreting an event stream" algorithm, bytes in, events out.

Plain and complete: UTF-8 with replacement, one leading BOM dropped, lines
ending at CRLF, LF or CR (a CRLF split across reads is one end), `:`
comments, one leading space of a value dropped, `data` joined with LF, `id`
kept unless it holds NUL, `retry` only when all ASCII digits, a blank line
dispatching. At the end of input a pending event is dispatched
(`dispatch_at_eof=False` gives the spec's drop). Memory is bounded by the
largest single event (`max_event_bytes`). docs/architecture.md says why it is
hand-written; `ssechat.sse_runs` is the batching layer built on top of it.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Iterator
from typing import Final, NamedTuple

from ssechat.errors import EventTooLargeError

DEFAULT_MAX_EVENT_BYTES: Final = 16 * 1024 * 1024
_BOM: Final = codecs.BOM_UTF8


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
    """Feed bytes with `feed()`, finish with `close()`; both return SSE items.

    `feed` is two steps, also used one by one by `ssechat.sse_runs`:
    `normalize` (the BOM and the line ends) then `decode_lines` (the fields).
    """

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
        self._at_start = True  # the BOM may only come first
        self._head = b""  # the first bytes, while they may still be the start of a BOM
        self._skip_lf = False  # the previous read ended in CR: a leading LF ends nothing
        self._partial: list[bytes] = []  # the unterminated last line, in parts
        self._partial_len = 0
        # The data buffer, each line followed by LF: one bytearray, so that a
        # million one-byte `data:` lines cost a million bytes of memory.
        self._data = bytearray()
        self._data_len = 0
        self._event_type = ""
        self._last_id = ""
        self._pending_error: EventTooLargeError | None = None
        # For telling SSE from something else (an HTML page, binary noise).
        self.lines_seen = 0
        self.field_lines_seen = 0
        self.events_dispatched = 0
        # Set by close(): the input ended inside an event (an unterminated line,
        # or fields with no blank line after them). The event dispatched at EOF,
        # if any, is then the last item close() returns.
        self.ended_inside_event = False

    # -- public API -------------------------------------------------------

    def feed(self, chunk: bytes) -> list[Item]:
        """Decode one read of any size; returns the items it completed.

        An event over the size bound raises EventTooLargeError, but only after
        the items completed before it have been returned: nothing is lost.
        """
        if self._pending_error is not None:
            raise self._pending_error
        items: list[Item] = []
        try:
            self.decode_lines(self.normalize(chunk), items)
        except EventTooLargeError as exc:
            if not items:
                raise
            self._pending_error = exc
        return items

    def close(self) -> list[Item]:
        """End of input: flush the pending line and event."""
        if self._pending_error is not None:
            raise self._pending_error
        items: list[Item] = []
        if self._at_start and self._head:  # under three bytes in all, a prefix of the BOM
            self._keep_partial(self._head)
        self._at_start = False
        if self._partial:
            line = b"".join(self._partial)
            self._partial.clear()
            self._partial_len = 0
            self.lines_seen += 1
            self._process_lines([line], items)
        self.ended_inside_event = bool(self._data or self._event_type)
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

    @property
    def between_events(self) -> bool:
        """True when the next byte starts a line of a new event (after `normalize`)."""
        return not (self._partial or self._data or self._event_type)

    # -- step 1: bytes -> LF-terminated lines ------------------------------

    def normalize(self, chunk: bytes) -> bytes:
        """A read with the leading BOM dropped and every line end made one LF.

        A CR at the end of a read ends its line there; an LF that starts the
        next read is then the rest of that CRLF, and dropped.
        """
        if self._at_start:
            chunk = self._head + chunk
            if len(chunk) < len(_BOM) and _BOM.startswith(chunk):
                self._head = chunk
                return b""
            self._at_start = False
            self._head = b""
            if chunk.startswith(_BOM):
                chunk = chunk[len(_BOM) :]
        if self._skip_lf and chunk:
            self._skip_lf = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        if b"\r" in chunk:
            self._skip_lf = chunk[-1:] == b"\r"
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        return chunk

    def decode_lines(self, text: bytes, items: list[Item]) -> None:
        """Append the items that `text` (a `normalize`d read) completes.

        The unterminated last line is kept, in parts, for the next read; an
        event over the size bound raises at once.
        """
        if b"\n" not in text:
            if text:
                self._keep_partial(text)
            return
        lines = text.split(b"\n")
        if self._partial:
            self._partial.append(lines[0])
            lines[0] = b"".join(self._partial)
            self._partial.clear()
            self._partial_len = 0
        tail = lines.pop()
        self.lines_seen += len(lines)
        self._process_lines(lines, items)
        if tail:
            self._keep_partial(tail)

    def _keep_partial(self, part: bytes) -> None:
        self._partial.append(part)
        self._partial_len += len(part)
        if self._partial_len + self._data_len > self.max_event_bytes:
            self._partial.clear()
            self._partial_len = 0
            raise EventTooLargeError(self.max_event_bytes)

    # -- step 2: lines -> fields -> events ----------------------------------

    def _process_lines(self, lines: list[bytes], items: list[Item]) -> None:
        """The spec's per-line steps; a blank line dispatches."""
        data = self._data
        for line in lines:
            if not line:
                if data:
                    self._dispatch(items)
                    data = self._data
                else:
                    self._event_type = ""
                continue
            colon = line.find(b":")
            if colon == 0:
                self.field_lines_seen += 1
                if self.comments:
                    items.append(Comment(_text(line[1:])))
                continue
            if colon < 0:
                field, value = line, b""
            else:
                field = line[:colon]
                value = line[colon + 1 :]
                if value[:1] == b" ":
                    value = value[1:]
            if field == b"data":
                data += value
                data += b"\n"
                self._data_len += len(value) + 1
                if self._data_len > self.max_event_bytes:
                    self._reset_event()
                    raise EventTooLargeError(self.max_event_bytes)
            elif field == b"event":
                self._event_type = _text(value)
            elif field == b"id":
                if b"\0" not in value:
                    self._last_id = _text(value)
            elif field == b"retry":
                if value.isdigit():  # bytes.isdigit: ASCII digits only
                    items.append(Retry(int(value)))
            else:
                continue  # unknown fields are ignored
            self.field_lines_seen += 1

    def _dispatch(self, items: list[Item]) -> None:
        if self._data:
            data = _text(self._data[:-1])
            items.append(Event(self._event_type or "message", data, self._last_id))
            self.events_dispatched += 1
        self._reset_event()

    def _reset_event(self) -> None:
        self._data = bytearray()
        self._data_len = 0
        self._event_type = ""


def _text(raw: bytes | bytearray) -> str:
    return raw.decode("utf-8", "replace")


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
