"""openai-chat's plain path: one Chat Completions chunk at a time, every field read.

`ChatChunks` is the whole dialect without its template fast path
(`openai_chat.OpenAIChat` adds that, and is the one registered): choices
and their deltas, content parts (Mistral), tool-call fragments by index,
finish reasons, usage (also Groq's `x_groq`), errors, and `[DONE]`. TGI
before 2.2 sends no `[DONE]`: such a stream, told by its first chunk, ends
with the chunk of its finish reason (`complete_at_eof`). The servers'
variants are listed in docs/dialects.md.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Final

import orjson

from ssechat.dialects.base import Dialect
from ssechat.dialects.calls import ToolCall
from ssechat.dialects.fields import as_dict, emit_text, usage_event_fields
from ssechat.normalized import NormalizedEvent
from ssechat.sse import Event

# Matched with re.fullmatch (compiled on first use, not at import: start-up).
_TGI_FINGERPRINT: Final = r"\d+\.\d+\.\d+\S*-(sha-[0-9a-f]+|native)"


def _ends_at_finish(chunk: dict[str, Any]) -> bool:
    """A TGI chat stream: no `[DONE]` will come.

    Told by `"object": "text_completion"` with a `delta` (TGI 2.0's
    mislabel), or TGI's `system_fingerprint` ("2.1.0-sha-..." / "...-native").
    """
    fingerprint = chunk.get("system_fingerprint")
    if isinstance(fingerprint, str) and re.fullmatch(_TGI_FINGERPRINT, fingerprint):
        return True
    choices = chunk.get("choices")
    first = choices[0] if isinstance(choices, list) and choices else None
    return chunk.get("object") == "text_completion" and isinstance(first, dict) and "delta" in first


def _arguments(arguments: Any) -> str:
    """A fragment's arguments as text (some servers send an object)."""
    if arguments is None:
        return ""
    return arguments if isinstance(arguments, str) else orjson.dumps(arguments).decode()


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


class ChatChunks(Dialect):
    name: ClassVar[str] = "openai-chat"
    cut_off_reasons: ClassVar[frozenset[str]] = frozenset({"length", "content_filter"})

    def __init__(self) -> None:
        super().__init__()
        self.response_id = ""
        self.finishes: dict[int, Any] = {}
        self.started_calls: dict[int, int] = {}  # calls started per choice
        self.last_call: dict[int, ToolCall] = {}  # per choice, for fragments without an index
        self.indexes: dict[int, set[int]] = {}  # the call indexes written, per choice
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

    def done(self, out: list[NormalizedEvent]) -> None:
        """`[DONE]`: the end; the finish reason is choice 0's, else the last choice's."""
        if self.open:
            if self.finish_reason is None and self.finishes:
                self.finish_reason = list(self.finishes.values())[-1]
            self.end(out, complete=True)

    def handle(self, chunk: Any, event: Event, out: list[NormalizedEvent]) -> None:
        """One chunk, every field read."""
        if type(chunk) is not dict:
            return
        if not self._response_of(chunk, out):
            return  # Azure's prompt-filter chunk: nothing to say yet
        choices = chunk.get("choices")
        self.last_finished = False
        if choices:
            for choice in choices:
                self._choice(choice, out)
        usage = chunk.get("usage") or as_dict(chunk.get("x_groq")).get("usage")  # Groq
        if usage and type(usage) is dict:
            self.usage = _usage(usage)
        error = chunk.get("error")
        if error:
            if isinstance(error, dict):
                self.error(out, error.get("message"), error.get("code") or error.get("type"))
            else:
                self.error(out, str(error))

    def _response_of(self, chunk: dict[str, Any], out: list[NormalizedEvent]) -> bool:
        """Begin a response if `chunk` starts one; False when nothing is open after it."""
        if not self.open:
            if not (chunk.get("id") or chunk.get("choices") or chunk.get("error")):
                return False
        elif not (self.finishes and chunk.get("id") and chunk["id"] != self.response_id):
            return True
        # A first chunk; or a finished response followed by another one without
        # `[DONE]` in between. Ids are compared only after a finish, because
        # some servers are not consistent with ids inside one response.
        self.begin(out, chunk.get("model"), chunk.get("id"))
        self.ends_at_finish = _ends_at_finish(chunk)
        return True

    def _choice(self, choice: Any, out: list[NormalizedEvent]) -> None:
        delta = choice.get("delta")
        index = choice.get("index") or 0
        if delta:
            self._delta(delta, index, out)
        elif choice.get("text"):  # legacy completions
            emit_text(out, "delta", choice["text"], index)
        finish = choice.get("finish_reason")
        if finish:
            self._finish_choice(out, index, finish)
            self.last_finished = True

    def _delta(self, delta: dict[str, Any], index: int, out: list[NormalizedEvent]) -> None:
        emit_text(out, "reasoning", delta.get("reasoning_content") or delta.get("reasoning"), index)
        content = delta.get("content")
        if content:
            if isinstance(content, list):
                self._content_parts(content, index, out)
            else:
                emit_text(out, "delta", content, index)
        emit_text(out, "refusal", delta.get("refusal"), index)
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
            if kind == "text":
                emit_text(out, "delta", part.get("text"), index)
            elif kind == "thinking":
                thinking = part.get("thinking")
                for piece in thinking if isinstance(thinking, list) else [thinking]:
                    text = piece.get("text") if isinstance(piece, dict) else piece
                    emit_text(out, "reasoning", text, index)

    def _tool_fragment(
        self, fragment: dict[str, Any], choice: int, out: list[NormalizedEvent]
    ) -> None:
        function = as_dict(fragment.get("function"))
        call_id = fragment.get("id") or None
        name = function.get("name") or None
        arguments = _arguments(function.get("arguments"))
        key = (choice, self._fragment_index(fragment.get("index"), choice, call_id))
        call = self.calls.get(key)
        if call is not None and call_id and call.id and call_id != call.id:
            self.finish_call(out, key)  # a server that reuses the index for the next call
            call = None
        if call is None:
            if call_id or name or arguments:  # else an empty fragment for a call complete
                self._new_call(key, call_id, name, arguments, out)
            return
        if name and not call.name:
            call.name = name  # Mistral repeats "name": "" later: never overwrite
        if call_id and not call.id:
            call.id = call_id
        if arguments:
            self.add_arguments(out, call, arguments)

    def _fragment_index(self, index: Any, choice: int, call_id: Any) -> Any:
        """A fragment's call index; for one without, the open call it continues, or the next."""
        if isinstance(index, int):
            return index
        last = self.last_call.get(choice)
        same = last is not None and (not call_id or call_id == last.id)
        if same and last in self.calls.values():
            assert last is not None
            return last.index
        return self.started_calls.get(choice, 0)

    def _new_call(
        self,
        key: tuple[int, Any],
        call_id: Any,
        name: Any,
        arguments: str,
        out: list[NormalizedEvent],
    ) -> None:
        """A new call: the calls before it in this choice are complete."""
        choice, index = key
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

    def _finish_choice(self, out: list[NormalizedEvent], index: int, finish: Any) -> None:
        self.finishes[index] = finish
        if index == 0:
            self.finish_reason = finish
        cut = finish in self.cut_off_reasons
        for key in [k for k, c in self.calls.items() if c.choice == index]:
            self.finish_call(out, key, cut_off=cut)
