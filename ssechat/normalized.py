"""Output: the normalized events, their JSON-lines and text writers, and the flush policy.

The normalized events are the contract of DESIGN.md section 3: one JSON object
per line, `type` first. They are plain dicts built by the dialects (a dict
literal is the cheapest object Python makes, and the writer encodes it with
orjson in one call); the TypedDicts below document their shapes for readers
and for mypy, and the small constructors build the rarer ones.

Every command that streams writes through a writer here, so the flush policy
of DESIGN.md section 4 lives in one place: `auto` flushes after every event
unless all input comes from regular files (saved logs go at full speed, live
streams get no added latency), `event` always flushes, `never` only at the end.
"""

from __future__ import annotations

from enum import Enum
from operator import itemgetter
from typing import IO, Any, Final, Literal, Protocol, TypedDict, cast

import orjson

from ssechat.sse import Comment, Event, EventRun, Item, Retry, segments

NormalizedEvent = dict[str, Any]
"""One normalized event: a dict whose first key is `type` (see the TypedDicts)."""


class StartEvent(TypedDict, total=False):
    type: Literal["start"]
    provider: str
    model: str
    id: str


class TextEvent(TypedDict, total=False):
    """`delta` (answer text), `reasoning`, `refusal`, `follow_up` (Coze), `tool_plan` (Cohere)."""

    type: Literal["delta", "reasoning", "refusal", "follow_up", "tool_plan"]
    text: str
    index: int


class ToolCallDeltaEvent(TypedDict, total=False):
    type: Literal["tool_call_delta"]
    index: int
    id: str | None
    name: str | None
    arguments: str


class ToolCallEvent(TypedDict, total=False):
    type: Literal["tool_call"]
    index: int
    id: str | None
    name: str | None
    arguments: Any
    repaired: bool
    error: str


class UsageEvent(TypedDict, total=False):
    type: Literal["usage"]
    input_tokens: int | None
    output_tokens: int | None
    total_tokens: int
    reasoning_tokens: int
    cached_tokens: int
    cache_creation_tokens: int


class ErrorEvent(TypedDict, total=False):
    type: Literal["error"]
    message: str
    code: Any


class DoneEvent(TypedDict):
    type: Literal["done"]
    finish_reason: Any


TRUNCATED = "truncated"
"""The `code` of the error that ends an input without its dialect's end marker."""


def start_event(provider: str, model: Any = None, response_id: Any = None) -> NormalizedEvent:
    event: NormalizedEvent = {"type": "start", "provider": provider}
    if model:
        event["model"] = model
    if response_id:
        event["id"] = response_id
    return event


def error_event(message: str, code: Any = None) -> NormalizedEvent:
    event: NormalizedEvent = {"type": "error", "message": message}
    if code is not None and code != "":
        event["code"] = code
    return event


def done_event(finish_reason: Any) -> NormalizedEvent:
    return {"type": "done", "finish_reason": finish_reason}


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


def raw_event_line(item: Event | Retry) -> bytes:
    """The `parse-sse --events` line of DESIGN.md section 2."""
    if isinstance(item, Retry):
        return json_line({"retry": item.milliseconds})
    if item.id:
        return json_line({"event": item.event, "data": item.data, "id": item.id})
    return json_line({"event": item.event, "data": item.data})


_JOINT = b'},{"event":'
_JOINT_AS_LINE_END = b'}\n{"event":'
_event_type, _event_data, _event_id = itemgetter(0), itemgetter(1), itemgetter(2)


def raw_event_lines(items: list[Item] | list[Item | EventRun]) -> list[bytes]:
    """The `--events` lines of one read's decoder items (comments are skipped).

    Joined, the result equals joining `raw_event_line` of each Event and
    Retry (and of each Event of an EventRun), only faster, which is most of
    `--events` speed. It is a few pieces, left for the writer's one join.
    """
    lines: list[bytes] = []
    for segment in segments(items):
        if isinstance(segment, EventRun):
            lines.append(_run_lines(segment))
        else:
            lines += _item_lines(segment)
    return lines


