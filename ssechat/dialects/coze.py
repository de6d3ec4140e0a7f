"""coze: the Coze v3 chat stream (`/v3/chat`, submit_tool_outputs, workflow chat).

Wire shape: `event:conversation.*` (with or without a
space after the colon), chat objects with `status`, `usage` and
`last_error`, message objects with `type` and `content`, ended by `event:done`
(data `"[DONE]"`, `[DONE]` or a JSON object).

The table of its fields: docs/dialects.md, "coze".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Final, cast

import orjson

from ssechat.dialects.base import Dialect
from ssechat.dialects.calls import ToolCall
from ssechat.dialects.fields import as_dict, emit_text, usage_event_fields
from ssechat.jsonload import loads
from ssechat.normalized import NormalizedEvent
from ssechat.sse import Event

Handler = Callable[["Coze", str, dict[str, Any], list[NormalizedEvent]], None]

_STARTS = frozenset({"conversation.chat.created", "conversation.chat.in_progress"})
_ENDS = frozenset(
    {"conversation.chat.completed", "conversation.chat.failed", "conversation.chat.requires_action"}
)


class Coze(Dialect):
    name: ClassVar[str] = "coze"

    def __init__(self) -> None:
        super().__init__()
        self.chat_id: Any = None
        self.conversation_id: Any = None  # on the start line: the next call can continue it
        self.status: Any = None

    def begin(
        self,
        out: list[NormalizedEvent],
        model: Any = None,
        response_id: Any = None,
        conversation_id: Any = None,
    ) -> None:
        super().begin(out, model, response_id)
        self.chat_id = response_id
        self.conversation_id = conversation_id
        if conversation_id:
            cast("dict[str, Any]", out[-1])["conversation_id"] = conversation_id  # the start
        self.status = None

    def handle(self, payload: Any, event: Event, out: list[NormalizedEvent]) -> None:
        kind = event.event
        if kind == "done":
            self.done(out)
            return
        handler = _HANDLERS.get(kind)
        if handler is not None and type(payload) is dict:
            handler(self, kind, payload, out)

    def done(self, out: list[NormalizedEvent]) -> None:
        """`event: done` (its data `"[DONE]"`): the end, with the last status seen."""
        if self.open:
            self.finish_reason = self.status if self.status in _FINAL_STATUSES else None
            self.end(out, complete=True)

    def _delta(self, kind: str, payload: dict[str, Any], out: list[NormalizedEvent]) -> None:
        if not self.open:
            self.begin(out, None, payload.get("chat_id"), payload.get("conversation_id"))
        if payload.get("type") == "answer":
            emit_text(out, "reasoning", payload.get("reasoning_content"))
            emit_text(out, "delta", payload.get("content"))

    def _chat_start(self, kind: str, payload: dict[str, Any], out: list[NormalizedEvent]) -> None:
        chat_id = payload.get("id")
        if not self.open or (chat_id and self.chat_id and chat_id != self.chat_id):
            self.begin(out, None, chat_id, payload.get("conversation_id"))
        elif not self.chat_id:
            self.chat_id = chat_id
        self.status = payload.get("status")

    def _error(self, kind: str, payload: dict[str, Any], out: list[NormalizedEvent]) -> None:
        if not self.open:
            self.begin(out)
        message = payload.get("msg") or payload.get("message")
        self.error(out, message or "coze error event", payload.get("code"))

    def _completed_message(
        self, kind: str, payload: dict[str, Any], out: list[NormalizedEvent]
    ) -> None:
        mtype = payload.get("type")
        if mtype == "follow_up":
            if not self.open:
                self.begin(out, response_id=payload.get("chat_id"))
            if payload.get("content"):
                out.append({"type": "follow_up", "text": payload["content"]})
        elif mtype == "function_call":
            if not self.open:
                self.begin(out, response_id=payload.get("chat_id"))
            content = payload.get("content")
            try:
                call = loads(content) if isinstance(content, str) else content
            except ValueError:
                call = None
            call = as_dict(call)
            arguments = call.get("arguments", {})
            if isinstance(arguments, str):
                self._call(out, call.get("id"), call.get("name"), arguments)
            else:
                tool = ToolCall(self.call_count, call.get("id"), call.get("name"))
                self.call_count += 1
                text = orjson.dumps(arguments).decode() if arguments is not None else ""
                self.start_call(out, tool.index, tool, text)
                self.calls.pop(tool.index)
                self.emit_call(out, tool, text, value=arguments, parsed=True)

    def _call(self, out: list[NormalizedEvent], call_id: Any, name: Any, arguments: str) -> None:
        tool = ToolCall(self.call_count, call_id, name)
        self.call_count += 1
        self.start_call(out, tool.index, tool, arguments)
        self.finish_call(out, tool.index)

    def _chat_end(self, kind: str, payload: dict[str, Any], out: list[NormalizedEvent]) -> None:
        chat_id = payload.get("id")
        if not self.open or (chat_id and self.chat_id and chat_id != self.chat_id):
            self.begin(out, None, chat_id, payload.get("conversation_id"))
        self.status = payload.get("status")
        if kind == "conversation.chat.requires_action":
            action = as_dict(as_dict(payload.get("required_action")).get("submit_tool_outputs"))
            for call in action.get("tool_calls") or ():
                call = as_dict(call)
                function = as_dict(call.get("function"))
                arguments = function.get("arguments")
                if not isinstance(arguments, str):
                    arguments = orjson.dumps(arguments).decode() if arguments else ""
                self._call(out, call.get("id"), function.get("name"), arguments)
        usage = as_dict(payload.get("usage"))
        if usage:
            self.usage = usage_event_fields(
                usage.get("input_count"),
                usage.get("output_count"),
                total_tokens=usage.get("token_count"),
            )
        if kind == "conversation.chat.failed":
            error = as_dict(payload.get("last_error"))
            self.error(out, error.get("msg") or "the chat failed", error.get("code"))
        self.finish_reason = self.status or kind.rsplit(".", 1)[1]
        self.end(out, complete=True)


_FINAL_STATUSES = frozenset({"completed", "failed", "requires_action", "canceled"})
_HANDLERS: Final[dict[str, Handler]] = {
    "conversation.message.delta": Coze._delta,
    "conversation.message.completed": Coze._completed_message,
    **dict.fromkeys(_STARTS, Coze._chat_start),
    **dict.fromkeys(_ENDS, Coze._chat_end),
    "error": Coze._error,
}
