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

Speed comes from not running Python code per line where the stream allows:
a read's whole events, when they are all `data: X` or all `event: T` then
`data: X` (nearly every read of an LLM stream), are cut out with a few C
calls (`_event_run`); every other event takes the spec's steps line by line.
A hypothesis test holds the two paths to the same events.
"""

from __future__ import annotations

import codecs
import functools
import re
from collections.abc import Iterable, Iterator, Sequence
from itertools import repeat
from typing import Final, NamedTuple, cast

from ssechat.errors import EventTooLargeError

DEFAULT_MAX_EVENT_BYTES: Final = 16 * 1024 * 1024
_MAX_STRETCHES_PER_READ: Final = 8
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


class EventRun(NamedTuple):
    """Events of one type and one id, their data values still the bytes they were read as.

    Only `Decoder.feed_runs` makes them, for a consumer that can do better
    than one Event at a time (`parse-sse --events` escapes a run's values in
    one orjson call instead of one call per event); `events()` gives the
    same Events that `feed` would have.
    """

    event: str
    id: str
    values: list[bytes]

    def texts(self) -> list[str]:
        """The data values, decoded as `feed` decodes them (invalid bytes become U+FFFD)."""
        try:
            return list(map(bytes.decode, self.values))
        except UnicodeDecodeError:
            return list(map(bytes.decode, self.values, repeat("utf-8"), repeat("replace")))

    def events(self, texts: list[str] | None = None) -> list[Event]:
        """The Events of the run (`texts`: its `texts()`, when already decoded)."""
        if texts is None:
            texts = self.texts()
        fields = zip(repeat(self.event), texts, repeat(self.id), strict=False)
        return list(map(tuple.__new__, repeat(Event), fields))


def segments(items: Sequence[Item | EventRun]) -> Iterator[EventRun | list[Item]]:
    """`feed_runs` items in order: each EventRun alone, the items between runs as lists.

    The runs are found by `list.index`, in C: a read can hold 250 items.
    """
    kinds = list(map(type, items))
    start = 0
    for _ in range(kinds.count(EventRun)):
        at = kinds.index(EventRun, start)
        if at > start:
            yield cast("list[Item]", items[start:at])
        yield cast("EventRun", items[at])
        start = at + 1
    if start < len(items):
        yield cast("list[Item]", items[start:] if start else items)


def expand_runs(items: Sequence[Item | EventRun]) -> list[Item]:
    """`feed_runs` items as `feed` gives them: each EventRun as its Events."""
    expanded: list[Item] = []
    for segment in segments(items):
        expanded += segment.events() if isinstance(segment, EventRun) else segment
    return expanded


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
        self._at_start = True  # the BOM may only come first
        self._head = b""  # the first bytes, while they may still be the start of a BOM
        self._skip_lf = False  # the previous read ended in CR: a leading LF ends nothing
        self._partial: list[bytes] = []  # the unterminated last line, in parts
        self._partial_len = 0
        # The data buffer, each line followed by LF. One bytearray, not a list
        # of lines: a million one-byte `data:` lines then cost a million bytes,
        # not 50 MB of list and bytes objects, so the bound holds for memory.
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
        return expand_runs(self.feed_runs(chunk))

    def feed_runs(self, chunk: bytes) -> list[Item | EventRun]:
        """As `feed`, but a read's uniform events may come as one EventRun."""
        self._raise_pending()
        items: list[Item | EventRun] = []
        try:
            self._feed_bytes(chunk, items)
        except EventTooLargeError as exc:
            if not items:
                raise
            self._pending_error = exc
        return items

    def close(self) -> list[Item]:
        """End of input: flush the pending line and event."""
        self._raise_pending()
        items: list[Item | EventRun] = []
        if self._at_start:  # fewer than three bytes in all, a prefix of the BOM
            self._at_start = False
            self._feed_bytes(self._head, items)
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
        return expand_runs(items)

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

    def _feed_bytes(self, chunk: bytes, items: list[Item | EventRun]) -> None:
        if self._at_start:
            chunk = self._head + chunk
            if len(chunk) < len(_BOM) and _BOM.startswith(chunk):
                self._head = chunk
                return
            self._at_start = False
            self._head = b""
            if chunk.startswith(_BOM):
                chunk = chunk[len(_BOM) :]
        if not chunk:
            return
        if self._skip_lf:
            self._skip_lf = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
                if not chunk:
                    return
        if b"\r" in chunk:
            self._skip_lf = chunk[-1:] == b"\r"
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        if self._partial or self._data or self._event_type:
            # The read continues an event: finish it on the line path first.
            end = chunk.find(b"\n\n") + 2
            if end < 2:
                self._feed_lines(chunk, items)
                return
            self._feed_lines(chunk[:end], items)
            chunk = chunk[end:]
        cut = chunk.rfind(b"\n\n")
        if cut > 0:
            self._feed_region(chunk[:cut], items)
            chunk = chunk[cut + 2 :]
        if chunk:
            self._feed_lines(chunk, items)

    def _feed_region(self, region: bytes, items: list[Item | EventRun]) -> None:
        """Whole events, from the start of one: `region` + LF LF is what was read.

        Stretches of events of one shape and type become EventRuns
        (`_event_run`). A read of an LLM stream is nearly always one stretch
        (tried whole first, in one split) or a few (an Anthropic `ping` among
        the deltas: each stretch is then found by a search that stops at its
        end). Where the type changes at every event (two stretches of one
        event in a row), or after a few stretches, the rest of the read takes
        the general path, so such a stream costs about what it did without runs.
        """
        pos, singles = 0, 0
        for _ in range(_MAX_STRETCHES_PER_READ):
            head = _run_head(region, pos)
            if head is None:
                break
            run, end = None, len(region)
            whole = pos == 0 and _same_head_sampled(region, head)
            if whole:
                run = _event_run(region, head, self._last_id, self.max_event_bytes)
            if run is None:
                end = _stretch_end(region, head, pos)
                if whole and end == len(region):
                    break  # tried whole already
                run = _event_run(region[pos:end], head, self._last_id, self.max_event_bytes)
                if run is None:
                    break
            fields, size = head.count(b"\n") + 1, len(run.values)
            self.events_dispatched += size
            self.field_lines_seen += fields * size
            self.lines_seen += (fields + 1) * size
            items.append(run)
            if end == len(region):
                return
            pos = end + 2
            singles = singles + 1 if size == 1 else 0
            if singles == 2:
                break
        self._feed_lines(region[pos:] + b"\n\n", items)

    def _feed_lines(self, chunk: bytes, items: list[Item | EventRun]) -> None:
        """Any bytes, after BOM and CR handling: whole events, lines, and a kept tail."""
        if b"\n" not in chunk:
            self._keep_partial(chunk)
            return
        blocks = chunk.split(b"\n\n")
        if self._partial:
            self._partial.append(blocks[0])
            blocks[0] = b"".join(self._partial)
            self._partial.clear()
            self._partial_len = 0
        rest = blocks.pop()  # after the last blank line: whole lines, then the unterminated tail
        if blocks:
            self._process_blocks(blocks, items)
        cut = rest.rfind(b"\n") + 1
        if cut:
            lines = rest[: cut - 1].split(b"\n")
            self.lines_seen += len(lines)
            self._process_lines(lines, items)
        if cut < len(rest):
            self._keep_partial(rest[cut:])

    def _process_blocks(self, blocks: list[bytes], items: list[Item | EventRun]) -> None:
        """Whole events: runs of whole lines, each of which ended in a blank line.

        Reads of one event shape and type never get here (`_event_run`); a
        read of `event: T` + `data: X` events with several types still
        becomes Events in one go (`_mixed_type_events`). Any other event, and
        the first one if it began in an earlier read, goes through the
        line-by-line algorithm, which gives the same result, only slower.
        """
        if self._data or self._event_type:  # the first block continues an earlier event
            lines = blocks[0].split(b"\n")
            lines.append(b"")
            self.lines_seen += len(lines)
            self._process_lines(lines, items)
            del blocks[0]
            if not blocks:
                return
        if _mixed_type_events(blocks, self._last_id, self.max_event_bytes, items):
            self.events_dispatched += len(blocks)
            self.field_lines_seen += 2 * len(blocks)
            self.lines_seen += 3 * len(blocks)
            return
        for block in blocks:
            lines = block.split(b"\n")
            lines.append(b"")
            self.lines_seen += len(lines)
            self._process_lines(lines, items)

    def _keep_partial(self, part: bytes) -> None:
        self._partial.append(part)
        self._partial_len += len(part)
        if self._partial_len + self._data_len > self.max_event_bytes:
            self._partial.clear()
            self._partial_len = 0
            raise EventTooLargeError(self.max_event_bytes)

    def _process_lines(self, lines: list[bytes], items: list[Item | EventRun]) -> None:
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

    def _dispatch(self, items: list[Item | EventRun]) -> None:
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


