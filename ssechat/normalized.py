"""Output: the normalized events and their JSON-lines and text writers.

The normalized events are the contract of docs/design.md ("Normalized
events"): one JSON object per line, `type` first. They are plain dicts built
by the dialects (a dict literal is the cheapest object Python makes, and the
writer encodes it with orjson in one call); the TypedDicts below give their
shapes, and the small constructors build the rarer ones.

The writers write through `ssechat.lines.LineWriter`, which holds the flush
policy and `json_line`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any, Final, Literal, Protocol, TypedDict

import orjson

from ssechat.lines import LineWriter, json_line

NormalizedEvent = Mapping[str, Any]
"""One normalized event, read-only once out: a dict whose first key is `type`.

A dialect builds it as a dict literal (or with the constructors below); the
TypedDicts give each type's shape, and read it where the type is known."""


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


def start_event(provider: str, model: Any = None, response_id: Any = None) -> StartEvent:
    event: StartEvent = {"type": "start", "provider": provider}
    if model:
        event["model"] = model
    if response_id:
        event["id"] = response_id
    return event


def error_event(message: str, code: Any = None) -> ErrorEvent:
    event: ErrorEvent = {"type": "error", "message": message}
    if code is not None and code != "":
        event["code"] = code
    return event


def done_event(finish_reason: Any) -> DoneEvent:
    return {"type": "done", "finish_reason": finish_reason}


def first_choice(event: NormalizedEvent) -> bool:
    """Whether a `delta` or `reasoning` event is the answer's: `index` marks the other choices."""
    return not event.get("index")


class Sink(Protocol):
    """Where a pipeline sends what it produces: a writer, the summary, `send`'s relay.

    A sink that subclasses this gets the defaults of the last two methods.
    A `timed` sink (the summary) gets one `write_timed` call per SSE event,
    with its arrival time, instead of one `write` per read.
    """

    timed: bool = False

    def write(self, events: list[NormalizedEvent]) -> None:
        """Normalized events, in order, as one batch (one read of input)."""

    def raw(self, lines: list[bytes]) -> None:
        """`--events` lines, for a stream no dialect recognises."""

    def close(self) -> None:
        """End of all input: write what is pending and flush."""

    def write_timed(
        self, events: list[NormalizedEvent], seconds: float | None, counted: bool = True
    ) -> None:
        """The events one SSE event gave (`counted`) at `seconds`: only if `timed`."""
        self.write(events)

    def on_http_status(self, status: int) -> None:
        """The HTTP status the input says its response had (`curl -i`, a capture)."""
        return None


_dumps = orjson.dumps
_NEWLINE = orjson.OPT_APPEND_NEWLINE
_EVENT_JOINT = b'},{"type":'
_EVENT_JOINT_AS_LINE_END = b'}\n{"type":'


def encode_lines(events: list[NormalizedEvent]) -> bytes:
    """The JSON lines of a batch of normalized events, in one orjson call.

    orjson encodes a list of 250 small dicts about twenty times faster than
    250 dicts one call at a time, so the batch is encoded as one JSON array
    and its `},{"type":` joints become line ends. That relies on `type`
    being every event's first key (the contract). The same text can also
    occur inside an event (a tool call's parsed arguments): when it occurs
    more often than there are joints, the events are encoded one by one.
    """
    try:
        array = _dumps(events)
    except TypeError:
        return b"".join([json_line(event) for event in events])
    if array.count(_EVENT_JOINT) != len(events) - 1:
        return b"".join([_dumps(event, option=_NEWLINE) for event in events])
    return array[1:-1].replace(_EVENT_JOINT, _EVENT_JOINT_AS_LINE_END) + b"\n"


class JsonLinesWriter(Sink):
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


class TextWriter(Sink):
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
                if not first_choice(event):
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
                if self.reasoning is not None and event["text"] and first_choice(event):
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
