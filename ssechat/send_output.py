"""What `send` writes: the sinks of parse-sse behind the transport, and --final.

`Output` holds, for the output mode, the very writers `parse-sse` uses
(`normalized.JsonLinesWriter`, `TextWriter`, `summary.Summary`) and the
`--final` answer, read from the one fold of a response (`fold.Response`),
plus the lines only `send` writes: the raw bytes (`--raw`), the plain
events (`--events`) and the `retry` lines. The session (`ssechat.send`)
decides what reaches it and when (held-back errors, restarts); this module
only writes, and says whether anything of the response reached stdout
(`begun`), which decides how a retry may resume.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import Enum
from typing import IO, Any

from ssechat.event_lines import raw_event_lines
from ssechat.fold import Response
from ssechat.lines import LineWriter, json_line
from ssechat.normalized import (
    TERMINAL_ESCAPES,
    JsonLinesWriter,
    NormalizedEvent,
    Sink,
    TextWriter,
    first_choice,
    is_terminal,
)
from ssechat.sse import Item
from ssechat.sse_runs import EventRun
from ssechat.summary import Summary


class Mode(str, Enum):
    JSON = "json"
    TEXT = "text"
    EVENTS = "events"
    RAW = "raw"
    SUMMARY = "summary"


class Output:
    """The writers of one `send` command, for its mode (see the module docstring)."""

    def __init__(self, out: IO[bytes], mode: Mode, *, final: bool, flush_each: bool) -> None:
        self.out = out
        self.mode = mode
        self.final = final
        self.flush_each = flush_each
        self.writer = LineWriter(out, flush_each=flush_each)
        self.sink = self._make_sink()
        self.fold = Response()  # --final: written when the response is complete
        self.begun = False  # something of this response reached stdout

    def _make_sink(self) -> Sink | None:
        """The writer of the normalized events, for the modes that write them."""
        if self.final or self.mode in (Mode.EVENTS, Mode.RAW):
            return None
        if self.mode is Mode.TEXT:
            return TextWriter(self.out, flush_each=self.flush_each)
        if self.mode is Mode.SUMMARY:
            return Summary(self.out, flush_each=self.flush_each)
        return JsonLinesWriter(self.out, flush_each=self.flush_each)

    def new_response(self) -> None:
        """Forget the response so far (a restart): its summary and --final answer."""
        if self.mode is Mode.SUMMARY:
            self.sink = self._make_sink()  # the summary of the abandoned attempt is dropped
        self.fold = Response()
        self.begun = False

    def http_status(self, status: int) -> None:
        if self.sink is not None:
            self.sink.on_http_status(status)

    def events(self, events: list[NormalizedEvent], seconds: float | None, counted: bool) -> None:
        """Normalized events; `counted`: one SSE event's, at `seconds` (the summary)."""
        if self.final:
            for event in events:
                self.fold.add(event)
            return
        sink = self.sink
        if sink is None:
            return
        if sink.timed:
            sink.write_timed(events, seconds, counted)
        else:
            sink.write(events)
        if (events and self.mode is not Mode.TEXT) or any(
            e.get("type") == "delta" and e.get("text") and first_choice(e) for e in events
        ):
            self.begun = True

    def body(self, chunk: bytes) -> None:
        """A read of the body, for --raw."""
        if self.mode is Mode.RAW and not self.final:
            self.writer.write([chunk])
            self.begun = True

    def event_lines(self, items: Sequence[Item | EventRun]) -> None:
        """The plain SSE events, for --events."""
        lines = raw_event_lines(items)
        if lines:
            self.writer.write(lines)
            self.begun = True

    def unrecognised(self, lines: list[bytes]) -> None:
        """No dialect knows the stream: its plain event lines, as parse-sse writes them."""
        if self.mode in (Mode.JSON, Mode.TEXT) and not self.final:
            self.writer.write(lines)
            self.begun = True

    def retry(self, line: dict[str, Any]) -> None:
        """A `retry` line, in the JSON modes (--events included)."""
        if self.final:
            return
        if self.mode is Mode.EVENTS:
            self.writer.write([json_line(line)])
        elif self.mode is Mode.JSON and self.sink is not None:
            self.sink.write([line])

    def finish(self, redact: Callable[[str], str] | None = None) -> None:
        """The body ended well: --final's answer, of a complete response only.

        `redact`: for the answer's joined text (a key split across deltas).
        """
        if self.final and self.fold.done:
            answer = self.fold.answer()
            if redact is not None:
                answer["text"] = redact(str(answer["text"]))
            if self.mode is Mode.TEXT:
                text = answer["text"]
                if is_terminal(self.out):  # as TextWriter: no escape sequence gets through
                    text = text.translate(TERMINAL_ESCAPES)
                text = text if text.endswith("\n") else text + "\n"
                self.writer.write([text.encode("utf-8", "replace")])  # lone surrogates too
            else:
                self.writer.write([json_line(answer)])
        self.writer.flush()

    def close(self) -> str | None:
        """Flush everything; the --text note about tool calls, if any."""
        note = None
        if self.sink is not None:
            self.sink.close()
            if isinstance(self.sink, TextWriter):
                note = self.sink.tool_call_note("send")
        self.writer.flush()
        return note
