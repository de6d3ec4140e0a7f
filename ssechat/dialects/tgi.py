"""tgi: Hugging Face text-generation-inference `/generate_stream` (and the HF Inference API).

Wire shape: `data:{"index", "token": {"id", "text", "logprob", "special"},
"generated_text": null, "details": null}` per token; the last event carries
`generated_text` (the whole text, which includes the prompt when
`return_full_text` is on, so it is never used as the answer) and, when asked
for, `details` {finish_reason, generated_tokens, input_length}. An error is
an event `{"error": "...", "error_type": "validation"}`; the body ends there.
(TGI's `/v1/chat/completions` is OpenAI chunks: openai-chat reads it.)

The table of its fields: docs/dialects.md, "tgi".
"""

from __future__ import annotations

from typing import Any, ClassVar

from ssechat.dialects.base import Dialect
from ssechat.dialects.fields import as_dict, is_text, usage_event_fields
from ssechat.normalized import NormalizedEvent
from ssechat.sse import Event


class TGI(Dialect):
    name: ClassVar[str] = "tgi"
    cut_off_reasons: ClassVar[frozenset[str]] = frozenset({"length"})

    def handle(self, payload: Any, event: Event, out: list[NormalizedEvent]) -> None:
        if type(payload) is not dict:
            return
        if not self.open:
            self.begin(out)
        token = as_dict(payload.get("token"))
        text = token.get("text")
        if is_text(text) and not token.get("special"):
            out.append({"type": "delta", "text": text})
        error = payload.get("error")
        if error or event.event == "error":
            self.error(out, error if isinstance(error, str) else None, payload.get("error_type"))
            self.end(out, complete=True)
            return
        if payload.get("generated_text") is not None:
            details = as_dict(payload.get("details"))
            self.finish_reason = details.get("finish_reason")
            if "generated_tokens" in details:
                self.usage = usage_event_fields(
                    details.get("input_length"), details.get("generated_tokens")
                )
            self.end(out, complete=True)
