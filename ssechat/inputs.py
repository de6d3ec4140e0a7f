"""The input formats a stream may come in, told apart by its first bytes.

`InputDecoder` has the interface of `sse.Decoder` and is what the pipeline
and `parse-sse --events` read through: it holds the first bytes of the body
until they tell the format (`sniff`), then hands everything to that format's
decoder: SSE (`sse_runs.RunDecoder`, the plain decoder with its batching
layer; nearly always decided on the first byte), NDJSON
(`ndjson.NdjsonDecoder`: Ollama) or the AWS event stream
(`eventstream.EventStreamDecoder`: Bedrock). All three give `sse.Event`s, so
everything after the decoder is the same for every format.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final, Literal, Protocol

from ssechat import jsonload
from ssechat.sse import DEFAULT_MAX_EVENT_BYTES, Item
from ssechat.sse_runs import EventRun, RunDecoder

Format = Literal["sse", "ndjson", "eventstream"]
SNIFF_LIMIT: Final = 1024 * 1024  # bytes held at most before deciding "SSE"
_BOM: Final = b"\xef\xbb\xbf"
_SPACE: Final = b" \t\r\n"


class AnyDecoder(Protocol):
    """What the pipeline needs of a decoder (`sse.Decoder` and its siblings)."""

    @property
    def events_dispatched(self) -> int: ...

    @property
    def ended_inside_event(self) -> bool: ...

    @property
    def looks_like_sse(self) -> bool: ...

    @property
    def last_event_id(self) -> str: ...

    def feed(self, chunk: bytes) -> list[Item]: ...

    def close(self) -> list[Item]: ...


def sniff(head: bytes, *, final: bool) -> Format | None:
    """The format of an input that starts with `head`; None: more bytes are needed.

    - An AWS event stream starts with a 12-byte prelude whose CRC checks
      (its first byte is 0 for any frame under 16 MB).
    - NDJSON starts with a line that is a JSON object, and either that object
      has a boolean `done` (Ollama's every line) or the next line starts
      another object. A lone JSON document stays "SSE": the pipeline reports
      it as the JSON error body it nearly always is.
    - Anything else is SSE (decided on the first byte that is not a space).

    Comment lines (`:`) before the body, such as `send --save` annotations,
    are skipped: a saved NDJSON body is still NDJSON.
    """
    if head[:1] == b"\x00":
        from ssechat.eventstream import PRELUDE, is_prelude

        if len(head) < PRELUDE and not final:
            return None
        return "eventstream" if is_prelude(head) else "sse"
    text = _body_start(head)
    if not text:  # nothing yet but white space and comments
        return "sse" if final or len(head) > SNIFF_LIMIT else None
    if text[:1] != b"{":
        return "sse"
    return _sniff_objects(text, final=final)


def _body_start(head: bytes) -> bytes | None:
    """`head` after a BOM, white space and comment lines; None while a comment goes on."""
    text = head[3:] if head.startswith(_BOM) else head
    text = text.lstrip(_SPACE)
    while text[:1] == b":":  # comment lines first (capture annotations): skipped
        end = text.find(b"\n")
        if end < 0:
            return None
        text = text[end + 1 :].lstrip(_SPACE)
    return text


def _sniff_objects(text: bytes, *, final: bool) -> Format | None:
    """NDJSON or SSE, for a body that starts with `{`; None: more bytes are needed."""
    undecided: Format | None = "sse" if final or len(text) > SNIFF_LIMIT else None
    end = text.find(b"\n")
    if end < 0:
        if final and _object(text).get("done") in (True, False):
            return "ndjson"
        return undecided
    first = _object(text[:end])
    if not first:
        return "sse"
    if first.get("done") in (True, False):
        return "ndjson"
    rest = text[end:].lstrip(_SPACE)
    if rest:
        return "ndjson" if rest[:1] == b"{" else "sse"
    return undecided


def _object(line: bytes) -> dict[str, object]:
    try:
        value = jsonload.loads(line)
    except ValueError:  # too deep included
        return {}
    return value if isinstance(value, dict) else {}


class InputDecoder:
    """An `sse.Decoder` that first finds the input's format (see `sniff`)."""

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
        self.format: Format | None = None
        self._head: bytes | None = b""  # until the format is known
        sse = RunDecoder(
            max_event_bytes=max_event_bytes, dispatch_at_eof=dispatch_at_eof, comments=comments
        )
        self._inner: AnyDecoder = sse
        self._feed_runs: Callable[[bytes], Sequence[Item | EventRun]] = sse.feed_runs

    @property
    def events_dispatched(self) -> int:
        return self._inner.events_dispatched

    @property
    def looks_like_sse(self) -> bool:
        return self._inner.looks_like_sse

    @property
    def last_event_id(self) -> str:
        return self._inner.last_event_id

    @property
    def ended_inside_event(self) -> bool:
        """After close(): the input ended inside an SSE event (`sse.Decoder`)."""
        return self._inner.ended_inside_event

    def feed(self, chunk: bytes) -> list[Item]:
        """The items a read completes, as `sse.Decoder.feed` gives them."""
        if self._head is not None:
            chunk = self._sniffed(chunk, final=False)
            if not chunk:
                return []
        return self._inner.feed(chunk)

    def feed_runs(self, chunk: bytes) -> Sequence[Item | EventRun]:
        """As `feed`, but SSE's uniform events may come as EventRuns (`ssechat.sse_runs`)."""
        if self._head is not None:
            chunk = self._sniffed(chunk, final=False)
            if not chunk:
                return []
        return self._feed_runs(chunk)

    def close(self) -> list[Item]:
        if self._head is not None:
            rest = self._sniffed(b"", final=True)
            if rest:
                items = self._inner.feed(rest)
                return items + self._inner.close()
        return self._inner.close()

    def _sniffed(self, chunk: bytes, *, final: bool) -> bytes:
        """The bytes held so far once the format is known, else b"" (held)."""
        assert self._head is not None
        head = self._head + chunk
        found = sniff(head, final=final)
        if found is None:
            self._head = head
            return b""
        self._head = None
        self.format = found
        limit, at_eof = self.max_event_bytes, self.dispatch_at_eof
        if found == "ndjson":
            from ssechat.ndjson import NdjsonDecoder

            self._inner = NdjsonDecoder(
                max_event_bytes=limit, dispatch_at_eof=at_eof, comments=self.comments
            )
            self._feed_runs = self._inner.feed
            head = head[3:] if head.startswith(_BOM) else head
        elif found == "eventstream":
            from ssechat.eventstream import EventStreamDecoder

            self._inner = EventStreamDecoder(max_event_bytes=limit, dispatch_at_eof=at_eof)
            self._feed_runs = self._inner.feed
        return head