def _split_values(joined: bytes, name: bytes, separator: bytes, count: int) -> list[str]:
    """The `count` values of field `name` in `joined`, which starts with `name`.

    ASCII (the common case): one decoding of the whole and one split. Else
    split, then decode value by value: one non-BMP character would make
    the whole read a 4-byte-per-character str, and each value cut from it
    would be scanned again to be narrowed. The same strings either way:
    the cuts fall on ASCII bytes, and an ASCII byte ends any invalid
    sequence alike in both. The caller has counted `count - 1` separators.
    """
    body = joined[len(name) :]
    if body.isascii():
        values = body.decode("ascii").split(separator.decode("ascii"))
    else:
        values = list(map(bytes.decode, body.split(separator), repeat("utf-8"), repeat("replace")))
    assert len(values) == count
    return values


def _run_head(region: bytes, pos: int = 0) -> bytes | None:
    """The head of the event at `pos` if it can start a run: `data: `, or `event: T` LF `data: `."""
    if region.startswith(b"data: ", pos):
        return b"data: "
    if region.startswith(b"event: ", pos):
        head = region[pos : region.find(b"\n", pos) + 1] + b"data: "
        if len(head) > len(b"event: \ndata: ") and region.startswith(head, pos):
            return head
    return None  # not a run's shape, or `event:` with no type (the type is then `message`)