def _run_lines(run: EventRun) -> bytes:
    """The lines of an EventRun, its data values escaped by one orjson call.

    The values are dumped as one indented JSON array, whose joints (quote,
    comma, line end, indent, quote) occur nowhere else: an encoded string
    holds no raw line end. Split there, they are the values as orjson writes
    each, joined here with the line text between them. (One orjson call for
    the whole run as one string would be faster still, but one emoji makes
    that string 4 bytes a character, and those large, varying allocations
    grew the heap by 20 MB over a long stream.)
    """
    values = _dumps(run.texts(), option=orjson.OPT_INDENT_2).split(_ARRAY_JOINT)
    head = b'{"event":' + _dumps(run.event) + b',"data":"'
    tail = b'","id":' + _dumps(run.id) + b"}\n" if run.id else b'"}\n'
    # The line text goes into the first and last values, so that the run's
    # lines are built by one join, with no copy of the whole made after it.
    values[0] = head + values[0][len(_ARRAY_START) :]
    values[-1] = values[-1][: -len(_ARRAY_END)] + tail
    return (tail + head).join(values)


_ARRAY_START, _ARRAY_JOINT, _ARRAY_END = b'[\n  "', b'",\n  "', b'"\n]'


def _item_lines(items: list[Item]) -> list[bytes]:
    """The `--events` lines of decoder items, joined (comments are skipped).

    Returns [] or [bytes]; the result equals joining `raw_event_line` of each
    Event and Retry, only faster. When all
    items are Events of one type and one id (a read of an LLM stream nearly
    always is), only the data strings are encoded, by C calls, and joined
    with the line text between them; otherwise the records are dumped as one
    JSON array whose `},{"event":` joints become line ends (that text occurs
    nowhere else: inside an encoded string every `"` is escaped).
    """
    if not items:
        return []
    try:
        if set(map(type, items)) == {Event}:
            kinds, ids = set(map(_event_type, items)), set(map(_event_id, items))
            if len(kinds) == 1 and len(ids) == 1:
                (kind,), (last_id,) = kinds, ids
                head = b'{"event":' + _dumps(kind) + b',"data":'
                tail = b',"id":' + _dumps(last_id) + b"}\n" if last_id else b"}\n"
                return [head + (tail + head).join(map(_dumps, map(_event_data, items))) + tail]
            records = [
                {"event": item.event, "data": item.data, "id": item.id}
                if item.id
                else {"event": item.event, "data": item.data}
                for item in cast("list[Event]", items)
            ]
            return [_dumps(records)[1:-1].replace(_JOINT, _JOINT_AS_LINE_END) + b"\n"]
    except TypeError:  # what orjson refuses: json_line below handles it
        pass
    lines = [raw_event_line(item) for item in items if not isinstance(item, Comment)]
    return [b"".join(lines)] if lines else []


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


class EventSink(Protocol):
    """Where a pipeline sends what it produces (a writer, or the summary)."""

    def write(self, events: list[NormalizedEvent]) -> None:
        """Normalized events, in order, as one batch (one read of input)."""

    def raw(self, lines: list[bytes]) -> None:
        """`--events` lines, for a stream no dialect recognises."""

    def close(self) -> None:
        """End of all input: write what is pending and flush."""


_EVENT_JOINT = b'},{"type":'
_EVENT_JOINT_AS_LINE_END = b'}\n{"type":'


def encode_lines(events: list[NormalizedEvent]) -> bytes:
    """The JSON lines of a batch of normalized events, in one orjson call.

    orjson encodes a list of 250 small dicts about twenty times faster than
    250 dicts one call at a time, so the batch is encoded as one JSON array
    and its `},{"type":` joints become line ends. That relies on `type`
    being every event's first key (the contract: DESIGN.md section 3). The
    same text can also occur inside an event (a tool call's parsed
    arguments): when it occurs more often than there are joints, the events
    are encoded one by one instead.
    """
    try:
        array = _dumps(events)
    except TypeError:
        return b"".join([json_line(event) for event in events])
    if array.count(_EVENT_JOINT) != len(events) - 1:
        return b"".join([_dumps(event, option=_NEWLINE) for event in events])
    return array[1:-1].replace(_EVENT_JOINT, _EVENT_JOINT_AS_LINE_END) + b"\n"


class JsonLinesWriter:
    """Normalized events as JSON lines: the default output of parse-sse and send."""

    def __init__(self, stream: IO[bytes], *, flush_each: bool) -> None:
        self.lines = LineWriter(stream, flush_each=flush_each)

    def write(self, events: list[NormalizedEvent]) -> None:
        if events:
            self.lines.write([encode_lines(events)])

    def raw(self, lines: list[bytes]) -> None:
        self.lines.write(lines)

    def close(self) -> None:
        self.lines.flush()


