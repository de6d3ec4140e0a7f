"""The send session: one request's bytes through the pipeline, across retries.

`transport.Loop` owns the network and the retry budget; `send_output` the
writers (parse-sse's, with --final's fold); each dialect says how its
response may be continued (`Dialect.continuation`). This module owns what a
retry means for the output (DESIGN.md section 3, the `retry` event), and
ends with parse-sse's verdict (`ssechat.verdict`):

- every byte the server sends goes through the key redactor, then to the
  capture (`--save`), then to the same `pipeline.Pipeline` as `parse-sse`
  (SSE decoder, auto-detected dialect, writer); `--raw` also writes the bytes
  themselves and `--events` the plain SSE events, with the pipeline still
  underneath for the exit status;
- content for the idle clock is whatever makes the dialect say something:
  pings, keep-alive comments and empty events do not reset it;
- a failure after output has begun is resumed as `--resume` says. `auto`:
  continue where the provider allows it (`resume: "continue"`, see below);
  otherwise restart in the JSON-lines and `--final` modes, where the `retry`
  event (`resume: "restart"`) tells the consumer to drop what this response
  emitted, and stop with the partial output kept in `--text` and `--raw`
  modes, where a restart could not be told apart. `restart`: always restart
  (refused with `--text`/`--raw` unless `--final`). `off`: never retry after
  output began. Before output has begun a retry is a plain restart, but for
  the two continuations that spare paying for the answer twice (below).
- the continuations (`_continuation_request`), tried in this order. A
  stream that carried SSE ids (after output began, no error event): the
  same request with `Last-Event-ID`, continued only when the new stream's
  first event carries an id not seen before (`ssechat.resume`); a server
  that starts over is restarted, or given up in `--text` and `--raw`. A
  Responses API request in background mode (`providers.is_background`; no
  error event): GET
  {base}/responses/{id}?stream=true&starting_after={last sequence_number}.
  Anthropic, when the answer so far is text only (no thinking, no tool use,
  no server tool) and the output is normalized events (JSON lines, `--text`,
  `--summary`, `--final`; `--raw` and `--events` would show the second
  message): the same request with the text so far as a final assistant turn
  (`providers.anthropic_prefill`); an `overloaded_error` event does not
  prevent it. In every case the pipeline keeps its dialect
  (`Pipeline.continue_response`), which takes the new stream's start as the
  same response, so the output holds one `start` and one `done`. A prefill
  cannot end in whitespace: what it strips is dropped once from the start
  of the continuation's text (`_splice`), so nothing is doubled;
- a retryable error inside the stream (`overloaded_error` and the like) and a
  stream cut off without its end marker are retried; the error or
  truncation lines are held back and written only when no retry follows;
- `--final` holds everything back and prints one complete answer at the end,
  or nothing when there is none; the capture is rewritten on a restart, so
  it always holds the response the output came from.

Every retry writes `{"type": "retry", "attempt", "reason", "delay", "resume"}`
in the JSON modes (`--events` included) and one notice line on stderr.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import IO, Any, Final

from ssechat import verdict
from ssechat.capture import CaptureHeader, CaptureWriter, create_private
from ssechat.errors import Interrupted
from ssechat.inputs import InputDecoder
from ssechat.keys import Redactor, StreamRedactor
from ssechat.pipeline import Outcome, Pipeline
from ssechat.providers import (
    Request,
    anthropic_prefill,
    coze_cancel,
    is_background,
    responses_continuation,
)
from ssechat.resume import IdLog, NotResumed, Proof
from ssechat.send_output import Mode as Mode  # re-exported: the CLI names modes by it
from ssechat.send_output import Output
from ssechat.transport.failures import Failure, HTTPFailure, StreamFailure
from ssechat.transport.retry import Loop
from ssechat.transport.stream import Stream, send_once

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
        # Not the provider's: an event whose data is not JSON, as when a proxy
        # cuts the stream and sends its own error page. A new attempt heals it.
        "invalid_json",
    }
)


class Resume(str, Enum):
    AUTO = "auto"
    RESTART = "restart"
    OFF = "off"


@dataclass
class Options:
    mode: Mode = Mode.JSON
    final: bool = False
    resume: Resume = Resume.AUTO
    save: str | None = None
    flush_each: bool = True
    allow_truncated: bool = False


class _Relay:
    """The pipeline's sink: hands every batch to the session before the real writer."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def write(self, events: list[dict[str, Any]]) -> None:
        self.session._normalized(events, counted=False)

    def raw(self, lines: list[bytes]) -> None:
        self.session._unrecognised(lines)

    def close(self) -> None:
        pass