def _same_head_sampled(region: bytes, head: bytes) -> bool:
    """Whether the events in the middle and at the end of `region` start with `head` too.

    A guess, for speed only: when it is False, `region` is not tried as one
    run (a split of the whole read that would fail) but cut into stretches.
    """
    last = region.rfind(b"\n\n")
    if last >= 0 and not region.startswith(head, last + 2):
        return False
    middle = region.find(b"\n\n", len(region) // 2)
    return middle < 0 or region.startswith(head, middle + 2)


def _event_run(region: bytes, head: bytes, last_id: str, limit: int) -> EventRun | None:
    """`region` as one EventRun if every event in it is `head` + a value, else None.

    `region` is whole events that start with `head` (`_run_head`), the
    blank line after the last one cut off. Split at each blank line + head
    (which cannot overlap one another), it is exactly such events when no
    piece holds a line end. The checks are C calls, with no Python code run
    per event (most of ssechat's speed).
    """
    if len(region) > limit:
        return None  # some event may be over the bound: the line path decides
    values = region[len(head) :].split(b"\n\n" + head)
    if b"\n" in b"".join(values):  # memchr: many times faster than counting line ends
        return None
    kind = _text(head[len(b"event: ") : -len(b"\ndata: ")]) if head[:1] == b"e" else "message"
    return EventRun(kind, last_id, values)


@functools.lru_cache(maxsize=64)
def _stretch_end_pattern(head: bytes) -> re.Pattern[bytes]:
    return re.compile(b"\n\n(?!" + re.escape(head) + b")")


def _stretch_end(region: bytes, head: bytes, pos: int) -> int:
    """Where the first blank line after `pos` not followed by `head` starts (else the end)."""
    found = _stretch_end_pattern(head).search(region, pos)
    return len(region) if found is None else found.start()


def _mixed_type_events(
    blocks: list[bytes], last_id: str, limit: int, items: list[Item | EventRun]
) -> bool:
    """Append the Events of `blocks` if each is `event: T` then `data: X`; else False.

    T may differ from event to event (one type throughout is `_event_run`'s)
    but is never empty; X and T have no line ends. The checks are counts and
    slices done in C, the values come from one decoding and one split of the
    joined lines (`_split_values`), and the Events are built by map over C
    functions.
    """
    count = len(blocks)
    region = b"\n\n".join(blocks)
    if len(region) > limit or not region.startswith(b"event: "):
        return False
    lines = region.split(b"\n")
    if len(lines) != 3 * count - 1 or any(lines[2::3]):
        return False  # not two lines per block
    types, datas = lines[0::3], lines[1::3]
    joined_types, joined_datas = b"\n".join(types), b"\n".join(datas)
    if (
        joined_types.count(b"\nevent: ") != count - 1
        or not joined_datas.startswith(b"data: ")
        or joined_datas.count(b"\ndata: ") != count - 1
        or b"event: " in types
    ):
        return False
    kinds: Iterable[str]
    if types.count(types[0]) == count:
        kinds = repeat(_text(types[0][len(b"event: ") :]), count)
    else:
        kinds = _split_values(joined_types, b"event: ", b"\nevent: ", count)
    texts = _split_values(joined_datas, b"data: ", b"\ndata: ", count)
    items.extend(map(tuple.__new__, repeat(Event), zip(kinds, texts, repeat(last_id))))
    return True


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
