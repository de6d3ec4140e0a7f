"""The capture format: a plain SSE stream with ssechat's annotations in comments.

A capture is what `send --save` writes and `replay` plays back. Because every
annotation is an SSE comment line, every SSE tool reads a capture as the
stream it recorded. The annotations, defined here and nowhere else:

    : ssechat-capture status=200 content-type=text/event-stream
    : t=0.412

The first line, at the top of the file, records the HTTP status and content
type of the response. `: t=SECONDS` stands before the first line of each
event: when it began to arrive, in seconds since the request was sent. A
capture without annotations is still one: replay then uses `--delay`.

Reading: `parse_capture(bytes)` / `read_capture(path)` give a `Capture`, its
header and its `Segment`s (the stream's own bytes, one event each, with the
recorded time); writing the segments in order gives back the stream without
the annotations, and `CaptureWriter` over that stream gives back the capture.
Any line that is an annotation is dropped wherever it stands, so a server
comment of the exact form `: t=1.5` would be taken for one (none is known).
"""

from __future__ import annotations

import os
import re
import sys
from typing import IO, Final, NamedTuple

from ssechat.errors import UsageError

HEADER_TAG: Final = "ssechat-capture"
_HEADER_RE: Final = re.compile(r"^ ?ssechat-capture((?: [a-z-]+=\S*)*)\s*$")
_TIME_RE: Final = re.compile(r"^ ?t=(\d+(?:\.\d+)?)\s*$")
_LINE_END_RE: Final = re.compile(rb"[\r\n]")
_LINE_RE: Final = re.compile(rb"[^\r\n]*(?:\r\n?|\n)|[^\r\n]+")  # a line with its end


class CaptureHeader(NamedTuple):
    """The response's status and content type, recorded at the top of a capture.

    This and the other records here are NamedTuples: a frozen dataclass costs
    start-up time (parse-sse and replay import this module).
    """

    status: int = 200
    content_type: str = "text/event-stream"

    def line(self) -> bytes:
        return f": {HEADER_TAG} status={self.status} content-type={self.content_type}\n".encode()


def time_line(seconds: float) -> bytes:
    """The annotation that stands before an event that began to arrive at `seconds`."""
    return f": t={max(seconds, 0.0):.3f}\n".encode()


def parse_header(comment: str) -> CaptureHeader | None:
    """The header if this comment text (without its colon) is one."""
    match = _HEADER_RE.match(comment)
    if not match:
        return None
    fields = dict(part.split("=", 1) for part in match.group(1).split())
    try:
        status = int(fields.get("status", "200"))
    except ValueError:
        return None
    return CaptureHeader(status, fields.get("content-type", "text/event-stream"))


def parse_time(comment: str) -> float | None:
    """The arrival time if this comment text (without its colon) is a time annotation."""
    match = _TIME_RE.match(comment)
    return float(match.group(1)) if match else None


def is_annotation(comment: str) -> bool:
    return parse_time(comment) is not None or parse_header(comment) is not None


