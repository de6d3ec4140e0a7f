"""The send session: one request's bytes through the pipeline, across retries.

`Session` is the `Handler` of the retry loop (`ssechat.transport.retry`):
every byte the server sends goes through the key redactor, the capture
(`--save`) and the same `Pipeline` as `parse-sse`, into the writers of
`ssechat.send_output`; an error event or a cut that a retry may heal is held
back until no retry follows. A failure after output has begun is continued
(`ssechat.resume`), restarted with a `retry` line, or given up, as `--resume`
and the mode say. The end is parse-sse's verdict (`ssechat.verdict`).
docs/transport.md tells the rules.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import Enum
from typing import IO, Final, NamedTuple

from ssechat import verdict
from ssechat.capture import CaptureHeader, CaptureWriter, create_private
from ssechat.errors import Interrupted
from ssechat.inputs import InputDecoder
from ssechat.keys import Redactor, StreamRedactor
from ssechat.normalized import NormalizedEvent, Sink
from ssechat.pipeline import Outcome, Pipeline
from ssechat.providers import Request, coze_cancel
from ssechat.resume import Resumption
from ssechat.send_output import Mode, Output
from ssechat.transport.failures import Failure, HTTPFailure, StreamFailure, stream_error_retryable
from ssechat.transport.retry import Loop
from ssechat.transport.stream import Stream, send_once


class Resume(str, Enum):
    AUTO = "auto"
    RESTART = "restart"
    OFF = "off"


class Options(NamedTuple):
    """How one `send` writes and resumes (from the command line)."""

    mode: Mode = Mode.JSON
    final: bool = False
    resume: Resume = Resume.AUTO
    save: str | None = None
    flush_each: bool = True
    allow_truncated: bool = False


def _cut() -> StreamFailure:
    """The stream ended inside a response: a retry may heal it."""
    return StreamFailure(
        "the stream ended before the response was complete", reason="truncated", retryable=True
    )


class _Relay(Sink):
    """The pipeline's sink: hands every batch to the session before the real writer."""

    def __init__(self, session: Session, *, timed: bool) -> None:
        self.session = session
        self.timed = timed  # the summary wants arrival times

    def write(self, events: list[NormalizedEvent]) -> None:
        self.session._normalized(events, counted=False)

    def write_timed(
        self, events: list[NormalizedEvent], seconds: float | None, _: bool = True
    ) -> None:
        """One SSE event's normalized events (perhaps none): counted, as parse-sse does."""
        self.session._seconds = seconds
        self.session._normalized(events, counted=True)

    def raw(self, lines: list[bytes]) -> None:
        self.session._unrecognised(lines)

    def close(self) -> None:
        pass


class Session:
    """Implements `transport.retry.Handler` for one `send` command."""

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
        # Prefills continue normalized output only (--raw and --events would show two messages).
        self.resumption = Resumption(
            request,
            auto=options.resume is Resume.AUTO,
            prefills=options.final or options.mode not in (Mode.EVENTS, Mode.RAW),
        )
        self._closing = False
        self._seconds: float | None = None
        self._content = False
        self._new_response()

    # -- response state ----------------------------------------------------------

    def _new_response(self) -> None:
        """Forget the response so far (the start, or a restart)."""
        self.output.new_response()
        relay = _Relay(self, timed=self.options.mode is Mode.SUMMARY)
        self.pipeline = Pipeline(
            relay,
            clock=lambda: self.clock() - self.response_started,
            warn=lambda message: self.notice(f"warning: {message}"),
            name="the response",
        )
        self._pipeline_closed = False
        self.outcome: Outcome | None = None
        self.response_started = self.clock()
        self.resumption.new_response()
        self.pending: list[NormalizedEvent] = []  # held until we know a retry replaces them
        self.truncated = False
        self.stream_error: str | None = None
        self.stream_error_retryable = False

    # -- transport.retry.Handler -----------------------------------------------

    def on_open(self, stream: Stream) -> None:
        self.redactor = StreamRedactor(self.secrets)
        self.events_decoder = InputDecoder()
        if self.resumption.opened():
            # Same response, new connection: a fresh decoder, the same dialect.
            self.pipeline.continue_response()
            self.pending = []  # the error that interrupted it is healed
            self.stream_error = None
            self.stream_error_retryable = False
        else:
            self.response_started = self.clock()
            self.output.http_status(stream.status)
            self._open_capture(
                CaptureHeader(stream.status, stream.content_type or "text/event-stream")
            )

    def on_chunk(self, chunk: bytes, seconds: float) -> bool:
        data = self.resumption.prove(self.redactor.feed(chunk))
        return False if data is None else self._process(data)

    def on_end(self) -> None:
        self.resumption.end()
        self._process(self.redactor.close())
        if self.options.mode is Mode.EVENTS and not self.options.final:
            self.output.event_lines(self.events_decoder.close())
        if self._cut_short():
            raise _cut()  # not closed: a continuation feeds the same dialect; give_up closes it
        self._close_pipeline()
        if self.truncated:
            raise _cut()
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
        continuation = None
        if self.options.resume is Resume.AUTO and not self._pipeline_closed:
            errored, begun = self.stream_error is not None, self.output.begun
            continuation = self.resumption.request_for(
                self.pipeline.dialect, begun=begun, errored=errored
            )
        if continuation is not None:
            resume, request = "continue", continuation
        elif self._may_restart():
            resume, request = "restart", self.request
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
        self.resumption.track(chunk, self.pipeline.decoder.last_event_id)
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

    def _normalized(self, produced: list[NormalizedEvent], *, counted: bool) -> None:
        """The dialect's events: write (or fold) them, holding back a failing end.

        `counted`: they are one SSE event's (the summary counts SSE events).
        """
        if not produced:
            if counted:
                self._emit(produced, counted=True)
            return
        self._content = True
        produced = self.resumption.splice(produced)
        for index, event in enumerate(produced):
            if event.get("type") == "error" and self._failing_end(event):
                # The failing end waits until we know whether a retry replaces it.
                self._emit(produced[:index], counted=counted)
                self.pending += produced[index:]
                if not self._closing and self.stream_error_retryable:
                    code = str(event.get("code") or "")
                    raise StreamFailure(
                        self.stream_error or "error event",
                        reason=code or "error event",
                        retryable=True,
                    )
                return
        self._emit(produced, counted=counted)

    def _failing_end(self, event: NormalizedEvent) -> bool:
        """Whether an error event ends the response badly: a cut, or an error a retry may heal.

        An error no retry heals is written at once (the stream error is noted).
        """
        code = str(event.get("code") or "")
        if code == "truncated":
            self.truncated = not self.options.allow_truncated
            return self.truncated
        message = str(event.get("message") or "")
        self.stream_error = self.redact(
            f"error event in the stream: {message}" + (f" ({code})" if code else "")
        )
        self.stream_error_retryable = stream_error_retryable(code, message)
        return self.stream_error_retryable

    def _emit(self, events: list[NormalizedEvent], *, counted: bool = False) -> None:
        if not events and not counted:
            return
        self.resumption.written(events)
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

    def _may_restart(self) -> bool:
        """Whether a restart may follow: always before output, else as --resume and the mode say."""
        if not self.output.begun:
            return True
        if self.options.resume is Resume.OFF:
            return False
        return self.options.final or self.options.mode not in (Mode.TEXT, Mode.RAW)

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
        # The one place a failure's message is redacted (a key echoed in an error body).
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
