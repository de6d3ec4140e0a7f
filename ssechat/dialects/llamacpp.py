"""llamacpp: the llama.cpp server's native `/completion` (and `/infill`) stream.

Wire shape: `data: {"content": "...", "stop": false, ...}` per token, then a
last event with `"stop": true`, the reason it stopped (`stop_type`: eos,
word, limit; older servers have only the booleans stopped_eos / stopped_word
/ stopped_limit, and no reason string: null), the token counts and
`timings`. Errors come as `{"error": {"code", "message", "type"}}`.

The table of its fields: docs/dialects.md, "llamacpp".
"""

from __future__ import annotations

from typing import Any, ClassVar

from ssechat.dialects.base import Dialect
from ssechat.dialects.fields import as_dict, emit_text, usage_event_fields
from ssechat.normalized import NormalizedEvent
from ssechat.sse import Event


class LlamaCpp(Dialect):
    name: ClassVar[str] = "llamacpp"
    cut_off_reasons: ClassVar[frozenset[str]] = frozenset({"limit"})

    def handle(self, payload: Any, event: Event, out: list[NormalizedEvent]) -> None:
        if type(payload) is not dict:
            return
        if not self.open:
            self.begin(out, payload.get("model"))
        emit_text(out, "delta", payload.get("content"))
        timings = as_dict(payload.get("timings"))
        inputs = payload.get("tokens_evaluated", timings.get("prompt_n"))
        outputs = payload.get("tokens_predicted", timings.get("predicted_n"))
        if inputs is not None or outputs is not None:
            self.usage = usage_event_fields(inputs, outputs)  # newer servers count as they go
        error = payload.get("error")
        if error or event.event == "error":
            error = as_dict(error) or {"message": error}
            self.error(out, error.get("message"), error.get("type") or error.get("code"))
            self.end(out, complete=True)
        elif payload.get("stop") is True:
            self.finish_reason = payload.get("stop_type")
            self.end(out, complete=True)
