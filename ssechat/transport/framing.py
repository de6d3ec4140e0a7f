"""HTTP/1.1 framing for `send`: how one response's body is read.

`Body` picks the fastest right reader for a response: `Dechunker` for an
identity chunked body (many chunks a read), http.client's `read1` for an
identity body with a length or delimited by the connection's close, and
urllib3's decoding `read1` (the plain path) for gzip or deflate. It finds
the socket whatever the framing, so every timeout can be set on it; a body
shorter than its Content-Length is a dropped connection, not an end; a body
read to its end gives its connection back (`release`). What it needs of
urllib3's insides is `ssechat.transport.private`'s. `check_encoding` refuses
a Content-Encoding urllib3 cannot decode (`br` without brotli).
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Mapping
from typing import Any, Final

from ssechat.transport import private

_BAD_LINE: Final = -2
MAX_CHUNK_LINE: Final = 4096  # a chunk size line (with extensions) longer than this is not one
IDENTITY: Final = ("", "identity")


class Dechunker:
    """A chunked body's payload, from the connection's buffered reader, many chunks a read.

    http.client decodes chunked bodies one chunk per call, with several
    Python calls and socket-timeout changes each: on a fast stream of small
    events (a chunk per event, as servers send them) that cost more than the
    whole pipeline. Here one `read` takes what the connection has (one
    `read1`: buffered bytes or one recv, never waiting for more) and returns
    all the payload in it, a partly arrived chunk included, so no byte that
    has arrived is held back. Only framing arrived: it reads again. Chunk
    extensions and trailers are skipped; the framing is read as leniently as
    http.client reads it (the CRLF after a chunk's data is not checked).
    """

    def __init__(self, read1: Callable[[int], bytes]) -> None:
        self.read1 = read1
        self.left = 0  # payload bytes still to come in the current chunk
        self.line = b""  # the start of a size line cut by the read
        self.done = False  # the last chunk (size 0) was read
        self.failure: ValueError | None = None  # bad framing, raised by the next read
        self.trailer = b""  # what followed the last chunk's size line in its read

    def read(self, amount: int) -> bytes:
        """The payload in the next bytes to arrive; b"" at the end of the body."""
        from http.client import IncompleteRead

        if self.failure is not None:
            raise self.failure
        while not self.done:
            data = self.read1(amount)
            if not data:
                raise IncompleteRead(b"", self.left or None)  # the connection closed early
            payload = self._payload(data)
            if payload:
                return payload
        return b""

    def _payload(self, data: bytes) -> bytes:
        """The payload in `data`: one pass, a few C calls per chunk."""
        parts: list[bytes] = []
        append = parts.append
        if self.line:
            data = self.line + data
            self.line = b""
        pos, size = 0, len(data)
        left = self.left
        if left:  # the rest of a chunk begun in an earlier read
            pos = min(left, size)
            append(data[:pos])
            left -= pos
        find = data.find
        while pos < size:
            end = find(b"\n", pos)
            if end < 0:
                self.line = data[pos:]
                if len(self.line) > MAX_CHUNK_LINE:
                    raise ValueError("a chunk size line that does not end")
                break
            try:
                length = int(data[pos:end], 16)  # int() ignores the CR around the digits
            except ValueError:
                length = -1
            if length < 0:
                length = self._size(data[pos:end], bool(parts))
                if length == _BAD_LINE:
                    break
                if length < 0:
                    pos = end + 1
                    continue  # the CRLF that ends a chunk's data
            pos = end + 1
            if length == 0:
                self.done = True  # trailers are skipped (`finish` reads to their end)
                self.trailer = data[pos:]
                break
            stop = pos + length
            if stop > size:
                append(data[pos:])
                left = stop - size
                break
            append(data[pos:stop])
            pos = stop + 2 if data[stop : stop + 2] == b"\r\n" else stop
        self.left = left
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def finish(self) -> bool:
        """Read to the blank line that ends the trailers, so that the connection can serve again.

        Called only after the last chunk: the rest has been sent with it.
        """
        rest = self.trailer
        for _ in range(16):
            if rest.startswith((b"\r\n", b"\n")) or b"\n\r\n" in rest or b"\n\n" in rest:
                return True
            if len(rest) > MAX_CHUNK_LINE:
                return False
            more = self.read1(MAX_CHUNK_LINE)
            if not more:
                return False
            rest += more
        return False

    def _size(self, line: bytes, keep: bool) -> int:
        """A size line int() refused: one with an extension, a blank line, or bad framing.

        Blank: -1. Bad framing raises ValueError, or, when `keep` (payload was
        already read from this read), stores it for the next read and gives
        _BAD_LINE, so that the payload before it goes on first.
        """
        digits = line.split(b";", 1)[0].strip()
        if not digits:
            return -1
        try:
            length = int(digits, 16)
            if length < 0:
                raise ValueError(f"a negative chunk size: {line!r}")
        except ValueError as exc:
            if not keep:
                raise
            self.failure = exc
            return _BAD_LINE
        return length


def more_ready(sock: socket.socket, buffer: Any, timeout: float) -> bool:
    """Whether more body bytes can be read without waiting (buffered or on the socket)."""
    try:
        sock.settimeout(0)
        ready = buffer.peek(1)
        # A chunk's closing CRLF alone is not more: reading on would wait for
        # the next chunk's size line, holding back the event already read.
        return len(ready) > 2 or ready not in (b"", b"\r\n", b"\r", b"\n")
    except (OSError, ValueError):  # ValueError: http.client closed it at the body's length
        return False
    finally:
        try:
            sock.settimeout(timeout)
        except OSError:
            pass


class Body:
    """The reader of one response's payload, its socket, and whether it was read to its end."""

    def __init__(self, raw: Any, headers: Mapping[str, str]) -> None:
        self.raw = raw
        self.sock = private.socket_of(raw)
        identity = headers.get("content-encoding", "identity").strip().lower() in IDENTITY
        chunked = private.unread_chunked(raw) if identity else None
        self.dechunker = Dechunker(chunked) if chunked is not None else None
        self.read: Callable[[int], bytes]
        self.buffer: Any  # the buffered reader to peek at for more (None: no batching)
        if self.dechunker is not None:
            # Reads of the socket's bytes batch by themselves: no peeking needed.
            self.read, self.buffer = self.dechunker.read, None
        else:
            direct = private.direct_read1(raw) if identity else None
            self.read = direct or (lambda amount: raw.read1(amount, decode_content=True))
            self.buffer = private.buffer_of(raw)
        self.ended = False

    def end(self) -> None:
        """The reader returned b"": a clean end, unless the body fell short of its length."""
        left = private.length_left(self.raw)
        if self.dechunker is None and left is not None and left > 0:
            raise ConnectionError(f"closed {left} bytes before the end of its Content-Length")
        self.ended = True

    def release(self) -> bool:
        """Give a body read to its end back to the pool for the next request; False if not."""
        if not self.ended or (self.dechunker is not None and not self.dechunker.finish()):
            return False
        return private.release(self.raw)


def check_encoding(headers: Mapping[str, str]) -> str | None:
    """The Content-Encoding urllib3 cannot decode, or None when every one is readable."""
    from urllib3.response import HTTPResponse

    value = headers.get("content-encoding", "").strip().lower()
    known = {*HTTPResponse.CONTENT_DECODERS, *IDENTITY}
    for part in value.split(","):
        if part.strip() not in known:
            return value
    return None
