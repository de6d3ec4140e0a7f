"""anthropic: the Messages API stream.

Wire shape: `event: <type>` with the same `type`
in the JSON; message_start, then content blocks (start, deltas, stop), then
message_delta (stop_reason, cumulative usage) and message_stop. `ping` may
come anywhere; `error` ends the stream with no message_stop after it.

The table of its fields: docs/dialects.md, "anthropic".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Final

import orjson

from ssechat.dialects.base import UNREAD, Continuation, Dialect
from ssechat.dialects.calls import ToolCall
from ssechat.dialects.fields import after, as_dict, is_text, usage_event_fields
from ssechat.dialects.templates import NO_TEMPLATE, Template, datas_of, learn_template
from ssechat.normalized import NormalizedEvent
from ssechat.sse import Event

_fast_loads = orjson.loads
_JSONDecodeError = orjson.JSONDecodeError
_PING: Final = '{"type":"ping"}'
_TEXT: Final = ("delta", "text")
_THINKING: Final = ("delta", "thinking")
_PARTIAL_JSON: Final = ("delta", "partial_json")

Handler = Callable[["Anthropic", dict[str, Any], list[NormalizedEvent]], None]


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
        # The common deltas' templates (`templates.learn_template`), kept across
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

    # -- the template fast path (docs/dialects.md) ----------------------------

    def feed(self, events: Sequence[Event], out: list[NormalizedEvent]) -> Sequence[Event]:
        """A read of common deltas only in one go (`_feed_run`), else one by one (`_feed_each`)."""
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

    def _feed_each(self, events: Sequence[Event], out: list[NormalizedEvent]) -> Sequence[Event]:
        """One event at a time: a template's match, a common delta, or the plain path.

        A common delta (text, thinking or tool input of the open block) that
        matches a learnt template costs a parse of its string alone; one
        that does not is parsed once, handled here and teaches a template
        (`_common_delta`); anything else takes the plain path (`read`).
        """
        hits = 0
        for event in events:
            data = event[1]
            if self.open and self.has_content and self._matched(data, out):
                hits += 1
                continue
            try:
                payload = _fast_loads(data)
            except _JSONDecodeError:
                payload = UNREAD
            if (
                payload is not UNREAD
                and self.open
                and self.has_content
                and self._common_delta(data, payload, out, hits)
            ):
                continue
            self.read(event, out, payload)
            if self.between():  # the end: what follows is detected anew
                self.template_hits += hits
                return after(events, event)
        self.template_hits += hits
        return ()

    def _matched(self, data: str, out: list[NormalizedEvent]) -> bool:
        """An event that a learnt template matches, handled (`Template.match`)."""
        text = self.text_template.match(data)
        if text is not None:
            if text:
                out.append({"type": "delta", "text": text})
            return True
        if self.text_only:
            return False
        text = self.thinking_template.match(data)
        if text is not None:
            if text:
                out.append({"type": "reasoning", "text": text})
            return True
        fragment = self.json_template.match(data)
        call = self.calls.get(self.json_index)
        if fragment is not None and call is not None:
            if fragment:
                self.add_arguments(out, call, fragment)
            return True
        return False

    def _common_delta(self, data: str, payload: Any, out: list[NormalizedEvent], hits: int) -> bool:
        """A delta of the open response handled here (True), learning its template.

        Only when `handle` would do nothing but append the delta: inside a
        response that has content, and for thinking and tool input, past
        the first block that is not text (`text_only` is then already False).
        """
        try:
            if payload["type"] != "content_block_delta":
                return False
            delta = payload["delta"]
            common = _COMMON.get(delta["type"])
            return common is not None and common(self, data, payload, delta, out, hits)
        except (LookupError, TypeError):
            return False

    def _common_text(
        self, data: str, payload: Any, delta: Any, out: list[NormalizedEvent], hits: int
    ) -> bool:
        text = delta["text"]
        if type(text) is not str:
            return False
        if text:
            out.append({"type": "delta", "text": text})
        if self.may_learn(hits):
            self.text_template = learn_template(data, "text", text, _TEXT) or self.text_template
        return True

    def _common_thinking(
        self, data: str, payload: Any, delta: Any, out: list[NormalizedEvent], hits: int
    ) -> bool:
        text = delta["thinking"]
        if self.text_only or type(text) is not str:
            return False
        if text:
            out.append({"type": "reasoning", "text": text})
        if self.may_learn(hits):
            template = learn_template(data, "thinking", text, _THINKING)
            self.thinking_template = template or self.thinking_template
        return True

    def _common_json(
        self, data: str, payload: Any, delta: Any, out: list[NormalizedEvent], hits: int
    ) -> bool:
        if self.text_only:
            return False
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

    # -- the plain path ---------------------------------------------------------

    def handle(self, payload: Any, event: Event, out: list[NormalizedEvent]) -> None:
        if type(payload) is not dict:
            return
        kind = payload.get("type") or event.event
        handler = _HANDLERS.get(kind) if isinstance(kind, str) else None
        if handler is not None:
            handler(self, payload, out)

    def _delta(self, payload: dict[str, Any], out: list[NormalizedEvent]) -> None:
        delta = payload.get("delta")
        if type(delta) is not dict:
            return
        dtype = delta.get("type")
        if dtype == "text_delta":
            text = delta.get("text")
            if is_text(text):
                if not self.open:
                    self.begin(out)
                self.has_content = True
                out.append({"type": "delta", "text": text})
        else:
            self._other_delta(payload, delta, dtype, out)

    def _block_stop(self, payload: dict[str, Any], out: list[NormalizedEvent]) -> None:
        index = payload.get("index")
        if index in self.calls:
            self._finish_block(out, index)

    def _message_delta(self, payload: dict[str, Any], out: list[NormalizedEvent]) -> None:
        if not self.open:
            self.begin(out)
        delta = as_dict(payload.get("delta"))
        if delta.get("stop_reason") is not None:
            self.finish_reason = delta["stop_reason"]
        self._usage(as_dict(payload.get("usage")))

    def _message_stop(self, payload: dict[str, Any], out: list[NormalizedEvent]) -> None:
        if self.open:
            self.end(out, complete=True)

    def _error(self, payload: dict[str, Any], out: list[NormalizedEvent]) -> None:
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
            if is_text(block.get("text")):
                self.has_content = True
                out.append({"type": "delta", "text": block["text"]})
        elif btype == "thinking":
            if is_text(block.get("thinking")):
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
            if call is not None and is_text(fragment):
                self.add_arguments(out, call, fragment)
        elif dtype == "thinking_delta":
            text = delta.get("thinking")
            if is_text(text):
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


_COMMON: Final = {
    "text_delta": Anthropic._common_text,
    "thinking_delta": Anthropic._common_thinking,
    "input_json_delta": Anthropic._common_json,
}
_HANDLERS: Final[dict[str, Handler]] = {
    "content_block_delta": Anthropic._delta,
    "message_start": Anthropic._message_start,
    "content_block_start": Anthropic._block_start,
    "content_block_stop": Anthropic._block_stop,
    "message_delta": Anthropic._message_delta,
    "message_stop": Anthropic._message_stop,
    "error": Anthropic._error,
}
