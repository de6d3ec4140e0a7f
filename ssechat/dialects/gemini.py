"""gemini: Google's streamGenerateContent with `alt=sse` (Google AI and Vertex).

Wire shape (PROVIDERS.md "gemini"): `data:` lines only (CRLF), each a
GenerateContentResponse: `candidates[].content.parts[]`, `finishReason`,
`usageMetadata` (cumulative: the last one wins), `modelVersion`,
`responseId`. There is no end marker: a candidate's `finishReason` makes the
response complete, and the response ends with the input (or when a chunk
with another `responseId` starts the next one), because more chunks may
follow a finishReason (the last one wins).

| chunk field                              | normalized                              |
|------------------------------------------|-----------------------------------------|
| parts[].text                             | delta (index for candidate > 0)         |
| parts[].text with thought: true          | reasoning                               |
| parts[].functionCall {name, args}        | tool_call_delta + tool_call (whole)     |
| functionCall willContinue, partialArgs,  | Vertex streamed arguments, assembled by |
| then an empty functionCall               | JSON path                               |
| candidates[].finishReason                | done.finish_reason (last wins)          |
| usageMetadata                            | usage (prompt/candidates token counts)  |
| promptFeedback.blockReason, no candidate | error (code = the block reason)         |
| error                                    | error                                   |
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

import orjson

from ssechat.dialects.base import Dialect, ToolCall, as_dict, loads, usage_event_fields
from ssechat.normalized import NormalizedEvent
from ssechat.sse import Event

# base.loads: orjson, then the standard library for what only it reads
# (lone surrogate escapes, integers past 64 bits), never dropping the event.
_loads = loads
_JSONDecodeError = ValueError
_PATH_STEP = re.compile(r"\.([^.\[]+)|\[(\d+)\]")
_VALUE_KEYS = ("numberValue", "boolValue", "structValue", "listValue")


def _set_path(root: dict[str, Any], path: str, piece: dict[str, Any]) -> None:
    """Apply one Vertex partialArgs piece (`$.a.b[0]`) to the arguments being built."""
    steps: list[str | int] = [
        name if name else int(number) for name, number in _PATH_STEP.findall(path[1:])
    ]
    if not steps:
        return
    node: Any = root
    for position, step in enumerate(steps[:-1]):
        following = steps[position + 1]
        child: Any = [] if isinstance(following, int) else {}
        if isinstance(node, list) and isinstance(step, int):
            while len(node) <= step:
                node.append(None)
            if node[step] is None:
                node[step] = child
            node = node[step]
        elif isinstance(node, dict) and isinstance(step, str):
            node = node.setdefault(step, child)
        else:
            return
    last = steps[-1]
    if "stringValue" in piece:
        value: Any = piece["stringValue"]
        append = True
    elif "nullValue" in piece:
        value, append = None, False
    else:
        key = next((k for k in _VALUE_KEYS if k in piece), None)
        if key is None:
            return
        value, append = piece[key], False
    if isinstance(node, list) and isinstance(last, int):
        while len(node) <= last:
            node.append(None)
        node[last] = (node[last] or "") + value if append else value
    elif isinstance(node, dict) and isinstance(last, str):
        node[last] = (node.get(last) or "") + value if append else value


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

    def translate(self, event: Event, out: list[NormalizedEvent]) -> None:
        try:
            chunk = _loads(event.data)
        except _JSONDecodeError:
            return
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
            if not isinstance(candidate, dict):
                continue
            index = candidate.get("index") or 0
            parts = as_dict(candidate.get("content")).get("parts")
            if parts:
                for part in parts:
                    if not isinstance(part, dict):
                        continue
                    text = part.get("text")
                    if text and isinstance(text, str):
                        event: NormalizedEvent = {
                            "type": "reasoning" if part.get("thought") else "delta",
                            "text": text,
                        }
                        if index:
                            event["index"] = index
                        out.append(event)
                    elif "functionCall" in part:
                        self._function_call(as_dict(part["functionCall"]), index, out)
            finish = candidate.get("finishReason")
            if finish and (not index or self.finish_reason is None):
                self.finish_reason = finish
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
