"""vercel-ui: the Vercel AI SDK UI message stream (AI SDK 5+, `x-vercel-ai-ui-message-stream: v1`).

Wire shape: `data: {"type": ...}` chunks, ended by `data: [DONE]`: start,
start-step, text-start / text-delta / text-end, reasoning-*, tool-input-*,
tool-output-*, source-*, file, data-*, finish-step, finish, abort, error.

The table of its fields: docs/dialects.md, "vercel-ui".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Final

import orjson

from ssechat.dialects.base import Dialect
from ssechat.dialects.calls import ToolCall
from ssechat.dialects.fields import as_dict, emit_text, is_text, usage_event_fields
from ssechat.normalized import NormalizedEvent
from ssechat.sse import Event

Handler = Callable[["VercelUI", dict[str, Any], list[NormalizedEvent]], None]


class VercelUI(Dialect):
    name: ClassVar[str] = "vercel-ui"
    cut_off_reasons: ClassVar[frozenset[str]] = frozenset({"length"})

    def done(self, out: list[NormalizedEvent]) -> None:
        self.end(out, complete=True)

    def handle(self, document: Any, event: Event, out: list[NormalizedEvent]) -> None:
        chunk = as_dict(document)
        kind = chunk.get("type")
        if not self.open:
            if kind == "start":
                self.begin(out, response_id=chunk.get("messageId"))
                return
            self.begin(out)
        handler = HANDLERS.get(kind) if isinstance(kind, str) else None
        if handler is not None:
            handler(self, chunk, out)
        elif event.event == "error":
            self.error(out, event.data.strip() or None)

    def _text(self, chunk: dict[str, Any], out: list[NormalizedEvent]) -> None:
        emit_text(out, "delta", chunk.get("delta"))

    def _reasoning(self, chunk: dict[str, Any], out: list[NormalizedEvent]) -> None:
        emit_text(out, "reasoning", chunk.get("delta"))

    def _input_start(self, chunk: dict[str, Any], out: list[NormalizedEvent]) -> None:
        key = chunk.get("toolCallId")
        if chunk.get("providerExecuted") or key in self.calls:
            return
        call = ToolCall(self.call_count, key, chunk.get("toolName"))
        self.call_count += 1
        self.start_call(out, key, call)

    def _input_delta(self, chunk: dict[str, Any], out: list[NormalizedEvent]) -> None:
        call = self.calls.get(chunk.get("toolCallId"))
        fragment = chunk.get("inputTextDelta")
        if call is not None and is_text(fragment):
            self.add_arguments(out, call, fragment)

    def _input_available(self, chunk: dict[str, Any], out: list[NormalizedEvent]) -> None:
        if chunk.get("providerExecuted"):
            return
        key = chunk.get("toolCallId")
        if key not in self.calls:
            self._input_start(chunk, out)
        call = self.calls.pop(key, None)
        if call is not None:
            raw = orjson.dumps(chunk.get("input")).decode()
            self.emit_call(out, call, raw, value=chunk.get("input"), parsed=True)

    def _input_error(self, chunk: dict[str, Any], out: list[NormalizedEvent]) -> None:
        """Input the SDK could not parse: the call keeps it, with the SDK's error."""
        key = chunk.get("toolCallId")
        if key not in self.calls:
            self._input_start(chunk, out)
        call = self.calls.pop(key, None)
        if call is not None:
            out.append(
                {
                    "type": "tool_call",
                    "index": call.index,
                    "id": call.id,
                    "name": call.name,
                    "arguments": chunk.get("input"),
                    "error": chunk.get("errorText") or "invalid input",
                }
            )
            self.bad_calls += 1

    def _error(self, chunk: dict[str, Any], out: list[NormalizedEvent]) -> None:
        self.error(out, chunk.get("errorText"))

    def _finish(self, chunk: dict[str, Any], out: list[NormalizedEvent]) -> None:
        if "finishReason" in chunk:
            self.finish_reason = chunk["finishReason"]
        usage = as_dict(as_dict(chunk.get("messageMetadata")).get("usage"))
        if usage:
            self.usage = usage_event_fields(
                usage.get("inputTokens", usage.get("promptTokens")),
                usage.get("outputTokens", usage.get("completionTokens")),
            )

    def _abort(self, chunk: dict[str, Any], out: list[NormalizedEvent]) -> None:
        self.finish_reason = chunk.get("reason") or "abort"


def _nothing(dialect: VercelUI, chunk: dict[str, Any], out: list[NormalizedEvent]) -> None:
    pass


HANDLERS: Final[dict[str, Handler]] = {
    "text-delta": VercelUI._text,
    "reasoning-delta": VercelUI._reasoning,
    "tool-input-start": VercelUI._input_start,
    "tool-input-delta": VercelUI._input_delta,
    "tool-input-available": VercelUI._input_available,
    "tool-input-error": VercelUI._input_error,
    "error": VercelUI._error,
    "finish": VercelUI._finish,
    "abort": VercelUI._abort,
    "start": _nothing,
    "start-step": _nothing,
    "finish-step": _nothing,
    "text-start": _nothing,
    "text-end": _nothing,
    "reasoning-start": _nothing,
    "reasoning-end": _nothing,
    "tool-output-available": _nothing,
    "tool-output-error": _nothing,
    "source-url": _nothing,
    "source-document": _nothing,
    "file": _nothing,
    "message-metadata": _nothing,
}
"""Every chunk type of the protocol: detection knows the format by these (and `data-*`)."""
