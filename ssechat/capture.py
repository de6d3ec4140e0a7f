"""The capture format: a plain SSE stream with ssechat's annotations in comments.

A capture is what `send --save` writes and `replay` plays back. Because every
annotation is an SSE comment line, every SSE tool reads a capture as the
stream it recorded. The annotations, defined here and nowhere else:

    : ssechat-capture status=200 content-type=text/event-stream
    : t=0.412

The first line, at the top of the file, records the HTTP status and content
type of the response. `: t=SECONDS` stands before the first line of each
event and records when that event began to arrive, in seconds since the
request was sent (millisecond resolution). A capture without annotations is
still a capture: replay then uses `--delay` between events.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import IO, Final

HEADER_TAG: Final = "ssechat-capture"
_HEADER_RE: Final = re.compile(r"^ ?ssechat-capture((?: [a-z-]+=\S*)*)\s*$")
_TIME_RE: Final = re.compile(r"^ ?t=(\d+(?:\.\d+)?)\s*$")
_LINE_END_RE: Final = re.compile(rb"[\r\n]")


@dataclass(frozen=True)
class CaptureHeader:
    """The response's status and content type, recorded at the top of a capture."""

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


def create_private(path: str) -> IO[bytes]:
    """Open `path` for writing with mode 0600 from the first moment it exists.

    The mode is given to open(2) itself, so there is no window in which the
    file is readable by others; an existing file is truncated and narrowed.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
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
