"""How `send` continues a response where it stopped, instead of restarting it.

`Resumption` keeps, for one response, what a continuation is built from (the
last event id and every id seen, the answer's text so far) and builds the
request that continues it (`Last-Event-ID`, a background Responses stream
read on by id, an Anthropic prefill). Once the new stream is open it proves
that the server resumed (`Proof`: the first event carries an id never seen
before; a server that starts over is `NotResumed`) and drops the whitespace
a prefill left out (`splice`). The send session decides when to ask;
docs/transport.md tells the order and the rules.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final

from ssechat.normalized import first_choice
from ssechat.providers import (
    Request,
    anthropic_prefill,
    is_background,
    responses_continuation,
)
from ssechat.transport.failures import StreamFailure

if TYPE_CHECKING:
    from ssechat.dialects.base import Dialect
    from ssechat.normalized import NormalizedEvent

_ID_RE: Final = re.compile(rb"^id(?::[ ]?([^\r\n]*))?\r?$", re.M)
_LINE_RE: Final = re.compile(rb"[^\r\n]*(?:\r\n|\r|\n)")
PROOF_LIMIT: Final = 1 << 20  # bytes held back at most while waiting for the first event


class NotResumed(Exception):
    """The continuation did not prove that it resumed the stream."""


class IdLog:
    """The ids one response's events have carried."""

    def __init__(self) -> None:
        self.ids: set[bytes] = set()

    def add(self, data: bytes, last_id: str = "") -> None:
        if b"id:" in data:
            self.ids.update(m.group(1) or b"" for m in _ID_RE.finditer(data))
        if last_id:
            self.ids.add(last_id.encode("utf-8", "surrogateescape"))


class Proof:
    """A continuation's bytes, held until its first event shows whether it resumed."""

    def __init__(self, seen: IdLog) -> None:
        self.seen = seen.ids
        self.held = b""

    def feed(self, data: bytes) -> bytes | None:
        """All the bytes so far once proved, None while the first event is incomplete.

        Raises NotResumed when the first event's id was seen before or it has none.
        """
        self.held += data
        in_event = False
        event_id: bytes | None = None
        for match in _LINE_RE.finditer(self.held):
            line = match.group().rstrip(b"\r\n")
            if not line:
                if in_event:
                    if event_id is None or event_id in self.seen:
                        raise NotResumed(_why(event_id))
                    return self.held
                continue
            if line.startswith(b":"):
                continue
            in_event = True
            name, _, value = line.partition(b":")
            if name == b"id":
                event_id = value[1:] if value.startswith(b" ") else value
        if len(self.held) > PROOF_LIMIT:
            raise NotResumed("its first event is over 1 MB")
        return None

    def end(self) -> None:
        """The body ended before its first event was whole: not resumed."""
        raise NotResumed("it ended before its first event")


def _why(event_id: bytes | None) -> str:
    if event_id is None:
        return "its first event carries no id"
    return f"its first event repeats id {event_id[:40].decode('utf-8', 'replace')!r}"


# The kinds of continuation: the same stream by `Last-Event-ID`, a background
# Responses stream read on by id, a new Anthropic message continuing the text.
ID, STREAM, PREFILL = "id", "stream", "prefill"


