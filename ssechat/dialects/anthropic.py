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

from collections.abc import Sequence
from typing import Any, ClassVar, Final

import orjson

from ssechat.dialects.base import (
    MALFORMED,
    Continuation,
    Dialect,
    ToolCall,
    after,
    as_dict,
    loads,
    usage_event_fields,
)
from ssechat.dialects.templates import NO_TEMPLATE, Template, datas_of, learn_template
from ssechat.normalized import NormalizedEvent
from ssechat.sse import Event

# base.loads: orjson, then the standard library for what only it reads
# (lone surrogate escapes, integers past 64 bits), never dropping the event.
_loads = loads
_JSONDecodeError = ValueError
_PING: Final = '{"type":"ping"}'
_TEXT: Final = ("delta", "text")
_THINKING: Final = ("delta", "thinking")
_PARTIAL_JSON: Final = ("delta", "partial_json")


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
        # The common deltas' templates (`base.learn_template`), kept across
        # responses: a template matches only events identical to its own
        # but for the string (the same block index, the same fields).
        self.text_template: Template = NO_TEMPLATE
        self.thinking_template: Template = NO_TEMPLATE
        self.json_template: Template = NO_TEMPLATE
        self.json_index: Any = None  # the block the tool-input template was learnt on

    def begin(self, out: list[NormalizedEvent], model: Any = None, response_id: Any = None) -> None:
        super().begin(out, model, response_id)
        self.message_id = response_id
        self.has_content = False
        self.initial_input = {}
        self.text_only = True

    def continuation(self) -> Continuation | None:
        """An answer of text only can go on as a prefill (even after overloaded_error)."""
        return Continuation("prefill") if self.open and self.text_only else None

    def feed(self, events: Sequence[Event], out: list[NormalizedEvent]) -> Sequence[Event]:
        """A read of common events only in one go (`_feed_run`), else one by one (`_feed_each`)."""
        if self._feed_run(datas_of(events), out):
            return ()
        return self._feed_each(events, out)

    def _feed_run(self, datas: list[str], out: list[NormalizedEvent]) -> bool:
        """A read of nothing but deltas of the open block, in one go (`Template.match_all`)."""
        if not (self.open and self.has_content):
            return False
        if _PING in datas:  # keep-alives in the middle of the answer: they do nothing
            datas = [data for data in datas if data != _PING]
        templates = [(self.text_template, "delta")]
        if not self.text_only:
            templates.append((self.thinking_template, "reasoning"))
        for template, kind in templates:
            texts = template.match_all(datas)
            if texts is not None:
                out += [{"type": kind, "text": text} for text in texts if text]
                self.template_hits += len(texts)
                return True
        return False

    def _feed_each(self, items: Sequence[Event], out: list[NormalizedEvent]) -> Sequence[Event]:  # noqa: C901
        """The loop over one read's events, with the common deltas inlined.

        Nearly every event of a long answer is a text (or thinking, or tool
        input) delta of the open block, identical to the one before but for
        its string: once a template is learnt from one (`base.learn_template`),
        the next ones cost a parse of their string alone, and a read of
        nothing else is done in one go (`_feed_run`, which `feed` tries
        first). An event that does not
        match takes the full path (`_payload`), which decides.
        """
        hot = self.open and self.has_content
        append = out.append
        fast_loads = orjson.loads
        text_match = self.text_template.match
        thinking_match = self.thinking_template.match
        json_match = self.json_template.match
        calls = self.calls
        hits = 0
        for item in items:
            data = item[1]
            if hot:
                text = text_match(data)
                if text is not None:
                    if text:
                        append({"type": "delta", "text": text})
                    hits += 1
                    continue
                if not self.text_only:
                    text = thinking_match(data)
                    if text is not None:
                        if text:
                            append({"type": "reasoning", "text": text})
                        hits += 1
                        continue
                    fragment = json_match(data)
                    call = calls.get(self.json_index)
                    if fragment is not None and call is not None:
                        if fragment:
                            self.add_arguments(out, call, fragment)
                        hits += 1
                        continue
            try:
                payload = fast_loads(data)
            except orjson.JSONDecodeError:
                try:
                    payload = _loads(data)
                except _JSONDecodeError:
                    if item[0] == "error":
                        self.error_event(item, out)  # whatever its data
                    continue
            if hot and self._common_delta(data, payload, out, hits):
                text_match = self.text_template.match
                thinking_match = self.thinking_template.match
                json_match = self.json_template.match
                continue
            errors = self.errors
            try:
                self._payload(payload, item, out)
            except MALFORMED as exc:
                self.malformed(item, exc, out)
            if item[0] == "error" and self.errors == errors:
                self.error_event(item, out)  # `event: error`, whatever its data
            if not self.open:  # the end: what follows is detected anew
                self.template_hits += hits
                return after(items, item)
            hot = self.has_content
            calls = self.calls
        self.template_hits += hits
        return ()

    def _common_delta(self, data: str, payload: Any, out: list[NormalizedEvent], hits: int) -> bool:  # noqa: C901
        """A delta of the open response handled here (True), learning its template.

        Only when `_payload` would do nothing but append the delta: inside a
        response that has content, and for thinking and tool input, past
        the first block that is not text (`text_only` is then already False).
        """
        try:
            if payload["type"] != "content_block_delta":
                return False
            delta = payload["delta"]
            dtype = delta["type"]
            if dtype == "text_delta":
                text = delta["text"]
                if type(text) is not str:
                    return False
                if text:
                    out.append({"type": "delta", "text": text})
                if self.may_learn(hits):
                    template = learn_template(data, "text", text, _TEXT)
                    if template is not None:
                        self.text_template = template
                return True
            if self.text_only:
                return False
            if dtype == "thinking_delta":
                text = delta["thinking"]
                if type(text) is not str:
                    return False
                if text:
                    out.append({"type": "reasoning", "text": text})
                if self.may_learn(hits):
                    template = learn_template(data, "thinking", text, _THINKING)
                    if template is not None:
                        self.thinking_template = template
                return True
            if dtype == "input_json_delta":
                index = payload["index"]
                call = self.calls.get(index)
                fragment = delta["partial_json"]
                if call is None or type(fragment) is not str:
                    return False
                if fragment:
                    self.add_arguments(out, call, fragment)
                if self.may_learn(hits):
                    template = learn_template(data, "partial_json", fragment, _PARTIAL_JSON)
                    if template is not None:
                        self.json_template, self.json_index = template, index
                return True
        except (LookupError, TypeError):
            pass
        return False

    def translate(self, event: Event, out: list[NormalizedEvent]) -> None:
        try:
            payload = _loads(event.data)
        except _JSONDecodeError:
            return
        self._payload(payload, event, out)

    def _payload(self, payload: Any, event: Event, out: list[NormalizedEvent]) -> None:  # noqa: C901
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
