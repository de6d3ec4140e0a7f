"""Reading providers' JSON: the shapes every dialect meets, said once.

Objects that may be null (`as_dict`, `as_list`), answer text (`is_text`,
`emit_text`), usage fields, error objects in the shapes providers use, and
the events after a response's end (`after`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeGuard

from ssechat.normalized import NormalizedEvent
from ssechat.sse import Event


def usage_event_fields(
    input_tokens: Any,
    output_tokens: Any,
    **more: Any,
) -> dict[str, Any]:
    """The `usage` fields: input and output always, the others when the provider gives them."""
    fields: dict[str, Any] = {"input_tokens": input_tokens, "output_tokens": output_tokens}
    for key, value in more.items():
        if value is not None:
            fields[key] = value
    return fields


def error_fields(document: Any, default: str) -> tuple[str, Any]:
    """The message and code of an error object, in the shapes providers use.

    `{"error": {"message", "code"|"type"|"status"}}`, `{"message"|"msg", "code"}`,
    `{"detail": ...}`, or a list of one (Gemini); `default` when it says no message.
    """
    if isinstance(document, list) and document:
        document = document[0]  # Gemini answers some errors with an array
    body = as_dict(document)
    error = body.get("error")
    if isinstance(error, dict):
        message = error.get("message") or error.get("msg")
        code = error.get("code") or error.get("type") or error.get("status")
    else:
        message, code = _flat_error(body, error)
    if not isinstance(message, str) or not message:
        message = default
    return message, code


def _flat_error(body: dict[str, Any], error: Any) -> tuple[Any, Any]:
    """`{"error": "text"}`, `{"message"|"msg", "code"|"status"|"type"}` or `{"detail": ...}`."""
    message = error if isinstance(error, str) else body.get("message") or body.get("msg")
    code = body.get("code") or body.get("status")
    if code is None and body.get("type") != "error":
        code = body.get("type")
    detail = body.get("detail")
    if not message and detail:
        message = detail if isinstance(detail, str) else str(detail)
    return message, code


def after(items: Sequence[Event], item: Event) -> Sequence[Event]:
    """The events after `item` (found by identity: equal events may come before it).

    For the loops that hand back what follows the end of a response: they
    do not count positions, which would cost every event of a long answer.
    """
    for position in range(len(items) - 1, -1, -1):
        if items[position] is item:
            return items[position + 1 :]
    raise ValueError("the item is not among the items")


def as_dict(value: Any) -> dict[str, Any]:
    """`value` when it is a JSON object, else an empty one (providers send null freely)."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """`value` when it is a JSON array, else an empty one."""
    return value if isinstance(value, list) else []


def is_text(value: Any) -> TypeGuard[str]:
    """Whether `value` is answer text worth a line: a non-empty string (providers send null, "")."""
    return type(value) is str and value != ""


def emit_text(out: list[NormalizedEvent], kind: str, value: Any, index: Any = 0) -> None:
    """Append `{"type": kind, "text": value}` when `value` is text (`is_text`).

    `index`: the choice (or candidate) the text belongs to; only a choice
    other than 0 is written, since choice 0 is the answer.
    """
    if type(value) is str and value:
        if index:
            out.append({"type": kind, "text": value, "index": index})
        else:
            out.append({"type": kind, "text": value})