class Resumption:
    """One command's continuations: per-response state, and the one under way."""

    def __init__(self, request: Request, *, auto: bool, prefills: bool) -> None:
        self.request = request
        self.ids_resume = auto  # cleared when a server starts over
        self.background = auto and is_background(request)
        self.prefills = auto and prefills and request.provider == "anthropic"
        self.kind = ""  # the continuation under way: "" (none), ID, STREAM or PREFILL
        self._proof: Proof | None = None  # a Last-Event-ID continuation not yet proved
        self._skip = ""  # whitespace the prefill left out, not to be written twice
        self.new_response()

    def new_response(self) -> None:
        """Forget the response so far (the start, or a restart)."""
        self.kind = ""
        self.last_event_id = ""
        self.ids = IdLog()
        # The answer's text so far, when a prefill may continue it.
        self.partial: list[str] | None = [] if self.prefills else None

    # -- before the retry ----------------------------------------------------------

    def request_for(self, dialect: Dialect | None, *, begun: bool, errored: bool) -> Request | None:
        """The request that continues this response (`kind` says how), or None.

        `begun`: output has begun; `errored`: the stream carried an error event.
        """
        self.kind = ""
        if self.last_event_id and begun and not errored and self.ids_resume:
            self.kind = ID
            return self.request.with_headers({"Last-Event-ID": self.last_event_id})
        if dialect is None or not dialect.open:
            return None
        # What the provider allows is the dialect's to say; the request is built here.
        point = dialect.continuation()
        if point is None:
            return None
        if point.kind == STREAM and self.background and not errored:
            self.kind = STREAM
            return responses_continuation(self.request, point.response_id, point.after)
        if point.kind == PREFILL and self.partial:
            prefilled = anthropic_prefill(self.request, "".join(self.partial))
            self.kind = PREFILL if prefilled is not None else ""
            return prefilled
        return None

    # -- the new stream ------------------------------------------------------------

    def opened(self) -> bool:
        """A stream opened: True when it continues the response (the kind is then done)."""
        kind, self.kind = self.kind, ""
        if kind == ID:
            self._proof = Proof(self.ids)
        elif kind == PREFILL:
            partial = "".join(self.partial or ())
            self._skip = partial[len(partial.rstrip()) :]
        return bool(kind)

    def prove(self, data: bytes) -> bytes | None:
        """The bytes to go on with (None: held until the first event shows it resumed)."""
        if self._proof is None:
            return data
        try:
            proved = self._proof.feed(data)
        except NotResumed as exc:
            raise self._not_resumed(exc) from None
        if proved is not None:
            self._proof = None
        return proved

    def end(self) -> None:
        """The body ended: a continuation still unproved did not resume."""
        if self._proof is not None:
            try:
                self._proof.end()
            except NotResumed as exc:
                raise self._not_resumed(exc) from None

    def _not_resumed(self, exc: NotResumed) -> StreamFailure:
        """The server started over: no more Last-Event-ID; the retry restarts (or gives up)."""
        self._proof = None
        self.ids_resume = False
        return StreamFailure(
            f"the server started the stream again instead of resuming it ({exc})",
            reason="not resumed",
            retryable=True,
        )

    # -- what the response says ----------------------------------------------------

    def track(self, chunk: bytes, last_id: str) -> None:
        """A read of the body, and the decoder's last event id after it."""
        if last_id:
            self.last_event_id = last_id
        if self.ids_resume:
            self.ids.add(chunk, last_id)

    def written(self, events: list[NormalizedEvent]) -> None:
        """Events written: the answer's text is kept for a prefill."""
        partial = self.partial
        if partial is not None:
            for event in events:
                if event.get("type") == "delta" and first_choice(event):
                    partial.append(str(event.get("text", "")))

    def splice(self, events: list[NormalizedEvent]) -> list[NormalizedEvent]:
        """A prefill continuation's first text, without the whitespace already written.

        The prefill left the answer's trailing whitespace out; the model
        usually begins with it again. It is dropped as far as it matches;
        text that begins otherwise is kept whole (the whitespace written
        stays: nothing is lost, nothing doubled).
        """
        skip = self._skip
        if not skip:
            return events
        spliced: list[NormalizedEvent] = []
        for position, event in enumerate(events):
            if not skip:
                spliced += events[position:]
                break
            kind = event.get("type")
            if kind == "delta" and first_choice(event):
                text = str(event.get("text", ""))
                same = 0
                while same < min(len(skip), len(text)) and skip[same] == text[same]:
                    same += 1
                skip = skip[same:] if same == len(text) or same == len(skip) else ""
                if text[same:]:
                    spliced.append({**event, "text": text[same:]})
                continue
            if kind in ("tool_call_delta", "tool_call", "reasoning", "refusal"):
                skip = ""  # something else came first: the text goes on as it is
            spliced.append(event)
        self._skip = skip
        return spliced
