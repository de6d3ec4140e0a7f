"""openai-responses: the OpenAI Responses API stream.

Wire shape: `event: response.*` with the
same `type` in the JSON; response.created first, then output items, ended by
response.completed, response.incomplete or response.failed. There is no
`[DONE]`.

The table of its fields: docs/dialects.md, "openai-responses".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Final

from ssechat.dialects.base import Continuation, Dialect
from ssechat.dialects.calls import ToolCall
from ssechat.dialects.fields import as_dict, is_text, usage_event_fields
from ssechat.normalized import NormalizedEvent
from ssechat.sse import Event

_TEXT = {
    "response.output_text.delta": "delta",
    "response.refusal.delta": "refusal",
    "response.reasoning_summary_text.delta": "reasoning",
    "response.reasoning_text.delta": "reasoning",
}
_ARGUMENT_DELTAS = frozenset(
    {"response.function_call_arguments.delta", "response.custom_tool_call_input.delta"}
)
_ARGUMENT_DONES = {
    "response.function_call_arguments.done": "arguments",
    "response.custom_tool_call_input.done": "input",
}
_CALL_ITEMS = {"function_call": "arguments", "custom_tool_call": "input"}
_STARTS = frozenset({"response.created", "response.in_progress", "response.queued"})
_ENDS = {
    "response.completed": "completed",
    "response.incomplete": "incomplete",
    "response.failed": "failed",
}


class OpenAIResponses(Dialect):
    name: ClassVar[str] = "openai-responses"
    cut_off_reasons: ClassVar[frozenset[str]] = frozenset({"incomplete"})

    def __init__(self) -> None:
        super().__init__()
        self.response_id: Any = None
        self.by_item: dict[Any, Any] = {}  # item id -> call key (the output index)
        # The last event's sequence_number: where `send` continues a background
        # response (starting_after).
        self.sequence: int | None = None

    def begin(self, out: list[NormalizedEvent], model: Any = None, response_id: Any = None) -> None:
        super().begin(out, model, response_id)
        self.response_id = response_id
        self.by_item = {}

    def continuation(self) -> Continuation | None:
        """A response with an id is read again after its last sequence number."""
        response_id, sequence = self.response_id, self.sequence
        if self.open and not self.errored and isinstance(response_id, str) and response_id:
            return None if sequence is None else Continuation("stream", response_id, sequence)
        return None

    def handle(self, payload: Any, event: Event, out: list[NormalizedEvent]) -> None:
        if type(payload) is not dict:
            return
        sequence = payload.get("sequence_number")
        if type(sequence) is int:
            if self.resuming and self.sequence is not None and sequence <= self.sequence:
                return  # a continuation repeating what came before the interruption
            self.sequence = sequence
        kind = payload.get("type") or event.event
        handler = _HANDLERS.get(kind) if isinstance(kind, str) else None
        if handler is not None:
            handler(self, kind, payload, out)

    def _text(self, kind: str, payload: dict[str, Any], out: list[NormalizedEvent]) -> None:
        text = payload.get("delta")
        if is_text(text):
            if not self.open:
                self.begin(out)
            out.append({"type": _TEXT[kind], "text": text})

    def _args_delta(self, kind: str, payload: dict[str, Any], out: list[NormalizedEvent]) -> None:
        call = self._call(payload)
        fragment = payload.get("delta")
        if call is not None and is_text(fragment):
            self.add_arguments(out, call, fragment)

    def _start(self, kind: str, payload: dict[str, Any], out: list[NormalizedEvent]) -> None:
        # Only response.created starts a response when one is open: some
        # proxies (GitHub Copilot) give in_progress another id.
        response = as_dict(payload.get("response"))
        if self.resuming and self.open and response.get("id") in (None, self.response_id):
            return  # `send` reads this background response again: the same one
        if not self.open or kind == "response.created":
            self.begin(out, response.get("model"), response.get("id"))

    def _args_done(self, kind: str, payload: dict[str, Any], out: list[NormalizedEvent]) -> None:
        key = self._key(payload)
        raw = payload.get(_ARGUMENT_DONES[kind])
        if key in self.calls:
            self.finish_call(out, key, raw=raw if isinstance(raw, str) else None)

    def _error(self, kind: str, payload: dict[str, Any], out: list[NormalizedEvent]) -> None:
        if not self.open:
            self.begin(out)
        nested = as_dict(payload.get("error"))
        self.error(
            out,
            payload.get("message") or nested.get("message"),
            payload.get("code") or nested.get("code") or nested.get("type"),
        )

    def _key(self, payload: dict[str, Any]) -> Any:
        # Calls are keyed by output index; item ids map to it (some proxies
        # rotate item ids, so the index is the fallback).
        key = self.by_item.get(payload.get("item_id"))
        return payload.get("output_index") if key is None else key

    def _call(self, payload: dict[str, Any]) -> ToolCall | None:
        return self.calls.get(self._key(payload))

    def _item_added(self, kind: str, payload: dict[str, Any], out: list[NormalizedEvent]) -> None:
        item = as_dict(payload.get("item"))
        field = _CALL_ITEMS.get(str(item.get("type")))
        if field is None:
            return
        if not self.open:
            self.begin(out)
        index = payload.get("output_index")
        if not isinstance(index, int):
            index = len(self.by_item)
        self.by_item[item.get("id")] = index
        call = ToolCall(
            index,
            item.get("call_id") or item.get("id"),
            item.get("name"),
            custom=item.get("type") == "custom_tool_call",
        )
        initial = item.get(field)
        self.start_call(out, index, call, initial if isinstance(initial, str) else "")

    def _item_done(self, kind: str, payload: dict[str, Any], out: list[NormalizedEvent]) -> None:
        item = as_dict(payload.get("item"))
        field = _CALL_ITEMS.get(str(item.get("type")))
        if field is None:
            return
        key = self.by_item.get(item.get("id"), payload.get("output_index"))
        raw = item.get(field)
        raw = raw if isinstance(raw, str) else None
        if key in self.calls:
            self.finish_call(out, key, raw=raw)
        elif key not in self.by_item.values():
            # A call seen only whole (no output_item.added before it).
            self._item_added(kind, payload, out)
            key = self.by_item.get(item.get("id"), payload.get("output_index"))
            self.finish_call(out, key, raw=raw)

    def _end(self, kind: str, payload: dict[str, Any], out: list[NormalizedEvent]) -> None:
        response = as_dict(payload.get("response"))
        if not self.open:
            self.begin(out, response.get("model"), response.get("id"))
        self.finish_reason = response.get("status") or _ENDS[kind]
        usage = as_dict(response.get("usage"))
        if usage:
            self.usage = usage_event_fields(
                usage.get("input_tokens"),
                usage.get("output_tokens"),
                total_tokens=usage.get("total_tokens"),
                reasoning_tokens=as_dict(usage.get("output_tokens_details")).get(
                    "reasoning_tokens"
                ),
                cached_tokens=as_dict(usage.get("input_tokens_details")).get("cached_tokens"),
            )
        error = as_dict(response.get("error"))
        if kind == "response.failed" and not self.errored:
            self.error(out, error.get("message") or "the response failed", error.get("code"))
        self.end(out, complete=True)


Handler = Callable[[OpenAIResponses, str, dict[str, Any], list[NormalizedEvent]], None]
_HANDLERS: Final[dict[str, Handler]] = {
    **dict.fromkeys(_TEXT, OpenAIResponses._text),
    **dict.fromkeys(_ARGUMENT_DELTAS, OpenAIResponses._args_delta),
    **dict.fromkeys(_STARTS, OpenAIResponses._start),
    "response.output_item.added": OpenAIResponses._item_added,
    **dict.fromkeys(_ARGUMENT_DONES, OpenAIResponses._args_done),
    "response.output_item.done": OpenAIResponses._item_done,
    **dict.fromkeys(_ENDS, OpenAIResponses._end),
    "error": OpenAIResponses._error,
}
