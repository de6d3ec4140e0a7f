"""openai-chat: OpenAI Chat Completions chunks and the OpenAI-compatible servers.

`data:` lines only, JSON with `choices[].delta`, ended by `data: [DONE]`;
also DeepSeek, Azure, Mistral, Groq, vLLM, Ollama's `/v1`, TGI and legacy
completions (the table of fields is in docs/dialects.md). The chunks are
read by `openai_chat_chunks.ChatChunks`, the plain path; this module adds
the template fast path: nearly every chunk of a long answer is one choice
whose delta is one text fragment (or one fragment of an open call's
arguments), and such a chunk costs a parse of that string alone once a
template is learnt (`templates.learn_template`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import orjson

from ssechat.dialects.base import UNREAD
from ssechat.dialects.fields import after
from ssechat.dialects.openai_chat_chunks import ChatChunks
from ssechat.dialects.templates import NO_TEMPLATE, Template, datas_of, learn_template
from ssechat.normalized import NormalizedEvent
from ssechat.sse import Event

_fast_loads = orjson.loads
_JSONDecodeError = orjson.JSONDecodeError
_CONTENT: Final = ("choices", 0, "delta", "content")
_ARGUMENTS: Final = ("choices", 0, "delta", "tool_calls", 0, "function", "arguments")


class OpenAIChat(ChatChunks):
    """The openai-chat dialect: `ChatChunks` with the template fast path in front."""

    def __init__(self) -> None:
        super().__init__()
        # The common chunks' templates, kept across responses: a template
        # matches only chunks identical to its own but for the string, so a
        # new response (another id) simply does not match.
        self.text_template: Template = NO_TEMPLATE
        self.args_template: Template = NO_TEMPLATE
        self.args_key: tuple[int, Any] = (0, None)

    def feed(self, events: Sequence[Event], out: list[NormalizedEvent]) -> Sequence[Event]:
        """A read of common chunks only in one go (`_feed_run`), else one by one (`_feed_each`)."""
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

    def _feed_each(self, events: Sequence[Event], out: list[NormalizedEvent]) -> Sequence[Event]:
        """One chunk at a time: a template's match, a common chunk, or the plain path.

        Inside a response and before any finish, a chunk that a learnt
        template matches costs a parse of its string alone (`_matched`); a
        common chunk that does not is parsed once, handled with a few
        lookups and teaches a template (`_common_chunk`); anything else goes
        through `read`, which reads every field.
        """
        hits = 0
        for event in events:
            data = event[1]
            hot = self.open and not self.finishes
            if hot and self._matched(data, out):
                hits += 1
                continue
            try:
                chunk = _fast_loads(data)
            except _JSONDecodeError:
                chunk = UNREAD
            if hot and chunk is not UNREAD and self._common_chunk(data, chunk, out, hits):
                continue
            self.read(event, out, chunk)
            if self.between():  # the end ([DONE]): what follows is detected anew
                self.template_hits += hits
                return after(events, event)
        self.template_hits += hits
        return ()

    def _matched(self, data: str, out: list[NormalizedEvent]) -> bool:
        """A chunk that a learnt template matches, handled (`Template.match`)."""
        content = self.text_template.match(data)
        if content is not None:
            if content:
                out.append({"type": "delta", "text": content})
            return True
        call = self.calls.get(self.args_key)
        arguments = self.args_template.match(data) if call is not None else None
        if call is None or arguments is None:
            return False
        if arguments:
            call.parts.append(arguments)
            out.append({"type": "tool_call_delta", "index": call.index, "arguments": arguments})
        return True

    def _common_chunk(self, data: str, chunk: Any, out: list[NormalizedEvent], hits: int) -> bool:
        """One choice, one text or arguments fragment, nothing else: handled here (True).

        Usage, errors and Groq's x_groq never come with a lone fragment (they
        come with the finish, or alone). Subscripts are the fastest lookups;
        a missing key or a value of another type only means "not this chunk".
        """
        try:
            choices = chunk["choices"]
            choice = choices[0]
            delta = choice["delta"]
            if (
                len(choices) != 1
                or len(delta) != 1
                or choice["finish_reason"]
                or choice["index"]
                or (chunk.get("usage"))
            ):
                return False
            if "content" in delta:
                return self._common_text(data, delta["content"], out, hits)
            return self._common_arguments(data, delta["tool_calls"], out, hits)
        except (LookupError, TypeError):
            return False

    def _common_text(self, data: str, content: Any, out: list[NormalizedEvent], hits: int) -> bool:
        if type(content) is not str:
            return False
        if content:
            out.append({"type": "delta", "text": content})
        if self.may_learn(hits):
            template = learn_template(data, "content", content, _CONTENT)
            self.text_template = template or self.text_template
        return True

    def _common_arguments(
        self, data: str, fragments: Any, out: list[NormalizedEvent], hits: int
    ) -> bool:
        """A fragment of an open call's arguments, and only that."""
        fragment = fragments[0]
        function = fragment["function"]
        arguments = function["arguments"]
        key = (0, fragment["index"])
        call = self.calls.get(key)
        if (
            call is None
            or len(fragments) != 1
            or len(fragment) != 2
            or len(function) != 1
            or type(arguments) is not str
        ):
            return False
        if arguments:
            call.parts.append(arguments)
            out.append({"type": "tool_call_delta", "index": call.index, "arguments": arguments})
        if self.may_learn(hits):
            template = learn_template(data, "arguments", arguments, _ARGUMENTS)
            if template is not None:
                self.args_template, self.args_key = template, key
        return True
