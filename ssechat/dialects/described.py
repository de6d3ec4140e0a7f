"""described: a dialect read from a user's dialect file (`description.Description`).

Each event: ignored if it matches `ignore`; else it opens a response (unless
it is a lone end marker), its fields are read where the first matching rule
says (or the file's top level), and an event matching `end` ends the
response. With `cumulative`, text and reasoning repeat everything so far and
only the new part is written. `event: error` is an error whatever the file
says (docs/design.md, "Normalized events").

The table of its fields: docs/dialects.md, "described".
"""

from __future__ import annotations

from typing import Any, ClassVar

from ssechat.dialects.base import Dialect
from ssechat.dialects.description import MISSING, Description, Reading, resolve
from ssechat.dialects.fields import as_dict, is_text, usage_event_fields
from ssechat.jsonload import loads
from ssechat.normalized import NormalizedEvent
from ssechat.sse import Event


def _payload(data: str) -> Any:
    try:
        return loads(data)
    except ValueError:
        return MISSING


def recognizes(description: Description, event: Event) -> bool:
    """Whether `event` is of the described format (for `dialects.detect`)."""
    return description.recognize.matches(event.event, event.data, _payload(event.data))


class Described(Dialect):
    """A dialect for one Description; `dialects.register` makes its class."""

    name: ClassVar[str] = ""
    description: ClassVar[Description]

    def __init__(self) -> None:
        super().__init__()
        self.so_far: dict[str, str] = {}

    def begin(self, out: list[NormalizedEvent], model: Any = None, response_id: Any = None) -> None:
        super().begin(out, model, response_id)
        self.so_far = {}

    def translate(self, event: Event, out: list[NormalizedEvent]) -> None:
        """The description decides, data that is not JSON included (it may match text)."""
        described = self.description
        payload = _payload(event.data)
        kind, data = event.event, event.data
        if described.ignore is not None and described.ignore.matches(kind, data, payload):
            return
        reading = next(
            (r for when, r in described.rules if when.matches(kind, data, payload)),
            described.reading,
        )
        is_end = described.end.matches(kind, data, payload)
        if not self.open:
            if is_end and kind != "error":
                return  # an end marker with no response open: nothing to end
            self.begin(out, _value(payload, reading.model), _value(payload, reading.id))
        self._read(reading, payload, out)
        if kind == "error" and (reading.error is None or _value(payload, reading.error) is None):
            self.error(out, data.strip() or None)
        if is_end:
            self.end(out, complete=True)

    def _read(self, reading: Reading, payload: Any, out: list[NormalizedEvent]) -> None:
        for kind, pointer in (("reasoning", reading.reasoning), ("delta", reading.text)):
            text = _value(payload, pointer)
            if is_text(text):
                text = self._new(kind, text)
                if text:
                    out.append({"type": kind, "text": text})
        finish = _value(payload, reading.finish_reason)
        if finish is not None:
            self.finish_reason = finish
        usage = {key: _value(payload, pointer) for key, pointer in reading.usage}
        if any(value is not None for value in usage.values()):
            self.usage = usage_event_fields(
                usage.pop("input_tokens", None), usage.pop("output_tokens", None), **usage
            )
        error = _value(payload, reading.error)
        if error not in (None, False, "", {}):
            details = as_dict(error)
            message = details.get("message") or details.get("msg") or details.get("detail")
            code = details.get("code") or details.get("type")
            self.error(out, error if isinstance(error, str) else message, code)

    def _new(self, kind: str, text: str) -> str:
        if not self.description.cumulative:
            return text
        before = self.so_far.get(kind, "")
        self.so_far[kind] = text
        return text[len(before) :] if text.startswith(before) else text


def _value(payload: Any, pointer: Any) -> Any:
    if pointer is None or payload is MISSING:
        return None
    value = resolve(payload, pointer)
    return None if value is MISSING else value


def dialect_class(description: Description) -> type[Described]:
    """A Dialect class for `description`, named by it."""
    return type(
        "Described",
        (Described,),
        {"name": description.name, "description": description},
    )
