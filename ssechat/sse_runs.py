"""The batching layer on top of `sse.Decoder`: a read's uniform events as one `EventRun`.

For speed only. Nearly every read of an LLM stream is whole events that are
all `data: X` or all `event: T` then `data: X`: `RunDecoder.feed_runs` cuts
them out with a few C calls (an `EventRun`: one type, one id, the data
values still bytes) and hands everything else to the plain decoder it wraps.
Only the reading loops know of runs: the pipeline (a run reaches the
dialect as an `EventBatch` of its data strings) and the `--events` writers
(one orjson call per run).
tests/test_sse_runs.py proves the layer equal to the plain decoder.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Sequence
from itertools import repeat
from typing import Final, NamedTuple, cast

from ssechat.errors import EventTooLargeError
from ssechat.sse import DEFAULT_MAX_EVENT_BYTES, Decoder, Event, Item

_MAX_STRETCHES_PER_READ: Final = 8


class EventRun(NamedTuple):
    """Events of one type and one id, their data values still the bytes they were read as."""

    event: str
    id: str
    values: list[bytes]

    def texts(self) -> list[str]:
        """The data values, decoded as `sse.Decoder` decodes them (invalid bytes: U+FFFD)."""
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
    """`feed_runs` items as the plain decoder gives them: each EventRun as its Events."""
    expanded: list[Item] = []
    for segment in segments(items):
        expanded += segment.events() if isinstance(segment, EventRun) else segment
    return expanded


class RunDecoder:
    """An `sse.Decoder` whose `feed_runs` may give a read's uniform events as EventRuns."""

    def __init__(
        self,
        *,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        dispatch_at_eof: bool = True,
        comments: bool = False,
    ) -> None:
        self.plain = Decoder(
            max_event_bytes=max_event_bytes, dispatch_at_eof=dispatch_at_eof, comments=comments
        )
        self._run_events = 0  # events this layer dispatched (runs and mixed-type reads)
        self._pending_error: EventTooLargeError | None = None

    @property
    def events_dispatched(self) -> int:
        return self._run_events + self.plain.events_dispatched

    @property
    def looks_like_sse(self) -> bool:
        return self._run_events > 0 or self.plain.looks_like_sse

    @property
    def last_event_id(self) -> str:
        return self.plain.last_event_id

    @property
    def ended_inside_event(self) -> bool:
        return self.plain.ended_inside_event

    def feed(self, chunk: bytes) -> list[Item]:
        """As `sse.Decoder.feed`."""
        return expand_runs(self.feed_runs(chunk))

    def feed_runs(self, chunk: bytes) -> list[Item | EventRun]:
        """As `sse.Decoder.feed`, but a read's uniform events may come as one EventRun."""
        if self._pending_error is not None:
            raise self._pending_error
        items: list[Item | EventRun] = []
        try:
            self._feed(self.plain.normalize(chunk), items)
        except EventTooLargeError as exc:
            if not items:
                raise
            self._pending_error = exc
        return items

    def close(self) -> list[Item]:
        """As `sse.Decoder.close`."""
        if self._pending_error is not None:
            raise self._pending_error
        return self.plain.close()

    def _feed(self, text: bytes, items: list[Item | EventRun]) -> None:
        """A `normalize`d read: the event it continues and its tail go to the plain decoder."""
        if not text:
            return
        if not self.plain.between_events:
            end = text.find(b"\n\n") + 2
            if end < 2:
                self._plain(text, items)
                return
            self._plain(text[:end], items)
            text = text[end:]
        cut = text.rfind(b"\n\n")
        if cut > 0:
            self._region(text[:cut], items)
            text = text[cut + 2 :]
        if text:
            self._plain(text, items)

    def _plain(self, text: bytes, items: list[Item | EventRun]) -> None:
        done: list[Item] = []
        try:
            self.plain.decode_lines(text, done)
        finally:
            items += done

    def _region(self, region: bytes, items: list[Item | EventRun]) -> None:
        """Whole events, from the start of one: `region` + LF LF is what was read.

        Stretches of events of one shape and type become EventRuns
        (`_event_run`). A read of an LLM stream is nearly always one stretch
        (tried whole first, in one split) or a few (an Anthropic `ping` among
        the deltas: each stretch is then found by a search that stops at its
        end). Where the type changes at every event (two stretches of one
        event in a row), or after a few stretches, the rest of the read is
        `_rest`'s, so such a stream costs about what it did without runs.
        """
        last_id, limit = self.plain.last_event_id, self.plain.max_event_bytes
        pos, singles = 0, 0
        for _ in range(_MAX_STRETCHES_PER_READ):
            head = _run_head(region, pos)
            if head is None:
                break
            run, end = None, len(region)
            whole = pos == 0 and _same_head_sampled(region, head)
            if whole:
                run = _event_run(region, head, last_id, limit)
            if run is None:
                end = _stretch_end(region, head, pos)
                if whole and end == len(region):
                    break  # tried whole already
                run = _event_run(region[pos:end], head, last_id, limit)
                if run is None:
                    break
            self._run_events += len(run.values)
            items.append(run)
            if end == len(region):
                return
            pos = end + 2
            singles = singles + 1 if len(run.values) == 1 else 0
            if singles == 2:
                break
        self._rest(region[pos:], items)

    def _rest(self, region: bytes, items: list[Item | EventRun]) -> None:
        """Whole events off the run path: mixed `event: T` + `data: X`, else the plain decoder."""
        blocks = region.split(b"\n\n")
        plain = self.plain
        if _mixed_type_events(blocks, plain.last_event_id, plain.max_event_bytes, items):
            self._run_events += len(blocks)
        else:
            self._plain(region + b"\n\n", items)


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