def create_private(path: str, option: str = "--save") -> IO[bytes]:
    """Open `path` for writing with mode 0600 from the first moment it exists.

    The mode is given to open(2) itself, so there is no window in which the
    file is readable by others; an existing file is truncated and narrowed.
    A symbolic link is refused, not followed: following it would narrow (and
    overwrite) its target, which may be any file of the user's. A path that
    cannot be opened (a missing directory) is a UsageError naming `option`.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, 0o600)
    except OSError as exc:
        if os.path.islink(path):
            reason = "is a symbolic link (not followed: give the target's own path)"
        else:
            reason = f"cannot be written: {exc.strerror or exc}"
        raise UsageError(f"{option} {path} {reason}") from None
    try:
        os.fchmod(fd, 0o600)
    except OSError:
        pass
    return os.fdopen(fd, "wb")


class CaptureWriter:
    """Writes a capture from raw response bytes as they arrive, adding annotations.

    Call `write(chunk, seconds)` with every chunk read from the network and
    the time since the request; the writer keeps the bytes exactly and puts a
    `: t=` line before each event's first line (it tracks line starts, so a
    chunk may end anywhere, even between CR and LF).
    """

    def __init__(self, stream: IO[bytes], header: CaptureHeader | None = None) -> None:
        self.stream = stream
        self._at_line_start = True
        self._in_event = False
        self._after_cr = False
        if header is not None:
            stream.write(header.line())

    def write(self, chunk: bytes, seconds: float) -> None:
        out = bytearray()
        start = 0
        i = 0
        n = len(chunk)
        while i < n:
            byte = chunk[i]
            if self._after_cr and byte == 0x0A:  # the LF of a CRLF: no new line
                self._after_cr = False
                i += 1
                continue
            self._after_cr = False
            if byte in (0x0A, 0x0D):
                if self._at_line_start:
                    self._in_event = False  # a blank line ends the event
                self._at_line_start = True
                self._after_cr = byte == 0x0D
                i += 1
                continue
            if self._at_line_start and not self._in_event and byte != 0x3A:  # not a comment
                out += chunk[start:i]
                out += time_line(seconds)
                start = i
                self._in_event = True
            self._at_line_start = False
            line_end = _LINE_END_RE.search(chunk, i + 1)  # skip the rest of the line
            i = line_end.start() if line_end else n
        out += chunk[start:]
        self.stream.write(bytes(out))

    def flush(self) -> None:
        self.stream.flush()

    def close(self) -> None:
        self.stream.close()


class Segment(NamedTuple):
    """A run of capture bytes that replay writes at one moment.

    `data` is the stream's own bytes, exactly, without ssechat's annotations.
    `time` is the recorded arrival time (None in a plain capture, and for
    comment lines that arrived between events). `is_event` is True when the
    segment holds field lines (an SSE event), False for comments and blank
    lines only; faults such as `drop-after=N` count these events.
    """

    data: bytes
    time: float | None
    is_event: bool


class Capture(NamedTuple):
    """A parsed capture: its header (if annotated) and its segments in order."""

    header: CaptureHeader | None
    segments: tuple[Segment, ...]

    @property
    def status(self) -> int:
        return self.header.status if self.header else 200

    @property
    def content_type(self) -> str:
        return self.header.content_type if self.header else "text/event-stream"

    @property
    def timed(self) -> bool:
        """Whether the capture carries arrival times (`: t=` annotations)."""
        return any(segment.time is not None for segment in self.segments)

    @property
    def event_count(self) -> int:
        return sum(segment.is_event for segment in self.segments)

    def body(self) -> bytes:
        """The response body as the server sent it: the capture without annotations."""
        return b"".join(segment.data for segment in self.segments)


def parse_capture(data: bytes) -> Capture:
    """Split a capture into segments, one per event, and read its annotations.

    A segment ends after the blank line that ends an event, or just before a
    `: t=` annotation; so in an annotated capture each event is its own
    segment with its time, and comments between events (keep-alive pings)
    form segments without a time, written right after the event before them.
    The annotation lines are dropped; every other byte is kept, whatever the
    line ends, so writing the segments in order gives back the stream.
    """
    header: CaptureHeader | None = None
    segments: list[Segment] = []
    buf = bytearray()
    time: float | None = None
    has_fields = False

    def close_segment() -> None:
        nonlocal time, has_fields
        if buf:
            segments.append(Segment(bytes(buf), time, has_fields))
            buf.clear()
            time = None
        has_fields = False

    for match in _LINE_RE.finditer(data):
        line = match.group()
        content = line.rstrip(b"\r\n")
        if content.startswith(b":"):
            text = content[1:].decode("utf-8", "replace")
            seconds = parse_time(text)
            if seconds is not None:
                close_segment()
                time = seconds
                continue
            found = parse_header(text)
            if found is not None:
                if header is None and not segments and not buf:
                    header = found
                continue
            buf += line
        elif not content:
            buf += line
            if has_fields:
                close_segment()
        else:
            buf += line
            has_fields = True
    close_segment()
    return Capture(header, tuple(segments))


def read_capture(path: str, *, stdin: IO[bytes] | None = None) -> Capture:
    """Read and parse the capture in the file at `path` (`-` is `stdin`, else the process's)."""
    if path == "-":
        return parse_capture((sys.stdin.buffer if stdin is None else stdin).read())
    with open(path, "rb") as stream:
        return parse_capture(stream.read())
