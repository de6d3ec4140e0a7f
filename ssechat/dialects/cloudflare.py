"""cloudflare: Cloudflare Workers AI's native text-generation stream.

Wire shape: `data: {"response": "...", "p": "..."}` per token (`p` is
padding against length side channels, not text), a last event with an empty
`response` and `usage`, then `data: [DONE]`. There is no finish reason.
Function calling adds whole calls in `tool_calls` [{name, arguments}].
Errors: `{"errors": [{"message", "code"}]}` or `{"error": ...}`.

The table of its fields: docs/dialects.md, "cloudflare".
"""

from __future__ import annotations

from typing import Any, ClassVar

import orjson

from ssechat.dialects.base import Dialect
from ssechat.dialects.calls import ToolCall
from ssechat.dialects.fields import as_dict, as_list, emit_text, usage_event_fields
from ssechat.normalized import NormalizedEvent
from ssechat.sse import Event


class Cloudflare(Dialect):
    name: ClassVar[str] = "cloudflare"

    def done(self, out: list[NormalizedEvent]) -> None:
        self.end(out, complete=True)

    def handle(self, payload: Any, event: Event, out: list[NormalizedEvent]) -> None:
        if type(payload) is not dict:
            return
        if not self.open:
            self.begin(out)
        emit_text(out, "delta", payload.get("response"))
        for call in as_list(payload.get("tool_calls")):
            self._call(as_dict(call), out)
        usage = as_dict(payload.get("usage"))
        if usage:
            self.usage = usage_event_fields(
                usage.get("prompt_tokens"),
                usage.get("completion_tokens"),
                total_tokens=usage.get("total_tokens"),
            )
        errors = as_list(payload.get("errors")) or (
            [payload["error"]] if payload.get("error") else []
        )
        for error in errors:
            error = as_dict(error) or {"message": str(error)}
            self.error(out, error.get("message"), error.get("code"))
        if event.event == "error" and not errors:
            self.error(out, None)

    def _call(self, call: dict[str, Any], out: list[NormalizedEvent]) -> None:
        function = as_dict(call.get("function")) or call
        arguments = function.get("arguments")
        raw = arguments if isinstance(arguments, str) else orjson.dumps(arguments or {}).decode()
        tool = ToolCall(self.call_count, call.get("id"), function.get("name"))
        self.call_count += 1
        self.start_call(out, ("call", tool.index), tool, raw)
        self.finish_call(out, ("call", tool.index))
