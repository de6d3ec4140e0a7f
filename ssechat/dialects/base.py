"""The dialect interface and the response life cycle, the same in every dialect.

A dialect turns the SSE events of one provider into normalized events
(docs/design.md, "Normalized events"). `Dialect.feed` is its one entry
point (a batch of events in); `read` is the plain path, one event at a
time; the JSON preamble (`translate`: `[DONE]`, empty data, data that is
not JSON) is written here once, and a subclass reads only its provider's
documents (`handle`). This module owns the rules that must hold everywhere:

- a response is `start` ... `done`, and `done` is its last line; usage comes
  once, just before `done`;
- an input that ends (or a new response that starts) before the end marker
  gives `{"type": "error", "code": "truncated"}` in place of `done`, unless
  the provider already reported an error for that response (the error is
  then the reason it ended, and `done` follows with a null finish reason).

Tool calls are assembled in `calls`; the template fast path is `templates`;
the details are in docs/dialects.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from ssechat.dialects.calls import CallAssembly
from ssechat.dialects.fields import error_fields
from ssechat.jsonload import loads
from ssechat.normalized import TRUNCATED, NormalizedEvent, done_event, error_event, start_event
from ssechat.sse import Event

# What a dialect may raise on JSON of an unexpected shape: reported as an
# error event, never a crash.
MALFORMED = (AttributeError, TypeError, KeyError, IndexError, ValueError)
_QUOTE = 80  # characters of data that is not JSON, quoted in its error
UNREAD: Any = object()  # `read`: the event's data is not parsed yet


class Continuation:
    """How an open response may be continued (`Dialect.continuation`).

    `kind` "stream": read the same response again from `after` (a Responses
    background response, by `response_id`); "prefill": ask again with the
    answer so far as the start of the reply (Anthropic, text only).
    """

    __slots__ = ("after", "kind", "response_id")

    def __init__(self, kind: str, response_id: str = "", after: int = 0) -> None:
        self.kind = kind
        self.response_id = response_id
        self.after = after

    def __repr__(self) -> str:
        return f"Continuation({self.kind!r}, {self.response_id!r}, {self.after!r})"


class Dialect(CallAssembly):
    """Base class: feed SSE events in, get normalized events appended to `out`."""

    name: ClassVar[str] = ""
    cut_off_reasons: ClassVar[frozenset[str]] = frozenset()
    """Finish reasons that mean "the model was stopped mid-output" (max tokens)."""

    def __init__(self) -> None:
        super().__init__()  # the tool calls (`CallAssembly`)
        self.open = False  # a response is in progress
        self.errored = False  # the open response reported an error
        self.finish_reason: Any = None
        self.usage: dict[str, Any] | None = None
        # Over the whole input, for the exit status (with `bad_calls`):
        self.responses = 0
        self.errors = 0  # error events (not counting truncation)
        self.truncated = 0  # responses that ended without their end marker
        self.first_error: str | None = None  # for the one-line message on stderr
        self.resuming = False  # `send` continues the open response on a new stream
        # The template fast path (`learn_template`): how often it was learnt
        # and how many events it served, to stop learning when it never pays.
        self.template_learns = 0
        self.template_hits = 0

    # -- the interface the pipeline drives -----------------------------------

    def feed(self, events: Sequence[Event], out: list[NormalizedEvent]) -> Sequence[Event]:
        """Translate a batch of SSE events (one read's); append the normalized events to `out`.

        The one entry point. Returns the events after the one that ended the
        response (`between`), for the pipeline to detect anew: a log may go
        on with another provider's response. A dialect with a template fast
        path (`learn_template`) overrides it, keeping `read` as its plain path.
        """
        read = self.read
        for position, event in enumerate(events):
            read(event, out)
            if self.between():
                return events[position + 1 :]
        return ()

    def read(self, event: Event, out: list[NormalizedEvent], document: Any = UNREAD) -> None:
        """The plain path: one event, every field read (`translate`), never a crash.

        JSON of an unexpected shape is a `malformed` error; an `event: error`
        that the dialect's reading did not report is an error all the same.
        `document`: the event's data as a fast path already parsed it.
        """
        errors = self.errors
        try:
            if document is UNREAD:
                self.translate(event, out)
            else:
                self.handle(document, event, out)
        except MALFORMED as exc:
            self.malformed(event, exc, out)
        if event[0] == "error" and self.errors == errors:
            self.error_event(event, out)

    def translate(self, event: Event, out: list[NormalizedEvent]) -> None:
        """The JSON preamble, the same in every dialect, then `handle` with the document.

        `[DONE]` goes to `done`; empty data to `handle` as None (the event
        name may still tell something); data that is not JSON is an
        `invalid_json` error, except in `event: error`, whose text is the
        error's message (`read`). A dialect whose data is text overrides it.
        """
        data = event[1]
        text = data.strip()
        if text == "[DONE]":
            self.done(out)
            return
        document = None
        if text:
            try:
                document = loads(data)
            except ValueError:
                if event[0] != "error":
                    self.not_json(text, out)
                return
        self.handle(document, event, out)

    def handle(self, document: Any, event: Event, out: list[NormalizedEvent]) -> None:
        """Read one event's JSON document (None: the event had no data)."""
        raise NotImplementedError

    def done(self, out: list[NormalizedEvent]) -> None:
        """The `[DONE]` marker: nothing, unless the provider ends its stream with it."""

    def not_json(self, text: str, out: list[NormalizedEvent]) -> None:
        """An event whose data is not JSON: an `invalid_json` error, in a response."""
        if not self.open:
            self.begin(out)
        self.error(out, f"an event's data is not JSON: {text[:_QUOTE]!r}", "invalid_json")

    def between(self) -> bool:
        """Whether the next event may begin another response (of any dialect).

        After the end marker; or, for a dialect whose response ends with the
        input (Gemini), once it has its finish reason.
        """
        return not self.open or (self.finish_reason is not None and self.complete_at_eof())

    def may_learn(self, hits: int = 0) -> bool:
        """Whether to learn a template now: a few tries, then one per 16 events it served.

        `hits`: events served that `template_hits` does not count yet. A
        server whose events differ in more than one string (a counter, a
        per-event nonce) never matches a template: learning stops there.
        """
        if self.template_learns > (self.template_hits + hits) // 16 + 4:
            return False
        self.template_learns += 1
        return True

    def malformed(self, event: Event, exc: Exception, out: list[NormalizedEvent]) -> None:
        """JSON of an unexpected shape (a list for an object...): an error, not a crash."""
        if not self.open:
            self.begin(out)
        self.error(
            out,
            f"an {event.event!r} event has an unexpected shape for {self.name}: "
            f"{type(exc).__name__}: {exc}",
            "malformed",
        )

    def close(self, out: list[NormalizedEvent], *, cut: bool = False) -> None:
        """End of input: a response still open is truncated (or ends, see below).

        `cut`: the input ended inside an event, so even a response that may
        end with the input (Gemini's, after a finish reason) was cut short.
        """
        if self.open:
            self.end(out, complete=not cut and (self.errored or self.complete_at_eof()))

    def resume(self) -> None:
        """The open response goes on in a new stream (`send`'s continuation).

        The error that interrupted it (an overload) no longer ends it, and a
        start that the new stream sends (the message_start of an Anthropic
        prefill, a Responses stream read again by id) continues this response
        instead of beginning another: the dialects that have such starts
        check `resuming` there; it holds until the response ends. parse-sse
        never calls this.
        """
        if self.open:
            if self.errored:  # healed: no longer counted against the response
                self.errors -= 1
                if not self.errors:
                    self.first_error = None
            self.errored = False
            self.resuming = True

    def complete_at_eof(self) -> bool:
        """Whether an open response is complete when the input ends (Gemini: yes)."""
        return False

    def continuation(self) -> Continuation | None:
        """Where the provider lets the open response go on after a failure, if anywhere.

        `send` turns it into a request (`resume.Resumption.request_for`);
        the dialect only says what its stream allows (no HTTP here).
        """
        return None

    # -- the life cycle ------------------------------------------------------

    def begin(self, out: list[NormalizedEvent], model: Any = None, response_id: Any = None) -> None:
        """A response starts (closing the previous one if it never ended)."""
        if self.open:
            self.end(out, complete=self.errored or self.complete_at_eof())
        self.open = True
        self.errored = False
        self.resuming = False
        self.finish_reason = None
        self.usage = None
        self.calls = {}
        self.call_count = 0
        self.held = []
        self.responses += 1
        out.append(start_event(self.name, model, response_id))

    def end(self, out: list[NormalizedEvent], *, complete: bool) -> None:
        """The response is over: pending calls, usage, then `done` (or truncation)."""
        if not self.open:
            return
        # Cut off: by the end of input, by an error, or by the model's length limit.
        cut = not complete or self.errored or self.finish_reason in self.cut_off_reasons
        blame = complete and not self.errored  # else truncation or the error explains it
        self.drain_calls(out, cut=cut, blame=blame)
        if self.usage is not None:
            out.append({"type": "usage", **self.usage})
        if complete:
            out.append(done_event(self.finish_reason))
        else:
            self.truncated += 1
            out.append(
                error_event(
                    f"the {self.name} stream ended without its end marker (truncated)", TRUNCATED
                )
            )
        self.open = False
        self.errored = False
        self.resuming = False

    def error_event(self, event: Event, out: list[NormalizedEvent]) -> None:
        """`event: error` that the dialect's own reading did not report: an error all the same.

        Whatever its data (`{}`, text, nothing): Coze and proxies send such events.
        """
        try:
            document = loads(event.data)
        except ValueError:
            document = {"message": event.data.strip()[:300]}
        if not self.open:
            self.begin(out)
        self.error(out, *error_fields(document, f"{self.name} error event"))

    def error(self, out: list[NormalizedEvent], message: Any, code: Any = None) -> None:
        """An error reported by the provider inside the stream."""
        if not isinstance(message, str) or not message:
            message = f"{self.name} error event" + (f" ({code})" if code else "")
        self.errors += 1
        self.errored = True
        if self.first_error is None:
            self.first_error = message
        out.append(error_event(message, code))
