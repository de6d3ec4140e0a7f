"""generic: the simplest servers: data JSON with a `content` field.

Wire shape (docs/design.md, "Normalized events"): `data: {"content": "..."}` per event, ended
by `data: [DONE]` or an `event: done`. Also read when present: `reasoning`
(or `reasoning_content`) as reasoning, `finish_reason` (or `stop_reason`),
`usage` with input/output (or prompt/completion) tokens, `model`, `id` and
`error`.


The table of its fields: docs/dialects.md, "generic".
"""

from __future__ import annotations

from typing import Any, ClassVar

from ssechat.dialects.base import Dialect
from ssechat.dialects.fields import as_dict, emit_text, usage_event_fields
from ssechat.normalized import NormalizedEvent
from ssechat.sse import Event


class Generic(Dialect):
    name: ClassVar[str] = "generic"

    def done(self, out: list[NormalizedEvent]) -> None:
        self.end(out, complete=True)

    def handle(self, payload: Any, event: Event, out: list[NormalizedEvent]) -> None:
        if event.event == "done":
            if self.open:
                if type(payload) is dict:
                    self._fields(payload, out)
                self.end(out, complete=True)
            return
        if type(payload) is not dict:
            return
        if not self.open:
            self.begin(out, payload.get("model"), payload.get("id"))
        content = payload.get("content")
        emit_text(out, "delta", content)
        if len(payload) > 1:
            self._fields(payload, out)

    def _fields(self, payload: dict[str, Any], out: list[NormalizedEvent]) -> None:
        reasoning = payload.get("reasoning") or payload.get("reasoning_content")
        emit_text(out, "reasoning", reasoning)
        finish = payload.get("finish_reason", payload.get("stop_reason"))
        if finish is not None:
            self.finish_reason = finish
        usage = as_dict(payload.get("usage"))
        if usage:
            self.usage = usage_event_fields(
                usage.get("input_tokens", usage.get("prompt_tokens")),
                usage.get("output_tokens", usage.get("completion_tokens")),
                total_tokens=usage.get("total_tokens"),
            )
        error = payload.get("error")
        if error:
            if isinstance(error, dict):
                self.error(out, error.get("message"), error.get("code") or error.get("type"))
            else:
                self.error(out, str(error))
