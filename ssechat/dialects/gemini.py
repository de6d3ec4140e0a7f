"""gemini: Google's streamGenerateContent with `alt=sse` (Google AI and Vertex).

Wire shape: `data:` lines only (CRLF), each a
GenerateContentResponse: `candidates[].content.parts[]`, `finishReason`,
`usageMetadata` (cumulative: the last one wins), `modelVersion`,
`responseId`. There is no end marker: a candidate's `finishReason` makes the
response complete, and the response ends with the input (or when a chunk
with another `responseId` starts the next one), because more chunks may
follow a finishReason (the last one wins).

The table of its fields: docs/dialects.md, "gemini".
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

import orjson

from ssechat.dialects.base import Dialect
from ssechat.dialects.calls import ToolCall
from ssechat.dialects.fields import as_dict, emit_text, is_text, usage_event_fields
from ssechat.normalized import NormalizedEvent
from ssechat.sse import Event

_PATH_STEP = re.compile(r"\.([^.\[]+)|\[(\d+)\]")
_VALUE_KEYS = ("numberValue", "boolValue", "structValue", "listValue")


def _set_path(root: dict[str, Any], path: str, piece: dict[str, Any]) -> None:
    """Apply one Vertex partialArgs piece (`$.a.b[0]`) to the arguments being built."""
    steps: list[str | int] = [
        name if name else int(number) for name, number in _PATH_STEP.findall(path[1:])
    ]
    if not steps:
        return
    node = _walk(root, steps)
    value = _piece_value(piece)
    if node is None or value is None:
        return
    last = steps[-1]
    if isinstance(node, list) and isinstance(last, int):
        while len(node) <= last:
            node.append(None)
        node[last] = (node[last] or "") + value[0] if value[1] else value[0]
    elif isinstance(node, dict) and isinstance(last, str):
        node[last] = (node.get(last) or "") + value[0] if value[1] else value[0]


def _walk(root: dict[str, Any], steps: list[str | int]) -> Any:
    """The container the last step names a place in, made as it goes; None on a mismatch."""
    node: Any = root
    for position, step in enumerate(steps[:-1]):
        child: Any = [] if isinstance(steps[position + 1], int) else {}
        if isinstance(node, list) and isinstance(step, int):
            while len(node) <= step:
                node.append(None)
            if node[step] is None:
                node[step] = child
            node = node[step]
        elif isinstance(node, dict) and isinstance(step, str):
            node = node.setdefault(step, child)
        else:
            return None
    return node


def _piece_value(piece: dict[str, Any]) -> tuple[Any, bool] | None:
    """A piece's value, and whether it appends (strings stream in parts); None: no value."""
    if "stringValue" in piece:
        return piece["stringValue"], True
    if "nullValue" in piece:
        return None, False
    key = next((k for k in _VALUE_KEYS if k in piece), None)
    return None if key is None else (piece[key], False)


class Gemini(Dialect):
    name: ClassVar[str] = "gemini"
    cut_off_reasons: ClassVar[frozenset[str]] = frozenset({"MAX_TOKENS"})

    def __init__(self) -> None:
        super().__init__()
        self.response_id: Any = None
        self.streaming: dict[int, dict[str, Any]] = {}  # Vertex: candidate -> args being built

    def begin(self, out: list[NormalizedEvent], model: Any = None, response_id: Any = None) -> None:
        super().begin(out, model, response_id)
        self.response_id = response_id
        self.streaming = {}

    def complete_at_eof(self) -> bool:
        return self.finish_reason is not None

    def handle(self, chunk: Any, event: Event, out: list[NormalizedEvent]) -> None:
        if isinstance(chunk, list):  # a JSON array of responses (non-SSE style)
            for item in chunk:
                if isinstance(item, dict):
                    self._chunk(item, out)
        elif type(chunk) is dict:
            self._chunk(chunk, out)

    def _chunk(self, chunk: dict[str, Any], out: list[NormalizedEvent]) -> None:
        response_id = chunk.get("responseId")
        if (
            not self.open
            or (response_id and self.response_id and response_id != self.response_id)
            or (self.finish_reason is not None and response_id != self.response_id)
        ):  # after a finish reason, a chunk of another (or no) response id is another response
            self.begin(out, chunk.get("modelVersion"), response_id)
        elif response_id and not self.response_id:
            self.response_id = response_id
        for candidate in chunk.get("candidates") or ():
            if isinstance(candidate, dict):
                self._candidate(candidate, out)
        usage = chunk.get("usageMetadata")
        if isinstance(usage, dict) and (
            "promptTokenCount" in usage or "candidatesTokenCount" in usage
        ):
            self.usage = usage_event_fields(
                usage.get("promptTokenCount"),
                usage.get("candidatesTokenCount"),
                total_tokens=usage.get("totalTokenCount"),
                reasoning_tokens=usage.get("thoughtsTokenCount"),
                cached_tokens=usage.get("cachedContentTokenCount"),
            )
        self._errors(chunk, out)

    def _candidate(self, candidate: dict[str, Any], out: list[NormalizedEvent]) -> None:
        index = candidate.get("index") or 0
        for part in as_dict(candidate.get("content")).get("parts") or ():
            if not isinstance(part, dict):
                continue
            text = part.get("text")
            if is_text(text):
                emit_text(out, "reasoning" if part.get("thought") else "delta", text, index)
            elif "functionCall" in part:
                self._function_call(as_dict(part["functionCall"]), index, out)
        finish = candidate.get("finishReason")
        if finish and (not index or self.finish_reason is None):
            self.finish_reason = finish

    def _errors(self, chunk: dict[str, Any], out: list[NormalizedEvent]) -> None:
        """A blocked prompt (with no candidates), or an error object."""
        feedback = as_dict(chunk.get("promptFeedback"))
        if feedback.get("blockReason") and not chunk.get("candidates"):
            reason = feedback["blockReason"]
            message = feedback.get("blockReasonMessage") or f"the prompt was blocked ({reason})"
            self.error(out, message, reason)
        error = chunk.get("error")
        if error:
            error = as_dict(error)
            self.error(out, error.get("message"), error.get("status") or error.get("code"))

    def _function_call(
        self, call: dict[str, Any], candidate: int, out: list[NormalizedEvent]
    ) -> None:
        name = call.get("name")
        building = self.streaming.get(candidate)
        if building is None and name and call.get("willContinue"):
            # Vertex streamed arguments: this call continues in partialArgs.
            tool = ToolCall(self.call_count, call.get("id"), name, choice=candidate)
            self.call_count += 1
            self.start_call(out, ("stream", candidate), tool)
            self.streaming[candidate] = {}
            return
        if building is not None:
            for piece in call.get("partialArgs") or ():
                if isinstance(piece, dict) and isinstance(piece.get("jsonPath"), str):
                    _set_path(building, piece["jsonPath"], piece)
            if not call.get("willContinue") and not call.get("partialArgs"):
                # The empty functionCall closes it.
                del self.streaming[candidate]
                tool = self.calls.pop(("stream", candidate))
                text = orjson.dumps(building).decode()
                self.add_arguments(out, tool, text)
                self.emit_call(out, tool, text, value=building, parsed=True)
            return
        if not name:
            return
        # A whole call (Google AI): out at once, arguments already parsed.
        args = call.get("args")
        if args is None:
            args = {}
        tool = ToolCall(self.call_count, call.get("id"), name, choice=candidate)
        self.call_count += 1
        text = orjson.dumps(args).decode()
        self.start_call(out, self.call_count, tool, text)
        self.calls.pop(self.call_count)
        self.emit_call(out, tool, text, value=args, parsed=True)
