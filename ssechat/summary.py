"""`--summary`: one JSON object per response instead of the event lines, for CI checks.

A `Summary` is a pipeline sink (see `ssechat.pipeline`): the pipeline calls
`write_timed(events, seconds)` once per SSE event with the normalized events
it gave and its arrival time (seconds since the request: from capture
annotations, or measured on live input; None when unknown), so `parse-sse
--summary` and `send --summary` summarize alike. Each response's line comes
out when the next response starts or the input ends:

    {"dialect": "openai-chat", "model": "gpt-4o", "id": "chatcmpl-1",
     "events": 42, "answer_chars": 312, "reasoning_chars": 0,
     "tool_calls": ["get_weather"], "finish_reason": "tool_calls",
     "usage": {"input_tokens": 10, "output_tokens": 30}, "truncated": false,
     "errors": [], "http_status": null, "ttft_ms": 412.0,
     "duration_ms": 1830.5, "max_gap_ms": 220.1, "events_per_s": 29.6}

The timing fields are null when the input carries no timing (a plain saved
file). `ttft_ms` is the time to the first content (answer text, reasoning
or a tool call); `duration_ms` the time to the response's last event;
`max_gap_ms` the longest wait between two of its events.
"""

from __future__ import annotations

from typing import IO, Any

from ssechat.normalized import TRUNCATED, NormalizedEvent, json_line

_CONTENT = frozenset({"delta", "reasoning", "tool_call_delta", "tool_call", "refusal"})


class _Response:
    __slots__ = (
        "answer",
        "dialect",
        "errors",
        "events",
        "finish_reason",
        "first",
        "gap",
        "id",
        "last",
        "model",
        "reasoning",
        "t0",
        "tools",
        "truncated",
        "ttft",
        "usage",
    )

    def __init__(self, start: NormalizedEvent | None, t0: float | None) -> None:
        start = start or {}
        self.dialect: Any = start.get("provider")
        self.model: Any = start.get("model")
        self.id: Any = start.get("id")
        self.events = 0
        self.answer = 0
        self.reasoning = 0
        self.tools: list[Any] = []
        self.finish_reason: Any = None
        self.usage: dict[str, Any] | None = None
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

    def add(self, event: NormalizedEvent, seconds: float | None) -> None:
        kind = event.get("type")
        if kind in _CONTENT and self.ttft is None and seconds is not None:
            self.ttft = seconds
        if kind == "delta":
            if not event.get("index"):
                self.answer += len(event.get("text", ""))
        elif kind == "reasoning":
            self.reasoning += len(event.get("text", ""))
        elif kind == "tool_call":
            self.tools.append(event.get("name"))
            if event.get("error"):
                self.errors.append(f"tool call {event.get('name')!r}: {event['error']}")
        elif kind == "usage":
            self.usage = {k: v for k, v in event.items() if k != "type"}
        elif kind == "done":
            self.finish_reason = event.get("finish_reason")
        elif kind == "error":
            if event.get("code") == TRUNCATED:
                self.truncated = True
            else:
                self.errors.append(str(event.get("message")))

    def record(self, http_status: int | None) -> dict[str, Any]:
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
            "answer_chars": self.answer,
            "reasoning_chars": self.reasoning,
            "tool_calls": self.tools,
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


class Summary:
    """A pipeline sink that writes one summary line per response."""

    def __init__(self, stream: IO[bytes], *, flush_each: bool = True) -> None:
        self.stream = stream
        self.flush_each = flush_each
        self.http_status: int | None = None
        self._current: _Response | None = None
        self._waiting = 0  # events that came before their response's start
        self._last_time: float | None = None  # the previous response's last event

    # -- the sink interface ----------------------------------------------------

    def write_timed(
        self, events: list[NormalizedEvent], seconds: float | None, counted: bool = True
    ) -> None:
        """The normalized events one SSE event gave (`counted`), arriving at `seconds`."""
        for event in events:
            if event.get("type") == "start":
                self._begin(event, seconds)
            elif self._current is None:
                self._begin(None, seconds)
            assert self._current is not None
            self._current.add(event, seconds)
        if not counted:
            return
        if self._current is None:
            self._waiting += 1
        else:
            self._current.arrived(seconds)

    def write(self, events: list[NormalizedEvent]) -> None:
        self.write_timed(events, None, counted=False)

    def raw(self, lines: list[bytes]) -> None:
        """A stream no dialect recognises: counted as one response of no dialect."""
        if self._current is None:
            self._begin(None, None)
        assert self._current is not None
        self._current.events += len(lines)

    def on_http_status(self, status: int) -> None:
        self.http_status = status

    def close(self) -> None:
        self._finish()
        self.stream.flush()

    # -- internals -------------------------------------------------------------

    def _begin(self, start: NormalizedEvent | None, seconds: float | None) -> None:
        self._finish()
        if seconds is None:
            t0 = None
        elif self._last_time is not None and seconds >= self._last_time:
            t0 = self._last_time  # the next response of a live stream
        else:
            t0 = 0.0  # the first response, or a capture whose times start again
        self._current = _Response(start, t0)
        for _ in range(self._waiting):
            self._current.arrived(seconds)
        self._waiting = 0

    def _finish(self) -> None:
        response = self._current
        if response is None:
            return
        self._current = None
        if response.last is not None:
            self._last_time = response.last
        self.stream.write(json_line(response.record(self.http_status)))
        if self.flush_each:
            self.stream.flush()