TERMINAL_ESCAPES: Final = {
    code: f"\\x{code:02x}" for code in (*range(0x20), *range(0x7F, 0xA0)) if code not in (9, 10)
}
"""C0 and C1 controls but tab and newline, as visible `\\xNN` (ESC, CSI, BEL, CR...)."""


def is_terminal(stream: IO[bytes]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):
        return False


class TextWriter:
    """`--text`: the answer text only (choice 0), as plain UTF-8.

    Each response's text ends with a newline (added when the text does not end
    with one), so consecutive responses stay apart and a shell prompt lands on
    its own line. With a `reasoning` stream (stderr), reasoning text goes there
    as it arrives, closed by a newline before the answer starts, so stdout
    stays exactly the answer. A stream no dialect recognises falls back to
    `--events` JSON lines, as in the default mode.
    """

    def __init__(
        self,
        stream: IO[bytes],
        *,
        flush_each: bool,
        reasoning: IO[bytes] | None = None,
    ) -> None:
        self.stream = stream
        self.flush_each = flush_each
        self.reasoning = reasoning
        # A hostile stream must not rewrite the user's terminal (escape
        # sequences): on a terminal, control characters are written escaped.
        self._escape_out = is_terminal(stream)
        self._escape_reasoning = reasoning is not None and is_terminal(reasoning)
        self._text_open = False  # answer text written and not yet ended by a newline
        self._reasoning_open = False
        self.wrote_text = False
        self.tool_calls = 0  # complete calls seen: --text writes none of them

    def write(self, events: list[NormalizedEvent]) -> None:
        parts: list[str] = []
        thoughts: list[str] = []
        for event in events:
            kind = event["type"]
            if kind == "delta":
                if "index" in event:
                    continue
                text = event["text"]
                if not text:
                    continue
                if self._reasoning_open:
                    thoughts.append("\n")
                    self._reasoning_open = False
                parts.append(text)
                self._text_open = text[-1] != "\n"
            elif kind == "reasoning":
                if self.reasoning is not None and event["text"] and "index" not in event:
                    thoughts.append(event["text"])
                    self._reasoning_open = event["text"][-1] != "\n"
            elif kind == "done" or (kind == "error" and event.get("code") == TRUNCATED):
                self._end_response(parts, thoughts)
            elif kind == "tool_call":
                self.tool_calls += 1
        self._emit(parts, thoughts)

    def _end_response(self, parts: list[str], thoughts: list[str]) -> None:
        if self._text_open:
            parts.append("\n")
            self._text_open = False
        if self._reasoning_open:
            thoughts.append("\n")
            self._reasoning_open = False

    def _emit(self, parts: list[str], thoughts: list[str]) -> None:
        if thoughts and self.reasoning is not None:
            thought = "".join(thoughts)
            if self._escape_reasoning:
                thought = thought.translate(TERMINAL_ESCAPES)
            self.reasoning.write(thought.encode("utf-8", "replace"))
            self.reasoning.flush()
        if parts:
            self.wrote_text = True
            text = "".join(parts)
            if self._escape_out:
                text = text.translate(TERMINAL_ESCAPES)
            self.stream.write(text.encode("utf-8", "replace"))
            if self.flush_each:
                self.stream.flush()

    def raw(self, lines: list[bytes]) -> None:
        if lines:
            self.stream.write(b"".join(lines))
            if self.flush_each:
                self.stream.flush()

    def tool_call_note(self, command: str = "parse-sse") -> str | None:
        """What to say when tool calls were all there was: --text showed nothing of them."""
        if self.wrote_text or not self.tool_calls:
            return None
        many = self.tool_calls != 1
        calls = f"{self.tool_calls} tool call" + "s" * many
        return (
            f"no answer text, only {calls}: the JSON lines show {'them' if many else 'it'} "
            f"({command} without --text | jq -c 'select(.type == \"tool_call\")')"
        )

    def close(self) -> None:
        parts: list[str] = []
        thoughts: list[str] = []
        self._end_response(parts, thoughts)
        self._emit(parts, thoughts)
        self.stream.flush()
