"""dashscope: Alibaba Cloud DashScope's native generation stream (Qwen, Kimi... on Model Studio).

Wire shape: `id:N`, `event:result`, a `:HTTP_STATUS/200` comment, and
`data:{"output": {...}, "usage": {...}, "request_id": ...}`. The output is
`choices[].message` {content, reasoning_content, tool_calls} with
`result_format: message`, or `text` with the default format; its
`finish_reason` is the string "null" until the last event, which has the
real one. Content is cumulative (each event repeats the text so far) unless
the request set `incremental_output`; both become deltas here: an event
whose text extends the text so far is cumulative. Errors: `event:error`
with `{"code", "message", "request_id"}`.

The table of its fields: docs/dialects.md, "dashscope".
"""

from __future__ import annotations

from typing import Any, ClassVar

import orjson

from ssechat.dialects.base import Dialect
from ssechat.dialects.calls import ToolCall
from ssechat.dialects.fields import as_dict, as_list, emit_text, usage_event_fields
from ssechat.normalized import NormalizedEvent
from ssechat.sse import Event


def _text(content: Any) -> str:
    """Content as a string, or a list of parts [{"text": ...}] (multimodal models)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text") or "") for part in content if isinstance(part, dict))
    return ""


class DashScope(Dialect):
    name: ClassVar[str] = "dashscope"
    cut_off_reasons: ClassVar[frozenset[str]] = frozenset({"length"})

    def __init__(self) -> None:
        super().__init__()
        self.so_far: dict[str, str] = {}  # per field: the text given so far
        self.cumulative: bool | None = None  # unknown until an event tells

    def begin(self, out: list[NormalizedEvent], model: Any = None, response_id: Any = None) -> None:
        super().begin(out, model, response_id)
        self.so_far = {}
        self.cumulative = None

    def handle(self, document: Any, event: Event, out: list[NormalizedEvent]) -> None:
        payload = as_dict(document)
        if not payload and event.event != "error":
            return
        if not self.open:
            self.begin(out, response_id=payload.get("request_id"))
        output = as_dict(payload.get("output"))
        choices = output.get("choices")
        choice = as_dict(choices[0]) if isinstance(choices, list) and choices else output
        message = as_dict(choice.get("message"))
        emit_text(out, "reasoning", self._new("reasoning", message.get("reasoning_content")))
        content = message.get("content") if message else output.get("text")
        emit_text(out, "delta", self._new("text", _text(content)))
        for fragment in as_list(message.get("tool_calls")):
            self._tool_fragment(as_dict(fragment), out)
        usage = as_dict(payload.get("usage"))
        if usage:
            self.usage = usage_event_fields(
                usage.get("input_tokens"),
                usage.get("output_tokens"),
                total_tokens=usage.get("total_tokens"),
            )
        if event.event == "error" or (payload.get("code") and payload.get("message")):
            self.error(out, payload.get("message"), payload.get("code"))
            self.end(out, complete=True)
            return
        finish = choice.get("finish_reason")
        if finish and finish != "null":
            self.finish_reason = finish
            self.end(out, complete=True)

    def _new(self, field: str, text: Any) -> str:
        """The part of `text` not given yet: all of it when incremental."""
        if not text or not isinstance(text, str):
            return ""
        before = self.so_far.get(field, "")
        if self.cumulative is None and before:
            self.cumulative = text.startswith(before)
        if self.cumulative and text.startswith(before):
            self.so_far[field] = text
            return text[len(before) :]
        self.so_far[field] = before + text
        return text

    def _tool_fragment(self, fragment: dict[str, Any], out: list[NormalizedEvent]) -> None:
        function = as_dict(fragment.get("function"))
        arguments = function.get("arguments") or ""
        if not isinstance(arguments, str):
            arguments = orjson.dumps(arguments).decode()
        index = fragment.get("index", 0)
        call = self.calls.get(index)
        if call is None:
            number = index if isinstance(index, int) else len(self.calls)
            call = ToolCall(number, fragment.get("id"), function.get("name"))
            self.start_call(out, index, call, arguments)
            return
        if self.cumulative and arguments.startswith(call.raw):
            arguments = arguments[len(call.raw) :]
        if arguments:
            self.add_arguments(out, call, arguments)