class _TimedRelay(_Relay):
    """The same, for a sink that wants arrival times (the summary)."""

    def write_timed(self, events: list[dict[str, Any]], seconds: float | None) -> None:
        """One SSE event's normalized events (perhaps none): counted, as parse-sse does."""
        self.session._seconds = seconds
        self.session._normalized(events, counted=True)


class Session:
    """Implements `transport.Handler` for one `send` command."""

    def __init__(
        self,
        request: Request,
        options: Options,
        out: IO[bytes],
        notice: Callable[[str], None],
        secrets: list[str],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.request = request
        self.options = options
        self.output = Output(out, options.mode, final=options.final, flush_each=options.flush_each)
        self.notice = notice
        self.redact = Redactor(secrets)
        self.secrets = secrets
        self.clock = clock
        self.redactor = StreamRedactor(secrets)
        self.events_decoder = InputDecoder()
        self._capture_file = create_private(options.save) if options.save else None
        self._capture: CaptureWriter | None = None
        # The next stream continues this response: "" (no), "stream" (the same
        # stream read on) or "prefill" (a new message continuing the text).
        self._continuation = ""
        self._proof: Proof | None = None  # a Last-Event-ID continuation not yet proved
        self._ids_resume = options.resume is Resume.AUTO  # cleared when a server starts over
        self._skip = ""  # whitespace the prefill left out, not to be written twice
        auto = options.resume is Resume.AUTO
        self._background = auto and is_background(request)
        self._prefills = (
            auto
            and request.provider == "anthropic"
            and (options.final or options.mode not in (Mode.EVENTS, Mode.RAW))
        )
        self._closing = False
        self._seconds: float | None = None
        self._content = False
        self._new_response()

    # -- response state ----------------------------------------------------------

    def _new_response(self) -> None:
        """Forget the response so far (the start, or a restart)."""
        self.output.new_response()
        relay = _TimedRelay(self) if self.options.mode is Mode.SUMMARY else _Relay(self)
        self.pipeline = Pipeline(
            relay,
            clock=lambda: self.clock() - self.response_started,
            warn=lambda message: self.notice(f"warning: {message}"),
            name="the response",
        )
        self._pipeline_closed = False
        self.outcome: Outcome | None = None
        self.response_started = self.clock()
        self.last_event_id = ""
        self.ids = IdLog()
        # The answer's text so far, when a prefill may continue it.
        self.partial: list[str] | None = [] if self._prefills else None
        self.pending: list[dict[str, Any]] = []  # held until we know a retry replaces them
        self.truncated = False
        self.stream_error: str | None = None
        self.stream_error_retryable = False

    # -- transport.Handler -------------------------------------------------------

    def on_open(self, stream: Stream) -> None:
        self.redactor = StreamRedactor(self.secrets)
        self.events_decoder = InputDecoder()
        if self._continuation:
            # Same response, new connection: a fresh decoder, the same dialect.
            self.pipeline.continue_response()
            self.pending = []  # the error that interrupted it is healed
            self.stream_error = None
            self.stream_error_retryable = False
            if self._continuation == "id":
                self._proof = Proof(self.ids)
            if self._continuation == "prefill":
                partial = "".join(self.partial or ())
                self._skip = partial[len(partial.rstrip()) :]
        else:
            self.response_started = self.clock()
            self.output.http_status(stream.status)
            self._open_capture(
                CaptureHeader(stream.status, stream.content_type or "text/event-stream")
            )
        self._continuation = ""

    def on_chunk(self, chunk: bytes, seconds: float) -> bool:
        data = self.redactor.feed(chunk)
        if self._proof is not None:
            try:
                proved = self._proof.feed(data)
            except NotResumed as exc:
                raise self._not_resumed(exc) from None
            if proved is None:
                return False
            self._proof, data = None, proved
        return self._process(data)

    def _not_resumed(self, exc: NotResumed) -> StreamFailure:
        """The server started over: no more Last-Event-ID; the retry restarts (or gives up)."""
        self._proof = None
        self._ids_resume = False
        return StreamFailure(
            f"the server started the stream again instead of resuming it ({exc})",
            reason="not resumed",
            retryable=True,
        )

    def on_end(self) -> None:
        if self._proof is not None:
            try:
                self._proof.end()
            except NotResumed as exc:
                raise self._not_resumed(exc) from None
        self._process(self.redactor.close())
        if self.options.mode is Mode.EVENTS and not self.options.final:
            self.output.event_lines(self.events_decoder.close())
        if self._cut_short():
            # Not closed yet: a continuation feeds the same dialect; give_up closes it.
            raise StreamFailure(
                "the stream ended before the response was complete",
                reason="truncated",
                retryable=True,
            )
        self._close_pipeline()
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

    def _cut_short(self) -> bool:
        """The body ended inside a response (no end marker), as far as the dialect knows."""
        dialect = self.pipeline.dialect
        return (
            dialect is not None
            and dialect.open
            and not dialect.errored
            and not dialect.complete_at_eof()
            and not self.options.allow_truncated
        )

    def before_retry(self, failure: Failure, retry: int, delay: float) -> Request | None:
        continuation = self._continuation_request()
        if continuation is not None:
            resume = "continue"
            request, self._continuation = continuation
        elif self._may_restart():
            resume = "restart"
            request, self._continuation = self.request, ""
            self._new_response()
            self._reset_capture()
        else:
            return None
        how = "continuing the answer" if resume == "continue" else "restarting"
        self.notice(f"retry {retry} in {delay:.1f} s after {failure.reason} ({how})")
        line = {
            "type": "retry",
            "attempt": retry,
            "reason": failure.reason,
            "delay": round(delay, 3),
            "resume": resume,
        }
        self.output.retry(line)
        return request

    # -- the end -----------------------------------------------------------------

    def give_up(self, failure: BaseException) -> None:
        """No more retries: write what was held back (the error lines), then the end."""
        pending, self.pending = self.pending, []
        self._emit(pending)
        if not self._pipeline_closed:
            # Dropped, timed out or cut mid-response: the dialect says what is incomplete
            # (after the error held back: `done` is a response's last line).
            self._close_pipeline()
        if self.pending:
            self._emit(self.pending)
        self.pending = []
        if isinstance(failure, HTTPFailure):
            self._capture_error(failure)

    def close(self) -> None:
        try:
            note = self.output.close()
            if note:
                self.notice(f"note: {note}")
        finally:
            if self._capture_file is not None:
                self._capture_file.close()
                self._capture_file = None

    # -- internals ---------------------------------------------------------------

    def _process(self, chunk: bytes) -> bool:
        """One read of the body: capture, raw/events output, the pipeline. True: content."""
        if not chunk:
            return False
        if self._capture is not None:
            self._capture.write(chunk, self.clock() - self.response_started)
        self.output.body(chunk)
        if self.options.mode is Mode.EVENTS and not self.options.final:
            self.output.event_lines(self.events_decoder.feed_runs(chunk))
        self._content = False
        self.pipeline.feed(chunk)
        last_id = self.pipeline.decoder.last_event_id
        if last_id:
            self.last_event_id = last_id
        if self._ids_resume:
            self.ids.add(chunk, last_id)
        return self._content

    def _close_pipeline(self) -> None:
        if self._pipeline_closed:
            return
        self._pipeline_closed = True
        self._closing = True
        try:
            self.outcome = self.pipeline.close()
        finally:
            self._closing = False

    def _unrecognised(self, lines: list[bytes]) -> None:
        """No dialect knows the stream: the pipeline falls back to plain event lines."""
        self._content = True
        self.output.unrecognised(lines)

    def _normalized(self, produced: list[dict[str, Any]], *, counted: bool) -> None:
        """The dialect's events: write (or fold) them, holding back a failing end.

        `counted`: they are one SSE event's (the summary counts SSE events).
        """
        if not produced:
            if counted:
                self._emit(produced, counted=True)
            return
        self._content = True
        if self._skip:
            produced = self._splice(produced)
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
            # The failing end waits until we know whether a retry replaces it.
            self._emit(produced[:index], counted=counted)
            self.pending += produced[index:]
            if not self._closing and self.stream_error_retryable:
                raise StreamFailure(
                    self.stream_error or "error event", reason=code or "error event", retryable=True
                )
            return
        self._emit(produced, counted=counted)

    def _emit(self, events: list[dict[str, Any]], *, counted: bool = False) -> None:
        if not events and not counted:
            return
        partial = self.partial
        if partial is not None:
            for event in events:
                if event.get("type") == "delta" and "index" not in event:
                    partial.append(str(event.get("text", "")))
        self.output.events(events, self._seconds, counted)

    def _finish(self) -> None:
        """The body ended: --final's answer (of a complete response only), then the verdict.

        The verdict is parse-sse's on the same bytes (`ssechat.verdict`): a
        tool call cut off or unrepairable is exit 3 here too.
        """
        # The bytes were redacted; the decoded, joined text is too (a key in pieces).
        self.output.finish(lambda text: self.redact.redact(text, limit=None))
        if self.outcome is not None:
            verdict.check([self.outcome], allow_truncated=self.options.allow_truncated)

    def _continuation_request(self) -> tuple[Request, str] | None:
        """The request that continues this response where it stopped, and its kind.

        None when the provider does not allow it here (module docstring).
        """
        if self.options.resume is not Resume.AUTO or self._pipeline_closed:
            return None
        if (
            self.last_event_id
            and self.output.begun
            and self.stream_error is None
            and self._ids_resume
        ):
            return self.request.with_headers({"Last-Event-ID": self.last_event_id}), "id"
        dialect = self.pipeline.dialect
        if dialect is None or not dialect.open:
            return None
        # What the provider allows is the dialect's to say; the request is built here.
        point = dialect.continuation()
        if point is None:
            return None
        if point.kind == "stream" and self._background and self.stream_error is None:
            return responses_continuation(self.request, point.response_id, point.after), "stream"
        if point.kind == "prefill" and self.partial and self._prefills:
            prefilled = anthropic_prefill(self.request, "".join(self.partial))
            if prefilled is not None:
                return prefilled, "prefill"
        return None

    def _may_restart(self) -> bool:
        """Whether a restart may follow: always before output, else as --resume and the mode say."""
        if not self.output.begun:
            return True
        if self.options.resume is Resume.OFF:
            return False
        return self.options.final or self.options.mode not in (Mode.TEXT, Mode.RAW)

    def _splice(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """A prefill continuation's first text, without the whitespace already written.

        The prefill left the answer's trailing whitespace out; the model
        usually begins with it again. It is dropped as far as it matches;
        text that begins otherwise is kept whole (the whitespace written
        stays: nothing is lost, nothing doubled).
        """
        skip = self._skip
        spliced: list[dict[str, Any]] = []
        for position, event in enumerate(events):
            if not skip:
                spliced += events[position:]
                break
            kind = event.get("type")
            if kind == "delta" and "index" not in event:
                text = str(event.get("text", ""))
                same = 0
                while same < min(len(skip), len(text)) and skip[same] == text[same]:
                    same += 1
                skip = skip[same:] if same == len(text) or same == len(skip) else ""
                if text[same:]:
                    spliced.append({**event, "text": text[same:]})
                continue
            if kind in ("tool_call_delta", "tool_call", "reasoning", "refusal"):
                skip = ""  # something else came first: the text goes on as it is
            spliced.append(event)
        self._skip = skip
        return spliced

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
                # Error bodies echo keys masked ("sk-ab***WXYZ") or in part: the
                # text redactor removes those forms too, as it does on stderr.
                body = StreamRedactor(self.secrets).feed(failure.body)
                self._capture_file.write(self.redact(body.decode("utf-8", "replace")).encode())


def run(loop: Loop, session: Session) -> None:
    """Send the session's request through the loop; raises the last failure."""
    try:
        loop.run(session.request, session)
    except Failure as failure:
        failure.args = (session.redact(str(failure)),)
        session.give_up(failure)
        raise
    except (KeyboardInterrupt, Interrupted, BrokenPipeError):
        cancel_chat(session)
        raise
    finally:
        session.close()


CANCEL_SECONDS: Final = 2.0


def cancel_chat(session: Session) -> None:
    """Ctrl-C, SIGTERM or a closed pipe during a Coze chat: cancel it on the server too.

    Best effort, bounded to about CANCEL_SECONDS: the user is leaving.
    """
    dialect = session.pipeline.dialect
    if dialect is None or dialect.name != "coze" or not dialect.open:
        return  # not a chat, or one that has ended
    chat_id = getattr(dialect, "chat_id", None)
    conversation_id = getattr(dialect, "conversation_id", None)
    if not chat_id or not conversation_id:
        return
    request = coze_cancel(session.request, str(chat_id), str(conversation_id))
    send_once(request, CANCEL_SECONDS)
