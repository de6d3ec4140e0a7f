"""dify: Dify's chat-messages, chatflow (advanced chat) and workflow-run streams.

Wire shape: `data: {"event": ..., ...}` (the type is in the JSON, not the SSE
event field). Chat apps stream `message` (or `agent_message`) with `answer`
fragments and end with `message_end` (metadata.usage); chatflows add
workflow_started / node_* / workflow_finished around them; workflow runs
stream `text_chunk` and end with `workflow_finished`. `ping` keeps alive.

The table of its fields: docs/dialects.md, "dify".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Final

import orjson

from ssechat.dialects.base import Dialect
from ssechat.dialects.calls import ToolCall
from ssechat.dialects.fields import as_dict, emit_text, usage_event_fields
from ssechat.jsonload import loads
from ssechat.normalized import NormalizedEvent
from ssechat.sse import Event

Handler = Callable[["Dify", dict[str, Any], list[NormalizedEvent]], None]


class Dify(Dialect):
    name: ClassVar[str] = "dify"

    def __init__(self) -> None:
        super().__init__()
        self.chat = False  # a message came: message_end, not workflow_finished, ends it
        self.workflow_status: Any = None
        self.thoughts: set[Any] = set()
        self.calls_made: list[str] = []

    def begin(self, out: list[NormalizedEvent], model: Any = None, response_id: Any = None) -> None:
        super().begin(out, model, response_id)
        self.chat = False
        self.workflow_status = None
        self.thoughts = set()
        self.calls_made = []

    def complete_at_eof(self) -> bool:
        return self.workflow_status is not None and not self.chat  # a workflow run that finished

    def close(self, out: list[NormalizedEvent], *, cut: bool = False) -> None:
        if self.open and self.complete_at_eof():
            self.finish_reason = self.workflow_status
        super().close(out, cut=cut)

    def handle(self, document: Any, event: Event, out: list[NormalizedEvent]) -> None:
        payload = as_dict(document)
        kind = payload.get("event") or event.event
        handler = HANDLERS.get(kind) if isinstance(kind, str) else None
        if handler is None or (handler is _nothing and not self.open):
            return  # bookkeeping events (ping, node_*, tts_* after the end) open nothing
        if not self.open:
            self.begin(out, response_id=payload.get("message_id") or payload.get("task_id"))
        handler(self, payload, out)

    def _message(self, payload: dict[str, Any], out: list[NormalizedEvent]) -> None:
        self.chat = True
        emit_text(out, "delta", payload.get("answer"))

    def _text_chunk(self, payload: dict[str, Any], out: list[NormalizedEvent]) -> None:
        emit_text(out, "delta", as_dict(payload.get("data")).get("text"))

    def _replace(self, payload: dict[str, Any], out: list[NormalizedEvent]) -> None:
        emit_text(out, "refusal", payload.get("answer"))

    def _thought(self, payload: dict[str, Any], out: list[NormalizedEvent]) -> None:
        """A thought naming its tools ("a;b"): one call each, the first time it does.

        `tool_input` is JSON keyed by tool name ({"dalle3": {"prompt": ...}}):
        each call gets its own part; other shapes are kept whole.
        """
        self.chat = True
        tools, key = payload.get("tool"), payload.get("id")
        if not tools or not isinstance(tools, str) or key in self.thoughts:
            return
        self.thoughts.add(key)
        raw = payload.get("tool_input")
        raw = raw if isinstance(raw, str) else ""
        try:
            inputs = as_dict(loads(raw)) if raw else {}
        except ValueError:
            inputs = {}
        names = [name for name in tools.split(";") if name]
        for name in names:
            index = len(self.calls_made)
            self.calls_made.append(name)
            part = inputs.get(name) if set(names) <= set(inputs) else None
            arguments = orjson.dumps(part).decode() if part is not None else raw
            self.start_call(out, (key, name), ToolCall(index, None, name), arguments)
            self.finish_call(out, (key, name))

    def _message_end(self, payload: dict[str, Any], out: list[NormalizedEvent]) -> None:
        usage = as_dict(as_dict(payload.get("metadata")).get("usage"))
        if usage:
            self.usage = usage_event_fields(
                usage.get("prompt_tokens"),
                usage.get("completion_tokens"),
                total_tokens=usage.get("total_tokens"),
            )
        self.end(out, complete=True)

    def _workflow_finished(self, payload: dict[str, Any], out: list[NormalizedEvent]) -> None:
        data = as_dict(payload.get("data"))
        self.workflow_status = data.get("status") or "finished"
        if data.get("error") or data.get("status") == "failed":
            self.error(out, data.get("error"), data.get("status"))

    def _error(self, payload: dict[str, Any], out: list[NormalizedEvent]) -> None:
        self.error(out, payload.get("message"), payload.get("code"))


def _nothing(dialect: Dify, payload: dict[str, Any], out: list[NormalizedEvent]) -> None:
    pass


HANDLERS: Final[dict[str, Handler]] = {
    "message": Dify._message,
    "agent_message": Dify._message,
    "text_chunk": Dify._text_chunk,
    "message_replace": Dify._replace,
    "agent_thought": Dify._thought,
    "message_end": Dify._message_end,
    "workflow_finished": Dify._workflow_finished,
    "error": Dify._error,
    "workflow_started": _nothing,
    "node_started": _nothing,
    "node_finished": _nothing,
    "iteration_started": _nothing,
    "iteration_next": _nothing,
    "iteration_completed": _nothing,
    "loop_started": _nothing,
    "loop_next": _nothing,
    "loop_completed": _nothing,
    "parallel_branch_started": _nothing,
    "parallel_branch_finished": _nothing,
    "node_retry": _nothing,
    "message_file": _nothing,
    "tts_message": _nothing,
    "tts_message_end": _nothing,
    "agent_log": _nothing,
    "ping": _nothing,
}
"""Every event of the API: detection knows the format by the `event` key holding one."""
