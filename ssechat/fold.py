"""The fold of one response's normalized events: what it said, in one place.

`Response` gathers a response's events as they come (`add`, and `arrived`
once per SSE event with its time): answer text, reasoning, tool calls,
finish reason, usage, errors, truncation and timing. The `--summary` line
(`record`) and the `--final` answer (`answer`) of `parse-sse` and `send` are
both read from it, so that they cannot disagree about a response.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, TypedDict

from ssechat.normalized import (
    TRUNCATED,
    DoneEvent,
    ErrorEvent,
    NormalizedEvent,
    TextEvent,
    ToolCallEvent,
    UsageEvent,
    first_choice,
)

_CONTENT = frozenset({"delta", "reasoning", "tool_call_delta", "tool_call", "refusal"})


class FinalAnswer(TypedDict):
    """The `--final` answer of a complete response."""

    text: str
    tool_calls: list[dict[str, Any]]
    finish_reason: Any
    usage: dict[str, Any] | None


class SummaryRecord(TypedDict):
    """The `--summary` line of a response (also what `ssechat.summarize` yields)."""

    dialect: Any
    model: Any
    id: Any
    events: int
    answer_chars: int
    reasoning_chars: int
    tool_calls: list[Any]
    finish_reason: Any
    usage: dict[str, Any] | None
    truncated: bool
    errors: list[str]
    http_status: int | None
    ttft_ms: float | None
    duration_ms: float | None
    max_gap_ms: float | None
    events_per_s: float | None


class Response:
    """One response folded; `done` once its `done` line came (it is complete)."""

    def __init__(self, start: NormalizedEvent | None = None, t0: float | None = None) -> None:
        start = start or {}
        self.dialect: Any = start.get("provider")
        self.model: Any = start.get("model")
        self.id: Any = start.get("id")
        self.events = 0  # SSE events
        self.text: list[str] = []  # answer text (choice 0)
        self.answer_chars = 0
        self.reasoning_chars = 0
        self.calls: list[dict[str, Any]] = []
        self.finish_reason: Any = None
        self.usage: dict[str, Any] | None = None
        self.done = False
        self.truncated = False
        self.errors: list[str] = []
        self.t0 = t0
        self.first: float | None = None
        self.last: float | None = None
        self.gap: float | None = None
        self.ttft: float | None = None

    def arrived(self, seconds: float | None) -> None:
        """One more SSE event of this response, arriving at `seconds`."""
        self.events += 1
        if seconds is None:
            return
        if self.first is None:
            self.first = seconds
        if self.last is not None:
            gap = seconds - self.last
            if self.gap is None or gap > self.gap:
                self.gap = gap
        self.last = seconds

    def add(self, event: NormalizedEvent, seconds: float | None = None) -> None:
        """One normalized event of this response, arriving at `seconds`."""
        kind = event.get("type")
        if kind in _CONTENT and self.ttft is None and seconds is not None:
            self.ttft = seconds
        fold = _FOLDS.get(kind)
        if fold is not None:
            fold(self, event)  # the event has its type's shape (normalized's TypedDicts)

    def _delta(self, event: TextEvent) -> None:
        if first_choice(event):
            text = str(event.get("text", ""))
            self.text.append(text)
            self.answer_chars += len(text)

    def _reasoning(self, event: TextEvent) -> None:
        self.reasoning_chars += len(event.get("text", ""))

    def _tool_call(self, event: ToolCallEvent) -> None:
        self.calls.append({k: v for k, v in event.items() if k != "type"})
        if event.get("error"):
            self.errors.append(f"tool call {event.get('name')!r}: {event['error']}")

    def _usage(self, event: UsageEvent) -> None:
        self.usage = {k: v for k, v in event.items() if k != "type"}

    def _done(self, event: DoneEvent) -> None:
        self.finish_reason = event.get("finish_reason")
        self.done = True

    def _error(self, event: ErrorEvent) -> None:
        if event.get("code") == TRUNCATED:
            self.truncated = True
        else:
            self.errors.append(str(event.get("message")))

    def answer(self) -> FinalAnswer:
        """The `--final` answer: text, tool calls, finish reason, usage."""
        return {
            "text": "".join(self.text),
            "tool_calls": self.calls,
            "finish_reason": self.finish_reason,
            "usage": self.usage,
        }

    def record(self, http_status: int | None) -> SummaryRecord:
        """The `--summary` line."""

        def ms(seconds: float | None) -> float | None:
            return None if seconds is None else round(seconds * 1000, 1)

        t0 = self.t0 or 0.0
        known = self.t0 is not None and self.last is not None
        span = (self.last - self.first) if known and self.first is not None else None  # type: ignore[operator]
        return {
            "dialect": self.dialect,
            "model": self.model,
            "id": self.id,
            "events": self.events,
            "answer_chars": self.answer_chars,
            "reasoning_chars": self.reasoning_chars,
            "tool_calls": [call.get("name") for call in self.calls],
            "finish_reason": self.finish_reason,
            "usage": self.usage,
            "truncated": self.truncated,
            "errors": self.errors,
            "http_status": http_status,
            "ttft_ms": ms(self.ttft - t0) if known and self.ttft is not None else None,
            "duration_ms": ms(self.last - t0) if known else None,  # type: ignore[operator]
            "max_gap_ms": ms(self.gap) if known else None,
            "events_per_s": round(self.events / span, 1) if span else None,
        }


_FOLDS: Final[dict[Any, Callable[[Response, Any], None]]] = {
    "delta": Response._delta,
    "reasoning": Response._reasoning,
    "tool_call": Response._tool_call,
    "usage": Response._usage,
    "done": Response._done,
    "error": Response._error,
}
"""What each type of event adds to a response (other types add nothing)."""
