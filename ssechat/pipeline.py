"""The normalizing pipeline: bytes -> SSE decoder -> dialect -> sink.

One object per input stream, fed bytes as they arrive (`feed`), finished
with `close()`, which reports the `Outcome` the exit status is computed
from. `parse-sse` drives it from files and stdin; `send` drives the very same
object from the HTTP body, so both normalize alike. The sink (`Sink`) is a
writer of `ssechat.normalized` or the summary of `ssechat.summary`.

Around the decoder and the dialect, it handles what real inputs carry besides
SSE (`ssechat.envelope`: `curl -i` headers, a JSON error body), detects the
dialect of each response, and falls back to `--events` lines, with one
warning, for a stream no dialect recognises. The common case (a known
dialect, no timing) reads a read's events from the decoder's batching layer
(`ssechat.sse_runs`), a run as an `EventBatch` that the dialect's
templates may take whole; docs/architecture.md follows a byte through it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import repeat
from typing import Any, Final, cast

from ssechat import dialects
from ssechat.capture import parse_header, parse_time
from ssechat.dialects.base import Dialect
from ssechat.dialects.fields import error_fields
from ssechat.dialects.templates import EventBatch
from ssechat.envelope import QUOTE, Body, HttpHead
from ssechat.event_lines import raw_event_line
from ssechat.inputs import InputDecoder
from ssechat.jsonload import loads
from ssechat.normalized import TRUNCATED, NormalizedEvent, Sink, error_event
from ssechat.sse import DEFAULT_MAX_EVENT_BYTES, Comment, Event, Item, Retry
from ssechat.sse_runs import EventRun, expand_runs, segments

PENDING_LIMIT: Final = 16  # events that tell nothing, kept while the dialect is unknown


def _ignore(message: str) -> None:
    pass


class Outcome:
    """What one input stream held, for the exit status and the messages.

    Not a dataclass: making one compiles its methods, start-up time here.
    """

    def __init__(self) -> None:
        self.dialect: str | None = None
        self.recognized = True
        self.responses = 0
        self.errors = 0
        self.truncated = 0
        self.bad_calls = 0
        self.http_status: int | None = None
        self.first_error: str | None = None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Outcome) and vars(self) == vars(other)


class Pipeline:
    """Normalize one input stream: `feed(bytes)` as it arrives, then `close()`.

    `sink` receives the normalized events (`write`), or `--events` lines
    (`raw`) when no dialect recognises the stream. A `timed` sink (the
    summary) gets `write_timed(events, seconds)` once per SSE event instead,
    with the events it gave (perhaps none) and its arrival time: from
    capture annotations when the input has them, else from `clock`
    (seconds since the request, or since the pipeline started for live
    input), else None. What no SSE event gave (the end of input, a JSON error
    body) always goes to `write`.
    """

    def __init__(
        self,
        sink: Sink,
        *,
        dialect: str | None = None,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        dispatch_at_eof: bool = True,
        clock: Callable[[], float] | None = None,
        warn: Callable[[str], None] = _ignore,
        name: str = "<stdin>",
    ) -> None:
        self.sink = sink
        self.warn = warn
        self.name = name
        self._timed = sink.timed
        # The format (SSE, NDJSON, AWS event stream) is told by the first bytes.
        self.decoder = InputDecoder(
            max_event_bytes=max_event_bytes,
            dispatch_at_eof=dispatch_at_eof,
            comments=sink.timed,  # capture annotations carry the arrival times
        )
        self.dialect: Dialect | None = dialects.create(dialect) if dialect else None
        self.forced = dialect is not None  # --dialect: never detected anew
        self._ended: list[Dialect] = []  # dialects of earlier responses (a mixed log)
        self.raw_mode = False
        self.clock = clock
        self.now: float | None = None
        self._annotated = False
        self._pending: list[Event | Retry] = []
        self._head: HttpHead | None = HttpHead()  # until HTTP headers are ruled out
        self._body: Body | None = Body()  # until an event comes: a JSON body?
        self.outcome = Outcome()

    # -- input -----------------------------------------------------------------

    def feed(self, chunk: bytes) -> None:
        """Decode and normalize one read of input, and write what it completes."""
        if self.clock is not None and not self._annotated:
            self.now = self.clock()
        if self._head is not None:
            chunk = self._skip_http_head(chunk, final=False)
            if not chunk:
                return
        if self._body is not None:
            self._body.keep(chunk)
        items = self.decoder.feed_runs(chunk)
        if items:
            self._items(items)

    def continue_response(self) -> None:
        """The input goes on over a new connection (`send`'s continuation).

        A fresh decoder, since the old stream may have been cut inside an
        event; the same dialect, told to `resume` its open response, so that
        the output stays one response (one `start`, one `done`).
        """
        old = self.decoder
        self.decoder = InputDecoder(
            max_event_bytes=old.max_event_bytes,
            dispatch_at_eof=old.dispatch_at_eof,
            comments=old.comments,
        )
        if self.dialect is not None:
            self.dialect.resume()

    def close(self) -> Outcome:
        """End of input: finish the open response and report the outcome."""
        cut, began = self._end_of_input()
        if self.dialect is None and not self.raw_mode:
            if self._pending:
                self._fall_back(None)
            elif self.decoder.events_dispatched == 0 and not cut:
                self._no_events()
        dialect = self.dialect
        if dialect is not None:
            truncated = dialect.truncated
            out: list[NormalizedEvent] = []
            dialect.close(out, cut=cut)
            self._emit(out)
            began = began and dialect.truncated == truncated  # else said already
            self._tally([*self._ended, dialect])
        if began:
            # Cut inside an event that no open response was waiting for (the
            # first event of the next response, or of an unknown stream).
            self.outcome.truncated += 1
            self._emit([error_event("the input ended inside an event (truncated)", TRUNCATED)])
        return self.outcome

    def _end_of_input(self) -> tuple[bool, bool]:
        """The last items through: (cut inside an event, that event began a response).

        A cut event (`_is_cut`) is dropped; it began a response when it is
        JSON, not `[DONE]`.
        """
        if self._head is not None:
            rest = self._skip_http_head(b"", final=True)
            if rest:
                if self._body is not None:
                    self._body.keep(rest)
                self._items(self.decoder.feed(rest))
        tail = self.decoder.close()
        cut = self.decoder.ended_inside_event and self._is_cut(tail)
        began = False
        if cut:
            text = tail.pop().data.lstrip()  # type: ignore[union-attr]
            began = text[:1] == "{" or (text[:1] == "[" and not "[DONE]".startswith(text))
        self._items(tail)
        return cut, began

    def _tally(self, responses: list[Dialect]) -> None:
        """The outcome: what the dialects of the input's responses counted."""
        outcome = self.outcome
        for each in responses:
            outcome.dialect = outcome.dialect or each.name
            outcome.responses += each.responses
            outcome.errors += each.errors
            outcome.truncated += each.truncated
            outcome.bad_calls += each.bad_calls
            outcome.first_error = outcome.first_error or each.first_error

    def _is_cut(self, tail: list[Item]) -> bool:
        """Whether the event dispatched at the end of input is a cut-off part of one.

        The decoder dispatches an event left without its blank line (saved
        captures often lack it). When its data is not whole JSON (nor the
        `[DONE]` marker), the input was cut inside it: that event is the cut
        itself, dropped (never reported as invalid JSON), and the open
        response is truncated.
        A stream that no dialect reads may carry plain text: only what began
        as JSON counts there.
        """
        if not tail or type(tail[-1]) is not Event:
            return False
        text = tail[-1].data.strip()
        if text == "[DONE]":
            return False
        if (self.dialect is None or self.raw_mode) and text[:1] not in ("{", "["):
            return False
        try:
            loads(text)
        except ValueError:
            return True
        return False

    # -- the event loop ----------------------------------------------------------

    def _items(self, items: Sequence[Item | EventRun]) -> None:
        """A read's items: each segment to the dialect in one call, the rest one by one."""
        if self._body is not None and self.decoder.events_dispatched:
            self._body = None
        dialect = self.dialect
        if dialect is None or self._timed or self.raw_mode:
            self._items_slow(expand_runs(items))
            return
        out: list[NormalizedEvent] = []
        for segment in segments(items):
            events = _as_events(segment)
            # Between responses, the next event is detected anew (a mixed log).
            rest = events if not self.forced and dialect.between() else dialect.feed(events, out)
            if rest:
                self._emit(out)
                out = []
                self._items_slow(list(rest))
                dialect = self.dialect
                assert dialect is not None
        self._emit(out)

    def _items_slow(self, items: list[Item]) -> None:
        """Detection, timing annotations and the raw fallback: one item at a time."""
        raw_lines: list[bytes] = []
        batch: list[NormalizedEvent] = []
        for item in items:
            if type(item) is Comment:
                self._comment(item.text)
                continue
            if self.raw_mode:
                raw_lines.append(raw_event_line(item))  # type: ignore[arg-type]
                continue
            if self.dialect is None and not self._detect(item):  # type: ignore[arg-type]
                continue
            if type(item) is not Event:
                continue
            dialect = self.dialect
            assert dialect is not None
            if not self.forced and dialect.between():
                dialect = self._redetect(item, batch)
            out: list[NormalizedEvent] = []
            dialect.feed((item,), out)
            if self._timed:
                self.sink.write_timed(out, self.now)
            else:
                batch.extend(out)
        if raw_lines:
            self.sink.raw(raw_lines)
        if batch:
            self.sink.write(batch)

    def _redetect(self, item: Event, batch: list[NormalizedEvent]) -> Dialect:
        """Between responses: the dialect of the next one, if `item` tells another."""
        dialect = self.dialect
        assert dialect is not None
        name = dialects.detect(item)
        if name is None or name == dialect.name:
            return dialect
        out: list[NormalizedEvent] = []
        dialect.close(out)  # a response that ends with the input (Gemini) ends here
        if self._timed:
            self.sink.write(out)
        else:
            batch += out
        self._ended.append(dialect)
        self.dialect = dialects.create(name)
        return self.dialect

    def _detect(self, item: Event | Retry) -> bool:
        """Find the dialect; True when `item` should now go to it."""
        if type(item) is not Event:
            self._pending.append(item)
            return False
        name = dialects.detect(item)
        if name is None and item.event == "error":
            # `event: error`, whatever its data, before any dialect could tell.
            try:
                document = loads(item.data)
            except ValueError:
                document = {"message": item.data.strip()[: 4 * QUOTE]}
            self._error(*error_fields(document, "an error event"))
            return False
        if name is None:
            if dialects.is_neutral(item) and len(self._pending) < PENDING_LIMIT:
                self._pending.append(item)
                return False
            self._fall_back(item)
            return False
        self.dialect = dialects.create(name)
        pending, self._pending = self._pending, []
        for earlier in pending:
            if type(earlier) is Event:
                out: list[NormalizedEvent] = []
                self.dialect.feed((earlier,), out)
                if self._timed:
                    self.sink.write_timed(out, self.now)
                elif out:
                    self.sink.write(out)
        return True

    def _fall_back(self, item: Event | None) -> None:
        self.raw_mode = True
        self.outcome.recognized = False
        self.warn(
            f"{self.name}: no dialect recognises this stream; writing plain events "
            "(as --events); --dialect NAME forces one"
        )
        lines = [raw_event_line(earlier) for earlier in self._pending]
        self._pending = []
        if item is not None:
            lines.append(raw_event_line(item))
        if lines:
            self.sink.raw(lines)

    def _emit(self, out: list[NormalizedEvent]) -> None:
        """Normalized events to the sink's `write` (never timed), if any."""
        if out:
            self.sink.write(out)

    # -- what comes around the stream -------------------------------------------

    def _comment(self, text: str) -> None:
        seconds = parse_time(text)
        if seconds is not None:
            self._annotated = True
            self.now = seconds
            return
        header = parse_header(text)
        if header is not None:
            self._status(header.status)

    def _status(self, status: int) -> None:
        self.outcome.http_status = status
        self.sink.on_http_status(status)
        if not 200 <= status < 300:
            self.warn(f"{self.name}: the response's HTTP status was {status}")

    def _skip_http_head(self, chunk: bytes, *, final: bool) -> bytes:
        """The body once `curl -i`'s head is over (then its status is said), else b""."""
        head = self._head
        assert head is not None
        body = head.skip(chunk, final=final)
        if head.done:
            self._head = None
            if head.status is not None:
                self._status(head.status)
        return body

    def _no_events(self) -> None:
        """No SSE event at all: a JSON error body, something else, or nothing."""
        if self._body is None:
            return
        found = self._body.error(
            looks_like_sse=self.decoder.looks_like_sse, http_status=self.outcome.http_status
        )
        if found is not None:
            self._error(*found)

    def _error(self, message: str, code: Any) -> None:
        """An error that no dialect reported: the input's shape, or `event: error` alone."""
        self.outcome.errors += 1
        self.outcome.first_error = self.outcome.first_error or message
        self._emit([error_event(message, code)])


def _as_events(segment: EventRun | list[Item]) -> Sequence[Event]:
    """A segment of a read as the dialect takes it: a run as an EventBatch, else its Events."""
    if isinstance(segment, EventRun):
        return EventBatch(segment.event, segment.texts(), segment.id)
    if all(map(isinstance, segment, repeat(Event))):
        return cast("list[Event]", segment)
    return [item for item in segment if type(item) is Event]
