"""anthropic: the Messages API stream.

Wire shape (PROVIDERS.md "anthropic"): `event: <type>` with the same `type`
in the JSON; message_start, then content blocks (start, deltas, stop), then
message_delta (stop_reason, cumulative usage) and message_stop. `ping` may
come anywhere; `error` ends the stream with no message_stop after it.

| event / delta type                  | normalized                               |
|-------------------------------------|------------------------------------------|
| message_start                       | start (model, id); input usage           |
| text_delta                          | delta                                    |
| thinking_delta                      | reasoning (signature_delta is not text)  |
| tool_use block + input_json_delta   | tool_call_delta; tool_call at content_block_stop |
| message_delta                       | finish reason (stop_reason), usage       |
| message_stop                        | the end: usage, done                     |
| error                               | error (e.g. overloaded_error)            |

`server_tool_use` blocks (web search and friends) also stream input JSON,
but Anthropic runs them itself: they are not client tool calls.
"""

from __future__ import annotations

from typing import Any, ClassVar

import orjson

from ssechat.dialects.base import MALFORMED, Dialect, ToolCall, as_dict, loads, usage_event_fields
from ssechat.events import NormalizedEvent
from ssechat.sse import Event, Item

# base.loads: orjson, then the standard library for what only it reads
# (lone surrogate escapes, integers past 64 bits), never dropping the event.
_loads = loads
_JSONDecodeError = ValueError


