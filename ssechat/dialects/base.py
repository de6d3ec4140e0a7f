"""What every dialect shares: the response life cycle and tool-call assembly.

A dialect turns the SSE events of one provider into normalized events
(DESIGN.md section 3). Subclasses only read their provider's shapes; this
module owns the rules that must be the same everywhere:

- a response is `start` ... `done`, and `done` is its last line; usage comes
  once, just before `done`;
- an input that ends (or a new response that starts) before the end marker
  gives `{"type": "error", "code": "truncated"}` in place of `done`, unless
  the provider already reported an error for that response (the error is
  then the reason it ended, and `done` follows with a null finish reason);
- a tool call comes out once, as `tool_call`, when complete: arguments parsed
  by `ssechat.repair.parse_tool_arguments` (`repaired: true` when repair was
  needed; the raw string and `error` when even repair fails). A call cut off
  by the end of the response is never repaired: it keeps the raw string and
  `error: "incomplete"`, so that it can never look executable.

The one entry point is `Dialect.feed` (a batch of events in); `read` is the
plain path, one event at a time; the template fast path is in `templates`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, NamedTuple

import orjson

from ssechat.jsonload import stdlib_loads
from ssechat.normalized import TRUNCATED, NormalizedEvent, error_event, start_event
from ssechat.sse import Event

INCOMPLETE = "incomplete"
# What a dialect may raise on JSON of an unexpected shape: reported as an
# error event, never a crash.
MALFORMED = (AttributeError, TypeError, KeyError, IndexError, ValueError)

_loads = orjson.loads
_JSONDecodeError = orjson.JSONDecodeError


def loads(data: str) -> Any:
    """Parse an event's data as JSON; raises ValueError when it is not JSON.

    orjson first (about twice as fast as the standard library); the standard
    library for what orjson refuses but JSON allows: integers past 64 bits
    (Coze plugin ids) and lone surrogate escapes. Too deep is invalid
    (`ssechat.jsonload`), never a crash.
    """
    try:
        return _loads(data)
    except _JSONDecodeError:
        return stdlib_loads(data)


class Continuation(NamedTuple):
    """How an open response may be continued (`Dialect.continuation`).

    `kind` "stream": read the same response again from `after` (a Responses
    background response, by `response_id`); "prefill": ask again with the
    answer so far as the start of the reply (Anthropic, text only).
    """

    kind: str
    response_id: str = ""
    after: int = 0


class ToolCall:
    """A tool call being assembled from fragments."""

    __slots__ = ("choice", "custom", "id", "index", "name", "parts")

    def __init__(
        self, index: int, call_id: Any, name: Any, *, choice: int = 0, custom: bool = False
    ) -> None:
        self.index = index
        self.id = call_id
        self.name = name
        self.choice = choice
        self.custom = custom  # free-form input (Responses custom tools): kept as a string
        self.parts: list[str] = []

    @property
    def raw(self) -> str:
        return "".join(self.parts)


class Dialect:
    """Base class: feed SSE events in, get normalized events appended to `out`."""

    name: ClassVar[str] = ""
    cut_off_reasons: ClassVar[frozenset[str]] = frozenset()
    """Finish reasons that mean "the model was stopped mid-output" (max tokens)."""

    def __init__(self) -> None:
        self.open = False  # a response is in progress
        self.errored = False  # the open response reported an error
        self.finish_reason: Any = None
        self.usage: dict[str, Any] | None = None
        self.calls: dict[Any, ToolCall] = {}  # open tool calls, by the dialect's key
        self.call_count = 0  # calls started in this response: the next one's index
        # Closed calls whose arguments do not parse, until the finish reason says
        # whether they were cut off (length) or only need repair.
        self.held: list[tuple[ToolCall, str]] = []
        # Over the whole input, for the exit status:
        self.responses = 0
        self.errors = 0  # error events (not counting truncation)
        self.truncated = 0  # responses that ended without their end marker
        self.bad_calls = 0  # tool calls with an error in otherwise complete responses
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

    def read(self, event: Event, out: list[NormalizedEvent]) -> None:
        """The plain path: one event, every field read (`translate`), never a crash.

        JSON of an unexpected shape is a `malformed` error; an `event: error`
        that the dialect's reading did not report is an error all the same.
        """
        errors = self.errors
        try:
            self.translate(event, out)
        except MALFORMED as exc:
            self.malformed(event, exc, out)
        if event[0] == "error" and self.errors == errors:
            self.error_event(event, out)

    def translate(self, event: Event, out: list[NormalizedEvent]) -> None:
        """Translate one SSE event; append the normalized events it gives to `out`."""
        raise NotImplementedError

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

        `send` turns it into a request (`providers.continuation_request`);
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
        held, self.held = self.held, []
        held += [(call, call.raw) for call in self.calls.values()]
        self.calls = {}
        for call, raw in held:
            self.emit_call(out, call, raw, cut_off=cut, blame=blame)
        if self.usage is not None:
            out.append({"type": "usage", **self.usage})
        if complete:
            out.append({"type": "done", "finish_reason": self.finish_reason})
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

    # -- tool calls ----------------------------------------------------------

    def start_call(
        self,
        out: list[NormalizedEvent],
        key: Any,
        call: ToolCall,
        arguments: str = "",
    ) -> ToolCall:
        """A new call: its first `tool_call_delta` carries the id and the name."""
        self.calls[key] = call
        if arguments:
            call.parts.append(arguments)
        delta: NormalizedEvent = {
            "type": "tool_call_delta",
            "index": call.index,
            "id": call.id,
            "name": call.name,
            "arguments": arguments,
        }
        if call.choice:
            delta["choice"] = call.choice
        out.append(delta)
        return call

    def add_arguments(self, out: list[NormalizedEvent], call: ToolCall, fragment: str) -> None:
        call.parts.append(fragment)
        delta: NormalizedEvent = {
            "type": "tool_call_delta",
            "index": call.index,
            "arguments": fragment,
        }
        if call.choice:
            delta["choice"] = call.choice
        out.append(delta)

    def finish_call(
        self,
        out: list[NormalizedEvent],
        key: Any,
        *,
        cut_off: bool = False,
        raw: str | None = None,
        blame: bool = True,
    ) -> None:
        """The call under `key` is complete (or cut off): emit its `tool_call`.

        `raw`, when given, is the provider's authoritative full argument
        string (Responses `.done` events), used in place of the fragments.
        Arguments that do not parse wait for the end of the response (`held`):
        only its finish reason tells a cut-off call from one to repair.
        """
        call = self.calls.pop(key, None)
        if call is None:
            return
        text = call.raw if raw is None else raw
        if not (cut_off or call.custom or _whole(text)):
            self.held.append((call, text))
            return
        self.emit_call(out, call, text, cut_off=cut_off, blame=blame)

    def emit_call(
        self,
        out: list[NormalizedEvent],
        call: ToolCall,
        raw: str,
        *,
        cut_off: bool = False,
        value: Any = None,
        parsed: bool = False,
        blame: bool = True,
    ) -> None:
        """One `tool_call` line. `parsed=True`: `value` is already the arguments.

        `blame=False` when the response itself was truncated or failed: the
        call's error is then counted with that, not as a bad call.
        """
        event: NormalizedEvent = {
            "type": "tool_call",
            "index": call.index,
            "id": call.id,
            "name": call.name,
        }
        if call.choice:
            event["choice"] = call.choice
        if parsed:
            event["arguments"] = value
        elif call.custom:
            event["arguments"] = raw  # free-form input: complete only when closed
            if cut_off:
                event["error"] = INCOMPLETE
                if blame:
                    self.bad_calls += 1
        elif cut_off:
            # Never repaired: only a document that parses as it stands (an
            # object or array is closed, so it cannot be a cut-off prefix).
            try:
                whole = _loads(raw)
            except _JSONDecodeError:
                whole = None
            if isinstance(whole, (dict, list)):
                event["arguments"] = whole
            else:
                event["arguments"] = raw
                event["error"] = INCOMPLETE
                if blame:
                    self.bad_calls += 1  # cut by max tokens in a response that ended
        else:
            # Imported here: a stream of text only never loads the repairer (start-up).
            from ssechat.repair import RepairError, parse_tool_arguments

            try:
                arguments, repaired = parse_tool_arguments(raw)
            except (RepairError, ValueError, RecursionError) as exc:
                event["arguments"] = raw
                event["error"] = str(exc) or "cannot repair the arguments"
                self.bad_calls += 1
            else:
                event["arguments"] = arguments
                if repaired:
                    event["repaired"] = True
        out.append(event)


def _whole(raw: str) -> bool:
    """Whether tool-call arguments are a whole JSON object or array as they stand."""
    try:
        return isinstance(_loads(raw), (dict, list))
    except _JSONDecodeError:
        return False


def usage_event_fields(
    input_tokens: Any,
    output_tokens: Any,
    **more: Any,
) -> dict[str, Any]:
    """The `usage` fields: input and output always, the others when the provider gives them."""
    fields: dict[str, Any] = {"input_tokens": input_tokens, "output_tokens": output_tokens}
    for key, value in more.items():
        if value is not None:
            fields[key] = value
    return fields


def error_fields(document: Any, default: str) -> tuple[str, Any]:
    """The message and code of an error object, in the shapes providers use.

    `{"error": {"message", "code"|"type"|"status"}}`, `{"message"|"msg", "code"}`,
    `{"detail": ...}`, or a list of one (Gemini); `default` when it says no message.
    """
    if isinstance(document, list) and document:
        document = document[0]  # Gemini answers some errors with an array
    body = as_dict(document)
    error = body.get("error")
    if isinstance(error, dict):
        message = error.get("message") or error.get("msg")
        code = error.get("code") or error.get("type") or error.get("status")
    else:
        message = error if isinstance(error, str) else body.get("message") or body.get("msg")
        code = body.get("code") or body.get("status")
        if code is None and body.get("type") != "error":
            code = body.get("type")
        detail = body.get("detail")
        if not message and detail:
            message = detail if isinstance(detail, str) else str(detail)
    if not isinstance(message, str) or not message:
        message = default
    return message, code


def after(items: Sequence[Event], item: Event) -> Sequence[Event]:
    """The events after `item` (found by identity: equal events may come before it).

    For the loops that hand back what follows the end of a response: they
    do not count positions, which would cost every event of a long answer.
    """
    for position in range(len(items) - 1, -1, -1):
        if items[position] is item:
            return items[position + 1 :]
    raise ValueError("the item is not among the items")


def as_dict(value: Any) -> dict[str, Any]:
    """`value` when it is a JSON object, else an empty one (providers send null freely)."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """`value` when it is a JSON array, else an empty one."""
    return value if isinstance(value, list) else []


def emit_text(out: list[NormalizedEvent], kind: str, value: Any) -> None:
    """Append a `{"type": kind, "text": value}` event when value is non-empty text."""
    if value and isinstance(value, str):
        out.append({"type": kind, "text": value})
