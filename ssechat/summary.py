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

from typing import IO

from ssechat.fold import Response
from ssechat.lines import json_line
from ssechat.normalized import NormalizedEvent, Sink


class Summary(Sink):
    """A pipeline sink that writes one summary line per response."""

    timed = True

    def __init__(self, stream: IO[bytes], *, flush_each: bool = True) -> None:
        self.stream = stream
        self.flush_each = flush_each
        self.http_status: int | None = None  # said by the input, for the next response
        self._status: int | None = None  # the current response's
        self._current: Response | None = None
        self._waiting = 0  # events that came before their response's start
        self._last_time: float | None = None  # the previous response's last event

    # -- the sink interface ----------------------------------------------------

    def write_timed(
        self, events: list[NormalizedEvent], seconds: float | None, counted: bool = True
    ) -> None:
        """The normalized events one SSE event gave (`counted`), arriving at `seconds`."""
        for event in events:
            current = self._current
            if event.get("type") == "start":
                self._begin(event, seconds)
            elif current is None or current.done or current.truncated:
                # Nothing of an ended response comes after its end: an error body in
                # the next file of `parse-sse --summary A B` is a response of its own.
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
        self._current = Response(start, t0)
        # The status said before this response (a capture's header) is its own, not the
        # next file's: `parse-sse --summary error.sse ok.sse`.
        self._status, self.http_status = self.http_status, None
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
        self.stream.write(json_line(response.record(self._status)))
        if self.flush_each:
            self.stream.flush()
