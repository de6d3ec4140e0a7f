"""openai-chat: OpenAI Chat Completions chunks and the OpenAI-compatible servers.

Wire shape (PROVIDERS.md "openai-chat"): `data:` lines only, JSON with
`choices[].delta`, ended by `data: [DONE]`. Also DeepSeek (`reasoning_content`),
Azure (a first prompt-filter chunk with empty `choices` and id), Mistral
(content as a list of text/thinking parts; a second tool fragment with
`"name": ""`), Groq (usage under `x_groq`), vLLM and Ollama's `/v1`
(`delta.reasoning`), and legacy completions (`choices[].text`).

| chunk field                       | normalized                               |
|-----------------------------------|------------------------------------------|
| delta.content (str or parts)      | delta (index for choice > 0)             |
| delta.reasoning_content/reasoning | reasoning                                |
| delta.refusal                     | refusal                                  |
| delta.tool_calls[] by index       | tool_call_delta; tool_call once the next |
|                                   | call starts or the choice finishes       |
| choices[].finish_reason           | done.finish_reason (choice 0; last wins) |
| usage / x_groq.usage              | usage (prompt/completion tokens)         |
| error                             | error                                    |
| [DONE]                            | the end: usage, done                     |

Hugging Face TGI before 2.2 sends no `[DONE]`: its chat stream ends with the
chunk that carries the finish reason. Such a stream is told by its first
chunk (`"object": "text_completion"` with a `delta`, TGI 2.0's mislabel, or
TGI's `system_fingerprint` "2.1.0-sha-..." / "...-native"), and its end of
input after a chunk with a finish reason is the end (`complete_at_eof`);
every other stream still needs `[DONE]`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, ClassVar, Final

import orjson

from ssechat.dialects.base import (
    MALFORMED,
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

_loads = orjson.loads
_JSONDecodeError = orjson.JSONDecodeError
_CONTENT: Final = ("choices", 0, "delta", "content")
_ARGUMENTS: Final = ("choices", 0, "delta", "tool_calls", 0, "function", "arguments")
_TGI_FINGERPRINT: Final = re.compile(r"\d+\.\d+\.\d+\S*-(sha-[0-9a-f]+|native)")


def _ends_at_finish(chunk: dict[str, Any]) -> bool:
    """A TGI chat stream (see the module docstring): no `[DONE]` will come."""
    fingerprint = chunk.get("system_fingerprint")
    if isinstance(fingerprint, str) and _TGI_FINGERPRINT.fullmatch(fingerprint):
        return True
    choices = chunk.get("choices")
    first = choices[0] if isinstance(choices, list) and choices else None
    return chunk.get("object") == "text_completion" and isinstance(first, dict) and "delta" in first


def _usage(usage: dict[str, Any]) -> dict[str, Any]:
    prompt = as_dict(usage.get("prompt_tokens_details"))
    completion = as_dict(usage.get("completion_tokens_details"))
    return usage_event_fields(
        usage.get("prompt_tokens", usage.get("input_tokens")),
        usage.get("completion_tokens", usage.get("output_tokens")),
        total_tokens=usage.get("total_tokens"),
        reasoning_tokens=completion.get("reasoning_tokens"),
        cached_tokens=prompt.get("cached_tokens", usage.get("prompt_cache_hit_tokens")),
    )


class OpenAIChat(Dialect):
    name: ClassVar[str] = "openai-chat"
    cut_off_reasons: ClassVar[frozenset[str]] = frozenset({"length", "content_filter"})

    def __init__(self) -> None:
        super().__init__()
        self.response_id = ""
        self.finishes: dict[int, Any] = {}
        self.started_calls: dict[int, int] = {}  # calls started per choice
        self.last_call: dict[int, ToolCall] = {}  # per choice, for fragments without an index
        self.indexes: dict[int, set[int]] = {}  # the call indexes written, per choice
        # The common chunks' templates (`base.learn_template`), kept across
        # responses: a template matches only chunks identical to its own but
        # for the string, so a new response (another id) simply does not match.
        self.text_template: Template = NO_TEMPLATE
        self.args_template: Template = NO_TEMPLATE
        self.args_key: tuple[int, Any] = (0, None)
        self.ends_at_finish = False  # TGI < 2.2: no [DONE]
        self.last_finished = False  # the last chunk read whole carried a finish reason

    def complete_at_eof(self) -> bool:
        return self.ends_at_finish and self.last_finished

    def begin(self, out: list[NormalizedEvent], model: Any = None, response_id: Any = None) -> None:
        super().begin(out, model, response_id)
        self.response_id = response_id or ""
        self.finishes = {}
        self.started_calls = {}
        self.last_call = {}
        self.ends_at_finish = self.last_finished = False
        self.indexes = {}

    def feed(self, events: Sequence[Event], out: list[NormalizedEvent]) -> Sequence[Event]:
        """A read of common events only in one go (`_feed_run`), else one by one (`_feed_each`)."""
        if self._feed_run(datas_of(events), out):
            return ()
        return self._feed_each(events, out)

    def _feed_run(self, datas: list[str], out: list[NormalizedEvent]) -> bool:
        """A read of common chunks only, in one go (`Template.match_all`)."""
        if not self.open or self.finishes:  # inside a response, before any finish
            return False
        texts = self.text_template.match_all(datas)
        if texts is not None:
            out += [{"type": "delta", "text": text} for text in texts if text]
            self.template_hits += len(texts)
            return True
        call = self.calls.get(self.args_key)
        fragments = self.args_template.match_all(datas) if call is not None else None
        if call is None or fragments is None:
            return False
        index = call.index
        fragments = [fragment for fragment in fragments if fragment]
        call.parts += fragments
        out += [
            {"type": "tool_call_delta", "index": index, "arguments": fragment}
            for fragment in fragments
        ]
        self.template_hits += len(datas)
        return True

    def _feed_each(self, items: Sequence[Event], out: list[NormalizedEvent]) -> Sequence[Event]:  # noqa: C901
        """The loop over one read's events, with the common chunks inlined.

        Nearly every chunk of a long answer is one choice whose delta is one
        text fragment (or one fragment of an open call's arguments): such a
        chunk that has the learnt template's text around its string costs a
        parse of that string alone (`base.learn_template`), and a read of
        nothing else is done in one go (`_feed_run`, which `feed` tries
        first); one that has not, a JSON
        parse and a few lookups here; anything else goes through `_chunk`,
        which reads every field.
        """
        hot = self.open and not self.finishes  # inside a response, before any finish
        append = out.append
        loads = _loads
        calls = self.calls
        text_prefix, text_suffix, text_start, text_end = self.text_template
        args_prefix, args_suffix, args_start, args_end = self.args_template
        hits = 0
        for item in items:
            data = item[1]
            if hot:
                if text_prefix and data.startswith(text_prefix) and data.endswith(text_suffix):
                    try:
                        content = loads(data[text_start:text_end])
                    except _JSONDecodeError:
                        content = None
                    if type(content) is str:
                        if content:
                            append({"type": "delta", "text": content})
                        hits += 1
                        continue
                elif args_prefix and data.startswith(args_prefix) and data.endswith(args_suffix):
                    call = calls.get(self.args_key)
                    try:
                        arguments = loads(data[args_start:args_end])
                    except _JSONDecodeError:
                        arguments = None
                    if call is not None and type(arguments) is str:
                        if arguments:
                            call.parts.append(arguments)
                            append(
                                {
                                    "type": "tool_call_delta",
                                    "index": call.index,
                                    "arguments": arguments,
                                }
                            )
                        hits += 1
                        continue
            try:
                chunk = loads(data)
            except _JSONDecodeError:
                errors = self.errors
                self._not_json(data, out)
                if item[0] == "error" and self.errors == errors:
                    self.error_event(item, out)  # `event: error`, whatever its data
                if self.between():  # the end ([DONE]): what follows is detected anew
                    self.template_hits += hits
                    return after(items, item)
                hot = not self.finishes
                calls = self.calls
                continue
            # Usage, errors and Groq's x_groq never come with a lone text
            # fragment (they come with the finish, or alone). Subscripts are
            # the fastest lookups; a missing key or a value of another type
            # only means "not this common chunk".
            if hot:
                try:
                    choices = chunk["choices"]
                    choice = choices[0]
                    delta = choice["delta"]
                    if (
                        len(choices) == 1
                        and len(delta) == 1
                        and not choice["finish_reason"]
                        and not choice["index"]
                        and ("usage" not in chunk or not chunk["usage"])
                    ):
                        if "content" in delta:
                            content = delta["content"]
                            if type(content) is str:
                                if content:
                                    append({"type": "delta", "text": content})
                                if self.may_learn(hits):
                                    template = learn_template(data, "content", content, _CONTENT)
                                    if template is not None:
                                        self.text_template = template
                                        text_prefix, text_suffix, text_start, text_end = template
                                continue
                        else:
                            # A fragment of an open call's arguments, and only that.
                            fragments = delta["tool_calls"]
                            fragment = fragments[0]
                            function = fragment["function"]
                            arguments = function["arguments"]
                            key = (0, fragment["index"])
                            call = calls.get(key)
                            if (
                                call is not None
                                and len(fragments) == 1
                                and len(fragment) == 2
                                and len(function) == 1
                                and type(arguments) is str
                            ):
                                if arguments:
                                    call.parts.append(arguments)
                                    append(
                                        {
                                            "type": "tool_call_delta",
                                            "index": call.index,
                                            "arguments": arguments,
                                        }
                                    )
                                if self.may_learn(hits):
                                    template = learn_template(
                                        data, "arguments", arguments, _ARGUMENTS
                                    )
                                    if template is not None:
                                        self.args_template, self.args_key = template, key
                                        args_prefix, args_suffix, args_start, args_end = template
                                continue
                except (LookupError, TypeError):
                    pass
            errors = self.errors
            try:
                self._chunk(chunk, out)
            except MALFORMED as exc:
                self.malformed(item, exc, out)
            if item[0] == "error" and self.errors == errors:
                self.error_event(item, out)  # `event: error`, whatever its data
            if self.between():
                self.template_hits += hits
                return after(items, item)
            hot = not self.finishes
            calls = self.calls
        self.template_hits += hits
        return ()

    def translate(self, event: Event, out: list[NormalizedEvent]) -> None:
        data = event.data
        try:
            chunk = _loads(data)
        except _JSONDecodeError:
            self._not_json(data, out)
            return
        self._chunk(chunk, out)

    def _chunk(self, chunk: Any, out: list[NormalizedEvent]) -> None:
        """One chunk, every field read."""
        if type(chunk) is not dict:
            return
        if not self.open:
            if not (chunk.get("id") or chunk.get("choices") or chunk.get("error")):
                return  # Azure's prompt-filter chunk: nothing to say yet
            self.begin(out, chunk.get("model"), chunk.get("id"))
            self.ends_at_finish = _ends_at_finish(chunk)
        elif self.finishes and chunk.get("id") and chunk["id"] != self.response_id:
            # A finished response followed by another one without `[DONE]` in
            # between. Ids are compared only after a finish, because some
            # servers are not consistent with ids inside one response.
            self.begin(out, chunk.get("model"), chunk.get("id"))
            self.ends_at_finish = _ends_at_finish(chunk)
        choices = chunk.get("choices")
        self.last_finished = False
        if choices:
            for choice in choices:
                delta = choice.get("delta")
                index = choice.get("index") or 0
                if delta:
                    self._delta(delta, delta.get("content"), index, out)
                elif choice.get("text"):  # legacy completions
                    self._text(out, "delta", choice["text"], index)
                finish = choice.get("finish_reason")
                if finish:
                    self._finish_choice(out, index, finish)
                    self.last_finished = True
        usage = chunk.get("usage") or as_dict(chunk.get("x_groq")).get("usage")  # Groq
        if usage and type(usage) is dict:
            self.usage = _usage(usage)
        error = chunk.get("error")
        if error:
            if isinstance(error, dict):
                self.error(out, error.get("message"), error.get("code") or error.get("type"))
            else:
                self.error(out, str(error))

    def _not_json(self, data: str, out: list[NormalizedEvent]) -> None:
        text = data.strip()
        if text == "[DONE]":
            if self.open:
                if self.finish_reason is None and self.finishes:
                    self.finish_reason = list(self.finishes.values())[-1]
                self.end(out, complete=True)
            return
        if not text:
            return
        try:
            chunk = loads(data)  # JSON only the standard library reads (lone surrogates...)
        except ValueError:
            if not self.open:
                self.begin(out)
            self.error(out, f"an event's data is not JSON: {text[:80]!r}", "invalid_json")
            return
        self._chunk(chunk, out)

    def _text(self, out: list[NormalizedEvent], kind: str, text: str, index: int) -> None:
        if index:
            out.append({"type": kind, "text": text, "index": index})
        else:
            out.append({"type": kind, "text": text})

    def _delta(
        self, delta: dict[str, Any], content: Any, index: int, out: list[NormalizedEvent]
    ) -> None:
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if reasoning and isinstance(reasoning, str):
            self._text(out, "reasoning", reasoning, index)
        if content:
            if isinstance(content, str):
                self._text(out, "delta", content, index)
            elif isinstance(content, list):
                self._content_parts(content, index, out)
        refusal = delta.get("refusal")
        if refusal and isinstance(refusal, str):
            self._text(out, "refusal", refusal, index)
        calls = delta.get("tool_calls")
        if calls and isinstance(calls, list):
            for fragment in calls:
                if isinstance(fragment, dict):
                    self._tool_fragment(fragment, index, out)
        legacy = delta.get("function_call")
        if legacy and isinstance(legacy, dict):
            self._tool_fragment({"index": 0, "function": legacy}, index, out)

    def _content_parts(self, parts: list[Any], index: int, out: list[NormalizedEvent]) -> None:
        """Mistral/Magistral: content as [{"type": "text"|"thinking", ...}]."""
        for part in parts:
            if not isinstance(part, dict):
                continue
            kind = part.get("type")
            if kind == "text" and part.get("text"):
                self._text(out, "delta", part["text"], index)
            elif kind == "thinking":
                thinking = part.get("thinking")
                pieces = thinking if isinstance(thinking, list) else [thinking]
                for piece in pieces:
                    text = piece.get("text") if isinstance(piece, dict) else piece
                    if text and isinstance(text, str):
                        self._text(out, "reasoning", text, index)

    def _tool_fragment(
        self, fragment: dict[str, Any], choice: int, out: list[NormalizedEvent]
    ) -> None:
        function = as_dict(fragment.get("function"))
        call_id = fragment.get("id") or None
        name = function.get("name") or None
        arguments = function.get("arguments")
        if arguments is None:
            arguments = ""
        elif not isinstance(arguments, str):  # some servers send an object
            arguments = orjson.dumps(arguments).decode()
        index = fragment.get("index")
        if not isinstance(index, int):
            last = self.last_call.get(choice)
            same = last is not None and (not call_id or call_id == last.id)
            if same and last in self.calls.values():
                assert last is not None
                index = last.index
            else:
                index = self.started_calls.get(choice, 0)
        key = (choice, index)
        call = self.calls.get(key)
        if call is not None and call_id and call.id and call_id != call.id:
            self.finish_call(out, key)  # a server that reuses the index for the next call
            call = None
        if call is None:
            if not (call_id or name or arguments):
                return  # an empty fragment for a call already complete
            # A new call: the calls before it in this choice are complete.
            for other in [k for k, c in self.calls.items() if c.choice == choice]:
                self.finish_call(out, other)
            used = self.indexes.setdefault(choice, set())
            if index in used:  # two calls labelled alike (different ids): kept apart
                index = max(used) + 1
            used.add(index)
            call = ToolCall(index, call_id, name, choice=choice)
            self.started_calls[choice] = self.started_calls.get(choice, 0) + 1
            self.last_call[choice] = call
            self.start_call(out, key, call, arguments)
            return
        if name and not call.name:
            call.name = name  # Mistral repeats "name": "" later: never overwrite
        if call_id and not call.id:
            call.id = call_id
        if arguments:
            self.add_arguments(out, call, arguments)

    def _finish_choice(self, out: list[NormalizedEvent], index: int, finish: Any) -> None:
        self.finishes[index] = finish
        if index == 0:
            self.finish_reason = finish
        cut = finish in self.cut_off_reasons
        for key in [k for k, c in self.calls.items() if c.choice == index]:
            self.finish_call(out, key, cut_off=cut)