class Anthropic(Dialect):
    name: ClassVar[str] = "anthropic"
    cut_off_reasons: ClassVar[frozenset[str]] = frozenset(
        {"max_tokens", "model_context_window_exceeded"}
    )

    def __init__(self) -> None:
        super().__init__()
        self.message_id: Any = None
        self.has_content = False
        self.initial_input: dict[int, Any] = {}  # a tool_use block's non-empty start input
        # Only text blocks so far: `send` may continue the answer by prefilling it.
        self.text_only = True

    def begin(self, out: list[NormalizedEvent], model: Any = None, response_id: Any = None) -> None:
        super().begin(out, model, response_id)
        self.message_id = response_id
        self.has_content = False
        self.initial_input = {}
        self.text_only = True

    def feed_many(self, items: list[Item], out: list[NormalizedEvent]) -> None:
        """The loop over one read's events, with the common text delta inlined."""
        append = out.append
        fast_loads = orjson.loads
        hot = self.open and self.has_content
        for item in items:
            if type(item) is not Event:
                continue
            try:
                payload = fast_loads(item[1])
            except orjson.JSONDecodeError:
                try:
                    payload = _loads(item[1])
                except _JSONDecodeError:
                    continue
            if hot:
                # Subscripts are the fastest lookups; a missing key or another
                # type only means "not a text delta".
                try:
                    if payload["type"] == "content_block_delta":
                        delta = payload["delta"]
                        if delta["type"] == "text_delta":
                            text = delta["text"]
                            if type(text) is str:
                                if text:
                                    append({"type": "delta", "text": text})
                                continue
                except (LookupError, TypeError):
                    pass
            try:
                self._payload(payload, item, out)
            except MALFORMED as exc:
                self.malformed(item, exc, out)
            hot = self.open and self.has_content

    def feed(self, event: Event, out: list[NormalizedEvent]) -> None:
        try:
            payload = _loads(event.data)
        except _JSONDecodeError:
            return
        self._payload(payload, event, out)

    def _payload(self, payload: Any, event: Event, out: list[NormalizedEvent]) -> None:
        if type(payload) is not dict:
            return
        kind = payload.get("type") or event.event
        if kind == "content_block_delta":
            delta = payload.get("delta")
            if type(delta) is not dict:
                return
            dtype = delta.get("type")
            if dtype == "text_delta":
                text = delta.get("text")
                if text:
                    if not self.open:
                        self.begin(out)
                    self.has_content = True
                    out.append({"type": "delta", "text": text})
            else:
                self._other_delta(payload, delta, dtype, out)
        elif kind == "message_start":
            self._message_start(payload, out)
        elif kind == "content_block_start":
            self._block_start(payload, out)
        elif kind == "content_block_stop":
            index = payload.get("index")
            if index in self.calls:
                self._finish_block(out, index)
        elif kind == "message_delta":
            if not self.open:
                self.begin(out)
            delta = as_dict(payload.get("delta"))
            if delta.get("stop_reason") is not None:
                self.finish_reason = delta["stop_reason"]
            self._usage(as_dict(payload.get("usage")))
        elif kind == "message_stop":
            if self.open:
                self.end(out, complete=True)
        elif kind == "error":
            if not self.open:
                self.begin(out)
            error = payload.get("error")
            if isinstance(error, dict):
                self.error(out, error.get("message"), error.get("type"))
            else:
                self.error(out, payload.get("message") or error)

    def _message_start(self, payload: dict[str, Any], out: list[NormalizedEvent]) -> None:
        message = as_dict(payload.get("message"))
        message_id = message.get("id")
        # Proxies may repeat message_start: the same id, or nothing said yet, is
        # still the same response.
        if self.resuming and self.open:
            # `send` continues the answer with a prefill: the new message goes
            # on with this response. Its usage (the last request's) replaces ours.
            self.resuming = False
            self.message_id = message_id
            self.usage = None
        elif not self.open or (message_id != self.message_id and self.has_content):
            self.begin(out, message.get("model"), message_id)
        elif self.message_id is None:
            self.message_id = message_id
        self._usage(as_dict(message.get("usage")))

    def _block_start(self, payload: dict[str, Any], out: list[NormalizedEvent]) -> None:
        if not self.open:
            self.begin(out)
        block = as_dict(payload.get("content_block"))
        index = payload.get("index")
        btype = block.get("type")
        if btype != "text":
            self.text_only = False  # thinking, tool use, server tools: no prefill can hold them
        if btype == "text":
            if block.get("text"):
                self.has_content = True
                out.append({"type": "delta", "text": block["text"]})
        elif btype == "thinking":
            if block.get("thinking"):
                self.has_content = True
                out.append({"type": "reasoning", "text": block["thinking"]})
        elif btype == "tool_use" and isinstance(index, int):
            self.has_content = True
            self.start_call(out, index, ToolCall(index, block.get("id"), block.get("name")))
            if block.get("input"):
                self.initial_input[index] = block["input"]

    def _other_delta(
        self, payload: dict[str, Any], delta: dict[str, Any], dtype: Any, out: list[NormalizedEvent]
    ) -> None:
        if dtype == "input_json_delta":
            call = self.calls.get(payload.get("index"))
            fragment = delta.get("partial_json")
            if call is not None and fragment and isinstance(fragment, str):
                self.add_arguments(out, call, fragment)
        elif dtype == "thinking_delta":
            text = delta.get("thinking")
            if text:
                if not self.open:
                    self.begin(out)
                self.has_content = True
                self.text_only = False
                out.append({"type": "reasoning", "text": text})

    def _finish_block(self, out: list[NormalizedEvent], index: Any) -> None:
        call = self.calls[index]
        initial = self.initial_input.pop(index, None)
        if not call.parts and initial:
            # The whole input came in content_block_start (some proxies do this).
            self.calls.pop(index)
            self.emit_call(out, call, "", value=initial, parsed=True)
            return
        self.finish_call(out, index)

    def _usage(self, usage: dict[str, Any]) -> None:
        if not usage:
            return
        # message_delta's counts are cumulative and may update input_tokens:
        # the later value wins, field by field.
        old = self.usage or {}
        merged = usage_event_fields(
            usage.get("input_tokens", old.get("input_tokens")),
            usage.get("output_tokens", old.get("output_tokens")),
            cached_tokens=usage.get("cache_read_input_tokens", old.get("cached_tokens")),
            cache_creation_tokens=usage.get(
                "cache_creation_input_tokens", old.get("cache_creation_tokens")
            ),
        )
        self.usage = merged
