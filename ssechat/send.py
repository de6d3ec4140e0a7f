"""The send session: one request's bytes through the pipeline, across retries.

`transport.Loop` owns the network and the retry budget; this module owns
what a retry means for the output (DESIGN.md section 3, the `retry` event):

- every byte the server sends goes through the key redactor, then to the
  capture (`--save`), then to the SSE decoder, the dialect and the writer:
  the same pipeline as `parse-sse`, with `--raw` writing the bytes themselves
  and `--events` the plain SSE events;
- an event that carries content (any SSE event but a ping; comments never
  count) restarts the idle clock;
- a failure after output has begun is resumed as `--resume` says. `auto`:
  continue where the stream allows it (`Last-Event-ID` when the stream carried
  ids), otherwise restart in the JSON-lines and `--final` modes, where the
  `retry` event tells the consumer to drop what this response emitted, and
  stop with the partial output kept in `--text` and `--raw` modes, where a
  restart could not be told apart. `restart`: always restart (refused with
  `--text`/`--raw` unless `--final`). `off`: never retry after output began.
  Before output has begun a retry is always a plain restart.
- `--final` holds everything back and prints one complete answer at the end,
  or nothing when there is none.

Every retry writes `{"type": "retry", "attempt", "reason", "delay", "resume"}`
in the JSON modes and one notice line on stderr.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import IO, Any, Final, Protocol

from ssechat.capture import CaptureHeader, CaptureWriter, create_private
from ssechat.events import LineWriter, json_line, raw_event_line
from ssechat.keys import Redactor, StreamRedactor
from ssechat.providers import Request
from ssechat.sse import Comment, Decoder, Event, Item
from ssechat.transport import (
    Failure,
    HTTPFailure,
    Loop,
    NetworkFailure,
    Stream,
    StreamFailure,
    TimeoutFailure,
    error_message,
)

# In-stream error codes that mean "try again" (Anthropic, OpenAI, Coze wording).
RETRYABLE_STREAM_ERRORS: Final = frozenset(
    {
        "overloaded_error",
        "overloaded",
        "server_overloaded",
        "server_is_overloaded",
        "rate_limit_error",
        "rate_limit_exceeded",
        "api_error",
        "server_error",
        "internal_server_error",
        "service_unavailable",
    }
)


class Mode(str, Enum):
    JSON = "json"
    TEXT = "text"
    EVENTS = "events"
    RAW = "raw"


class Resume(str, Enum):
    AUTO = "auto"
    RESTART = "restart"
    OFF = "off"


class Normalizer(Protocol):
    """A dialect for one response: SSE events in, normalized event dicts out."""

    def feed(self, events: list[Event]) -> list[dict[str, Any]]: ...

    def close(self) -> list[dict[str, Any]]: ...


class Sink(Protocol):
    """Where normalized events are written (events.JsonLinesWriter, events.TextWriter)."""

    def write(self, events: list[dict[str, Any]]) -> None: ...

    def close(self) -> None: ...


NormalizerFactory = Callable[[str], Normalizer]


@dataclass
class Options:
    mode: Mode = Mode.JSON
    final: bool = False
    resume: Resume = Resume.AUTO
    save: str | None = None
    flush_each: bool = True
    allow_truncated: bool = False


def is_ping(event: Event) -> bool:
    """Keep-alives that carry no content: `event: ping`, `{"type": "ping"}`."""
    if event.event == "ping":
        return True
    data = event.data
    return len(data) < 40 and '"ping"' in data and '"type"' in data


@dataclass
class Fold:
    """The final answer assembled from normalized events (for --final)."""

    text: list[str] = field(default_factory=list)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    finish_reason: Any = None
    usage: dict[str, Any] | None = None
    done: bool = False

    def add(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "delta" and not event.get("index"):
            self.text.append(str(event.get("text", "")))
        elif kind == "tool_call":
            self.tool_calls.append({k: v for k, v in event.items() if k != "type"})
        elif kind == "usage":
            self.usage = {k: v for k, v in event.items() if k != "type"}
        elif kind == "done":
            self.finish_reason = event.get("finish_reason")
            self.done = True

    def answer(self) -> dict[str, Any]:
        return {
            "text": "".join(self.text),
            "tool_calls": self.tool_calls,
            "finish_reason": self.finish_reason,
            "usage": self.usage,
        }


class Session:
    """Implements `transport.Handler` for one `send` command."""

    def __init__(
        self,
        request: Request,
        options: Options,
        out: IO[bytes],
        notice: Callable[[str], None],
        secrets: list[str],
        normalizer_factory: NormalizerFactory | None,
        sink: Sink | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.request = request
        self.options = options
        self.writer = LineWriter(out, flush_each=options.flush_each)
        self.sink = sink  # the normalized output (JSON and text modes)
        self.notice = notice
        self.redact = Redactor(secrets)
        self.secrets = secrets
        self.normalizer_factory = normalizer_factory
        self.clock = clock
        self.decoder = Decoder()
        self.redactor = StreamRedactor(secrets)
        self._capture_file = create_private(options.save) if options.save else None
        self._capture: CaptureWriter | None = None
        self._continuing = False
        self._new_response()

    # -- response state ----------------------------------------------------------

    def _new_response(self) -> None:
        """Forget the response so far (the start, or a restart)."""
        factory = self.normalizer_factory
        self.normalizer = factory(self.request.dialect) if factory else None
        self.fold = Fold()
        self.begun = False  # something of this response reached stdout
        self.content_seen = False
        self.response_started = self.clock()
        self.last_event_id = ""
        self.pending: list[dict[str, Any]] = []  # held until we know a retry replaces them
        self.truncated = False
        self.stream_error: str | None = None
        self.stream_error_retryable = False

    # -- transport.Handler -------------------------------------------------------

    def on_open(self, stream: Stream) -> None:
        self.decoder = Decoder()
        self.redactor = StreamRedactor(self.secrets)
        content_type = stream.content_type.lower()
        if "json" in content_type and "event-stream" not in content_type:
            # An error body with a 2xx status (Coze answers a bad token this way).
            body = stream.read_body()
            raise HTTPFailure(
                stream.status,
                self.redact(error_message(body)) or "not an event stream",
                retryable=False,
                body=self.redactor.feed(body) + self.redactor.close(),
            )
        if not self._continuing:
            self.response_started = self.clock()
            self._open_capture(
                CaptureHeader(stream.status, stream.content_type or "text/event-stream")
            )
        self._continuing = False

    def on_chunk(self, chunk: bytes, seconds: float) -> bool:
        chunk = self.redactor.feed(chunk)
        return self._process(chunk, self.decoder.feed(chunk) if chunk else [])

    def on_end(self) -> None:
        tail = self.redactor.close()
        items = self.decoder.feed(tail) if tail else []
        self._process(tail, items + self.decoder.close())
        if self.normalizer is not None:
            self._normalized(self.normalizer.close(), closing=True)
        if self.truncated:
            raise StreamFailure(
                "the stream ended before the response was complete",
                reason="truncated",
                retryable=True,
            )
        if self.stream_error is not None:
            raise StreamFailure(
                self.stream_error,
                reason="error event",
                retryable=self.stream_error_retryable,
            )
        self._finish()

    def before_retry(self, failure: Failure, retry: int, delay: float) -> Request | None:
        resume = self._resume_kind()
        if resume is None:
            return None
        request = self.request
        if resume == "continue":
            request = request.with_headers({"Last-Event-ID": self.last_event_id})
            self._continuing = True
        else:
            self._new_response()
            self._reset_capture()
        how = "continuing the answer" if resume == "continue" else "restarting"
        self.notice(f"retry {retry} in {delay:.1f} s after {failure.reason} ({how})")
        line = {
            "type": "retry",
            "attempt": retry,
            "reason": failure.reason,
            "delay": round(delay, 3),
            "resume": resume,
        }
        if self.options.final:
            pass
        elif self.options.mode is Mode.EVENTS:
            self.writer.write([json_line(line)])
        elif self.options.mode is Mode.JSON and self.sink is not None:
            self.sink.write([line])
        return request

    # -- the end -----------------------------------------------------------------

    def give_up(self, failure: BaseException) -> None:
        """No more retries: write what was held back (the error lines)."""
        cut = not isinstance(failure, (HTTPFailure, StreamFailure))
        if cut and self.normalizer is not None and self.content_seen and not self.pending:
            # Dropped or timed out mid-response: the dialect says what is incomplete.
            self._normalized(self.normalizer.close(), closing=True)
        if self.pending:
            self._emit(self.pending)
        self.pending = []
        if isinstance(failure, HTTPFailure):
            self._capture_error(failure)

    def close(self) -> None:
        try:
            if self.sink is not None:
                self.sink.close()
            self.writer.flush()
        finally:
            if self._capture_file is not None:
                self._capture_file.close()
                self._capture_file = None

    # -- internals ---------------------------------------------------------------

    def _process(self, chunk: bytes, items: list[Item]) -> bool:
        if self._capture is not None and chunk:
            self._capture.write(chunk, self.clock() - self.response_started)
        events = [i for i in items if isinstance(i, Event)]
        content = any(not is_ping(e) for e in events)
        if content:
            self.content_seen = True
        if self.decoder.last_event_id:
            self.last_event_id = self.decoder.last_event_id
        if not self.options.final:
            if self.options.mode is Mode.RAW and chunk:
                self.writer.write([chunk])
                self.begun = True
            elif self.options.mode is Mode.EVENTS:
                lines = [raw_event_line(i) for i in items if not isinstance(i, Comment)]
                if lines:
                    self.writer.write(lines)
                    self.begun = True
        if self.normalizer is not None and events:
            self._normalized(self.normalizer.feed(events), closing=False)
        return content

    def _normalized(self, produced: list[dict[str, Any]], *, closing: bool) -> None:
        """Write (or fold) the dialect's events; hold back the failing end of a response."""
        for index, event in enumerate(produced):
            if event.get("type") != "error":
                continue
            code = str(event.get("code") or "")
            message = str(event.get("message") or "")
            if code == "truncated":
                if self.options.allow_truncated:
                    continue
                self.truncated = True
            else:
                self.stream_error = self.redact(
                    f"error event in the stream: {message}" + (f" ({code})" if code else "")
                )
                self.stream_error_retryable = (
                    code in RETRYABLE_STREAM_ERRORS or "overloaded" in message.lower()
                )
                if not self.stream_error_retryable:
                    continue
            # The failing end of the response waits until we know whether a retry replaces it.
            self._emit(produced[:index])
            self.pending += produced[index:]
            if not closing and self.stream_error_retryable:
                raise StreamFailure(
                    self.stream_error or "error event", reason=code or "error event", retryable=True
                )
            return
        self._emit(produced)

    def _emit(self, events: list[dict[str, Any]]) -> None:
        if not events:
            return
        if self.options.final:
            for event in events:
                self.fold.add(event)
        elif self.sink is not None:
            self.sink.write(events)
            if self.options.mode is Mode.JSON or any(
                e.get("type") == "delta" and e.get("text") and "index" not in e for e in events
            ):
                self.begun = True

    def _finish(self) -> None:
        if self.options.final:
            answer = self.fold.answer()
            if self.options.mode is Mode.TEXT:
                text = answer["text"]
                self.writer.write([(text if text.endswith("\n") else text + "\n").encode()])
            else:
                self.writer.write([json_line(answer)])
        self.writer.flush()

    def _resume_kind(self) -> str | None:
        """How the next attempt relates to this response: restart, continue, or None (stop)."""
        if not self.begun:
            return "restart"
        resume = self.options.resume
        if resume is Resume.OFF:
            return None
        if resume is Resume.AUTO and self.last_event_id and not self.pending:
            return "continue"
        if self.options.mode in (Mode.TEXT, Mode.RAW) and not self.options.final:
            return None
        return "restart"

    def _open_capture(self, header: CaptureHeader) -> None:
        if self._capture_file is not None and self._capture is None:
            self._capture = CaptureWriter(self._capture_file, header)

    def _reset_capture(self) -> None:
        if self._capture_file is not None:
            self._capture_file.seek(0)
            self._capture_file.truncate()
            self._capture = None

    def _capture_error(self, failure: HTTPFailure) -> None:
        """Keep an error response in the capture, so replay can reproduce it."""
        if self._capture is None and self._capture_file is not None:
            self._reset_capture()
            header = CaptureHeader(failure.status, "application/json")
            self._capture_file.write(header.line())
            if failure.body:
                self._capture_file.write(StreamRedactor(self.secrets).feed(failure.body))


def run(loop: Loop, session: Session) -> None:
    """Send the session's request through the loop; raises the last failure."""
    try:
        loop.run(session.request, session)
    except (HTTPFailure, StreamFailure, TimeoutFailure, NetworkFailure) as failure:
        failure.args = (session.redact(str(failure)),)
        session.give_up(failure)
        raise
    finally:
        session.close()


def pipeline_for(
    mode: Mode, out: IO[bytes], *, flush_each: bool
) -> tuple[NormalizerFactory | None, Sink | None]:
    """The dialect factory and the normalized writer for this output mode."""
    return None, None
