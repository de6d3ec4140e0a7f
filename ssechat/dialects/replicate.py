"""replicate: Replicate's prediction stream (`urls.stream`).

Wire shape: `event: output` whose data is the text itself (not JSON; a
multi-line piece comes as several `data:` lines, joined by LF), `event: logs`
(the model's log lines, not answer text), `event: error` with
`{"detail": ...}`, and `event: done` ending the stream, its data `{}` or
`{"reason": "canceled"}` (or `"error"`).

The table of its fields: docs/dialects.md, "replicate".
"""

from __future__ import annotations

from typing import ClassVar

from ssechat.dialects.base import Dialect
from ssechat.dialects.fields import as_dict
from ssechat.jsonload import loads
from ssechat.normalized import NormalizedEvent
from ssechat.sse import Event


def _object(data: str) -> dict[str, object]:
    try:
        return as_dict(loads(data)) if data.strip() else {}
    except ValueError:
        return {}


class Replicate(Dialect):
    name: ClassVar[str] = "replicate"

    def translate(self, event: Event, out: list[NormalizedEvent]) -> None:
        """Replicate's data is text (`output`), not JSON: the preamble does not apply."""
        name = event.event
        if name not in ("output", "logs", "error", "done"):
            return
        if not self.open:
            if name == "done":
                return
            self.begin(out)
        if name == "output":
            if event.data:
                out.append({"type": "delta", "text": event.data})
        elif name == "error":
            payload = _object(event.data)
            detail = payload.get("detail") or payload.get("error") or event.data
            self.error(out, detail if isinstance(detail, str) else str(detail))
        elif name == "done":
            self.finish_reason = _object(event.data).get("reason")
            self.end(out, complete=True)
