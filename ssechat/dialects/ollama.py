"""ollama: Ollama's native `/api/chat` and `/api/generate` streams (NDJSON, not SSE).

Wire shape: one JSON object per line (`ssechat.ndjson` makes each an event):
`{"model", "created_at", "message": {"role", "content", "thinking",
"tool_calls"}, "done": false}` for chat, `"response"` and `"thinking"` for
generate; the last line has `"done": true`, `done_reason` and the counts. An
error while streaming is a line `{"error": "..."}`, and the body ends there.

The table of its fields: docs/dialects.md, "ollama".
"""

from __future__ import annotations

from typing import Any, ClassVar

import orjson

from ssechat.dialects.base import Dialect
from ssechat.dialects.calls import ToolCall
from ssechat.dialects.fields import as_dict, as_list, emit_text, usage_event_fields
from ssechat.normalized import NormalizedEvent
from ssechat.sse import Event


class Ollama(Dialect):
    name: ClassVar[str] = "ollama"
    cut_off_reasons: ClassVar[frozenset[str]] = frozenset({"length"})

    def handle(self, line: Any, event: Event, out: list[NormalizedEvent]) -> None:
        if type(line) is not dict:
            return
        if not self.open:
            self.begin(out, line.get("model"))
        message = as_dict(line.get("message"))
        emit_text(out, "reasoning", message.get("thinking", line.get("thinking")))
        emit_text(out, "delta", message.get("content", line.get("response")))
        for call in as_list(message.get("tool_calls")):
            self._call(as_dict(call), out)
        error = line.get("error")
        if error:
            self.error(out, error if isinstance(error, str) else str(error))
            self.end(out, complete=True)
        elif line.get("done") is True:
            self.finish_reason = line.get("done_reason")
            if "eval_count" in line or "prompt_eval_count" in line:
                self.usage = usage_event_fields(
                    line.get("prompt_eval_count"), line.get("eval_count")
                )
            self.end(out, complete=True)

    def _call(self, call: dict[str, Any], out: list[NormalizedEvent]) -> None:
        """A whole call (Ollama never splits one): its arguments are an object."""
        function = as_dict(call.get("function"))
        arguments = function.get("arguments")
        raw = arguments if isinstance(arguments, str) else orjson.dumps(arguments or {}).decode()
        index = function.get("index", self.call_count)
        number = index if isinstance(index, int) else self.call_count
        tool = ToolCall(number, call.get("id"), function.get("name"))
        self.call_count += 1
        self.start_call(out, ("call", tool.index), tool, raw)
        self.finish_call(out, ("call", tool.index))
