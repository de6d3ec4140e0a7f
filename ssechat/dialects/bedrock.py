"""bedrock: Amazon Bedrock's ConverseStream (frames of the AWS event stream).

Wire shape: `ssechat.eventstream` turns each binary frame into an event
typed by its `:event-type` header, data its JSON payload. messageStart ->
(contentBlockStart? -> contentBlockDelta* -> contentBlockStop)* ->
messageStop -> metadata. messageStop is the end marker; the metadata frame
that follows it carries the usage, so the response ends there (or at the end
of the input once messageStop came). Exceptions come as frames typed
`...Exception` with `{"message": ...}`.

The table of its fields: docs/dialects.md, "bedrock".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Final

from ssechat.dialects.base import Dialect
from ssechat.dialects.calls import ToolCall
from ssechat.dialects.fields import as_dict, emit_text, is_text, usage_event_fields
from ssechat.normalized import NormalizedEvent
from ssechat.sse import Event

_OPENING: Final = frozenset({"contentBlockStart", "contentBlockDelta", "messageStop"})


class Bedrock(Dialect):
    name: ClassVar[str] = "bedrock"
    cut_off_reasons: ClassVar[frozenset[str]] = frozenset({"max_tokens"})

    def __init__(self) -> None:
        super().__init__()
        self.stopped = False

    def begin(self, out: list[NormalizedEvent], model: Any = None, response_id: Any = None) -> None:
        super().begin(out, model, response_id)
        self.stopped = False

    def complete_at_eof(self) -> bool:
        return self.stopped  # messageStop came; only the metadata frame is missing

    def handle(self, document: Any, event: Event, out: list[NormalizedEvent]) -> None:
        name = event.event
        payload = as_dict(document)
        handler = HANDLERS.get(name)
        if name == "messageStart" or (not self.open and name in _OPENING):
            self.begin(out)
        if handler is not None:
            if self.open:
                handler(self, payload, out)
        elif name == "error" or name.endswith("Exception"):
            if not self.open:
                self.begin(out)
            message = payload.get("message") or payload.get("Message")
            self.error(out, message, payload.get("code") or name)

    def _delta(self, payload: dict[str, Any], out: list[NormalizedEvent]) -> None:
        delta = as_dict(payload.get("delta"))
        emit_text(out, "delta", delta.get("text"))
        emit_text(out, "reasoning", as_dict(delta.get("reasoningContent")).get("text"))
        fragment = as_dict(delta.get("toolUse")).get("input")
        call = self.calls.get(payload.get("contentBlockIndex"))
        if call is not None and is_text(fragment):
            self.add_arguments(out, call, fragment)

    def _block_start(self, payload: dict[str, Any], out: list[NormalizedEvent]) -> None:
        tool = as_dict(as_dict(payload.get("start")).get("toolUse"))
        index = payload.get("contentBlockIndex")
        if tool:
            number = index if isinstance(index, int) else len(self.calls)
            self.start_call(out, index, ToolCall(number, tool.get("toolUseId"), tool.get("name")))

    def _block_stop(self, payload: dict[str, Any], out: list[NormalizedEvent]) -> None:
        self.finish_call(out, payload.get("contentBlockIndex"))

    def _stop(self, payload: dict[str, Any], out: list[NormalizedEvent]) -> None:
        self.finish_reason = payload.get("stopReason")
        self.stopped = True

    def _metadata(self, payload: dict[str, Any], out: list[NormalizedEvent]) -> None:
        usage = as_dict(payload.get("usage"))
        if usage:
            self.usage = usage_event_fields(
                usage.get("inputTokens"),
                usage.get("outputTokens"),
                cache_read_input_tokens=usage.get("cacheReadInputTokens"),
                cache_write_input_tokens=usage.get("cacheWriteInputTokens"),
            )
        if self.stopped:
            self.end(out, complete=True)


def _ignore(dialect: Bedrock, payload: dict[str, Any], out: list[NormalizedEvent]) -> None:
    pass


HANDLERS: Final[dict[str, Callable[[Bedrock, dict[str, Any], list[NormalizedEvent]], None]]] = {
    "messageStart": _ignore,
    "contentBlockStart": Bedrock._block_start,
    "contentBlockDelta": Bedrock._delta,
    "contentBlockStop": Bedrock._block_stop,
    "messageStop": Bedrock._stop,
    "metadata": Bedrock._metadata,
}
