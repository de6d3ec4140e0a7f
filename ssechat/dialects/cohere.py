"""cohere: the Cohere v2 chat stream (`/v2/chat`).

Wire shape: hyphenated types, as the SSE event name
and in the JSON `type`; message-start ... message-end.

The table of its fields: docs/dialects.md, "cohere".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Final

from ssechat.dialects.base import Dialect
from ssechat.dialects.calls import ToolCall
from ssechat.dialects.fields import as_dict, emit_text, is_text, usage_event_fields
from ssechat.normalized import NormalizedEvent
from ssechat.sse import Event

Handler = Callable[["Cohere", dict[str, Any], list[NormalizedEvent]], None]


def _message(payload: dict[str, Any]) -> dict[str, Any]:
    return as_dict(as_dict(payload.get("delta")).get("message"))


class Cohere(Dialect):
    name: ClassVar[str] = "cohere"
    cut_off_reasons: ClassVar[frozenset[str]] = frozenset({"MAX_TOKENS"})

    def __init__(self) -> None:
        super().__init__()
        self.message_id: Any = None

    def begin(self, out: list[NormalizedEvent], model: Any = None, response_id: Any = None) -> None:
        super().begin(out, model, response_id)
        self.message_id = response_id

    def handle(self, payload: Any, event: Event, out: list[NormalizedEvent]) -> None:
        if type(payload) is not dict:
            return
        kind = payload.get("type") or event.event
        handler = _HANDLERS.get(kind) if isinstance(kind, str) else None
        if handler is None and event.event == "error":
            handler = Cohere._error
        if handler is not None:
            handler(self, payload, out)

    def _opened(self, out: list[NormalizedEvent]) -> None:
        if not self.open:
            self.begin(out)

    def _content(self, payload: dict[str, Any], out: list[NormalizedEvent]) -> None:
        self._opened(out)
        content = as_dict(_message(payload).get("content"))
        emit_text(out, "delta", content.get("text"))
        emit_text(out, "reasoning", content.get("thinking"))

    def _message_start(self, payload: dict[str, Any], out: list[NormalizedEvent]) -> None:
        message_id = payload.get("id")
        if not self.open or (message_id and message_id != self.message_id):
            self.begin(out, response_id=message_id)

    def _tool_plan(self, payload: dict[str, Any], out: list[NormalizedEvent]) -> None:
        self._opened(out)
        emit_text(out, "tool_plan", _message(payload).get("tool_plan"))

    def _call_start(self, payload: dict[str, Any], out: list[NormalizedEvent]) -> None:
        self._opened(out)
        index = payload.get("index")
        call = as_dict(_message(payload).get("tool_calls"))
        function = as_dict(call.get("function"))
        arguments = function.get("arguments")
        number = index if isinstance(index, int) else 0
        tool = ToolCall(number, call.get("id"), function.get("name"))
        self.start_call(out, index, tool, arguments if isinstance(arguments, str) else "")

    def _call_delta(self, payload: dict[str, Any], out: list[NormalizedEvent]) -> None:
        open_call = self.calls.get(payload.get("index"))
        call = as_dict(_message(payload).get("tool_calls"))
        fragment = as_dict(call.get("function")).get("arguments")
        if open_call is not None and is_text(fragment):
            self.add_arguments(out, open_call, fragment)

    def _call_end(self, payload: dict[str, Any], out: list[NormalizedEvent]) -> None:
        self.finish_call(out, payload.get("index"))

    def _message_end(self, payload: dict[str, Any], out: list[NormalizedEvent]) -> None:
        self._opened(out)
        delta = as_dict(payload.get("delta"))
        self.finish_reason = delta.get("finish_reason")
        usage = as_dict(delta.get("usage"))
        tokens = as_dict(usage.get("tokens")) or as_dict(usage.get("billed_units"))
        if tokens:
            self.usage = usage_event_fields(tokens.get("input_tokens"), tokens.get("output_tokens"))
        error = delta.get("error")
        if error:
            self.error(out, error if isinstance(error, str) else str(error))
        self.end(out, complete=True)

    def _error(self, payload: dict[str, Any], out: list[NormalizedEvent]) -> None:
        self._opened(out)
        self.error(out, payload.get("message") or payload.get("error"), payload.get("code"))


_HANDLERS: Final[dict[str, Handler]] = {
    "content-delta": Cohere._content,
    "message-start": Cohere._message_start,
    "tool-plan-delta": Cohere._tool_plan,
    "tool-call-start": Cohere._call_start,
    "tool-call-delta": Cohere._call_delta,
    "tool-call-end": Cohere._call_end,
    "message-end": Cohere._message_end,
    "error": Cohere._error,
}
