"""cohere: the Cohere v2 chat stream (`/v2/chat`).

Wire shape (PROVIDERS.md "cohere"): hyphenated types, as the SSE event name
and in the JSON `type`; message-start ... message-end.

| type                          | normalized                                   |
|-------------------------------|----------------------------------------------|
| message-start                 | start (id)                                   |
| content-delta                 | delta (`content.text`), reasoning (`content.thinking`) |
| tool-plan-delta               | tool_plan (a visible plan: not answer text)  |
| tool-call-start / delta / end | tool_call_delta; tool_call at tool-call-end  |
| message-end                   | usage (`usage.tokens`), done (`finish_reason`) |
| citation-*, content-start/end | nothing                                      |
"""

from __future__ import annotations

from typing import Any, ClassVar

from ssechat.dialects.base import Dialect, ToolCall, as_dict, emit_text, loads, usage_event_fields
from ssechat.normalized import NormalizedEvent
from ssechat.sse import Event

# base.loads: orjson, then the standard library for what only it reads
# (lone surrogate escapes, integers past 64 bits), never dropping the event.
_loads = loads
_JSONDecodeError = ValueError


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

    def translate(self, event: Event, out: list[NormalizedEvent]) -> None:  # noqa: C901
        try:
            payload = _loads(event.data)
        except _JSONDecodeError:
            return
        if type(payload) is not dict:
            return
        kind = payload.get("type") or event.event
        if kind == "content-delta":
            if not self.open:
                self.begin(out)
            content = as_dict(_message(payload).get("content"))
            text = content.get("text")
            emit_text(out, "delta", text)
            thinking = content.get("thinking")
            emit_text(out, "reasoning", thinking)
        elif kind == "message-start":
            message_id = payload.get("id")
            if not self.open or (message_id and message_id != self.message_id):
                self.begin(out, response_id=message_id)
        elif kind == "tool-plan-delta":
            if not self.open:
                self.begin(out)
            plan = _message(payload).get("tool_plan")
            emit_text(out, "tool_plan", plan)
        elif kind == "tool-call-start":
            if not self.open:
                self.begin(out)
            index = payload.get("index")
            call = as_dict(_message(payload).get("tool_calls"))
            function = as_dict(call.get("function"))
            arguments = function.get("arguments")
            number = index if isinstance(index, int) else 0
            tool = ToolCall(number, call.get("id"), function.get("name"))
            self.start_call(out, index, tool, arguments if isinstance(arguments, str) else "")
        elif kind == "tool-call-delta":
            open_call = self.calls.get(payload.get("index"))
            call = as_dict(_message(payload).get("tool_calls"))
            fragment = as_dict(call.get("function")).get("arguments")
            if open_call is not None and fragment and isinstance(fragment, str):
                self.add_arguments(out, open_call, fragment)
        elif kind == "tool-call-end":
            self.finish_call(out, payload.get("index"))
        elif kind == "message-end":
            if not self.open:
                self.begin(out)
            delta = as_dict(payload.get("delta"))
            self.finish_reason = delta.get("finish_reason")
            usage = as_dict(delta.get("usage"))
            tokens = as_dict(usage.get("tokens")) or as_dict(usage.get("billed_units"))
            if tokens:
                self.usage = usage_event_fields(
                    tokens.get("input_tokens"), tokens.get("output_tokens")
                )
            error = delta.get("error")
            if error:
                self.error(out, error if isinstance(error, str) else str(error))
            self.end(out, complete=True)
        elif kind == "error" or event.event == "error":
            if not self.open:
                self.begin(out)
            self.error(out, payload.get("message") or payload.get("error"), payload.get("code"))
