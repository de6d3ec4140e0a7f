"""What real inputs carry around an SSE stream: `curl -i`'s HTTP head, a body that is not SSE.

`HttpHead` drops the status lines and headers that `curl -i` writes before
the body (every block: 100 Continue, proxies) and keeps the last status.
`Body` keeps the first bytes of a body until its first SSE event, so that an
input with no event at all is reported for what it is (`Body.error`): a JSON
error document, an HTML page or plain text, an HTTP error status.
"""

from __future__ import annotations

import re
from typing import Any, Final

from ssechat.capture import parse_header
from ssechat.dialects.fields import error_fields
from ssechat.jsonload import loads

HEAD_LIMIT: Final = 64 * 1024  # bytes of HTTP headers we wait for before giving up
BODY_LIMIT: Final = 1024 * 1024  # bytes kept in case the input is a JSON error body
QUOTE: Final = 80  # characters of a body that is not SSE, quoted in its error
_JSON_BODY: Final = "the input is a JSON document, not an SSE stream"
_BLANK_LINE: Final = re.compile(rb"\r?\n\r?\n")
_STATUS_LINE: Final = re.compile(rb"HTTP/\S+[ \t]+(\d{3})")


class HttpHead:
    """`curl -i`'s head before the body, if the input has one: `skip` returns the body."""

    def __init__(self) -> None:
        self._head = bytearray()
        self.status: int | None = None  # the status line of the last header block
        self.done = False

    def skip(self, chunk: bytes, *, final: bool) -> bytes:
        """The body bytes once the head is over (`done`), else b"" (held; more is needed)."""
        head = self._head
        head += chunk
        while True:
            if len(head) < 5 and not final and b"HTTP/".startswith(bytes(head)):
                return b""  # too short to tell yet
            if not head.startswith(b"HTTP/"):
                break
            blank = _BLANK_LINE.search(head)
            if blank is None:
                if final or len(head) > HEAD_LIMIT:
                    break
                return b""
            match = _STATUS_LINE.match(head)
            if match:
                # Kept across reads: the body may begin in a later one.
                self.status = int(match.group(1))
            del head[: blank.end()]
        self.done = True
        self._head = bytearray()
        return bytes(head)


class Body:
    """The first bytes of a body, for the error an input with no SSE event is."""

    def __init__(self) -> None:
        self._data: bytearray | None = bytearray()  # None once over BODY_LIMIT
        self._start = b""  # the first bytes, to quote

    def keep(self, chunk: bytes) -> None:
        if len(self._start) < QUOTE:
            self._start += chunk[: 4 * QUOTE]
        data = self._data
        if data is not None and len(data) + len(chunk) > BODY_LIMIT:
            self._data = None
        elif data is not None:
            data += chunk

    def error(self, *, looks_like_sse: bool, http_status: int | None) -> tuple[str, Any] | None:
        """The message and code of an input with no SSE event; None if it was empty or fine."""
        # `send --save` keeps an HTTP error as its annotation comments, then the body.
        body, status = _after_comments(bytes(self._data or b""))
        status = status or http_status
        if body[:1] in (b"{", b"["):
            try:
                document = loads(body.decode("utf-8", "replace"))
            except ValueError:
                document = None
            if document is not None:
                return error_fields(document, _JSON_BODY)
        if self._start.strip() and not looks_like_sse:
            # An HTML error page, plain text, a cut JSON body: an error, quoted.
            start = " ".join(self._start.decode("utf-8", "replace").split())[:QUOTE]
            return f"the input is not an SSE stream; it starts: {start!r}", "not_sse"
        if not 200 <= (status or 200) < 300:
            # A capture of an HTTP error whose body is not JSON (an HTML page), or empty.
            start = " ".join(body[: 4 * QUOTE].decode("utf-8", "replace").split())[:QUOTE]
            return (f"HTTP {status}: {start!r}" if start else f"HTTP {status}"), status
        return None


def _after_comments(data: bytes) -> tuple[bytes, int | None]:
    """`data` stripped of its leading SSE comment lines, and the status a capture header gives."""
    data, status = data.strip(), None
    while data.startswith(b":"):
        line, _, data = data.partition(b"\n")
        header = parse_header(line[1:].decode("utf-8", "replace").strip())
        status = header.status if header is not None else status
        data = data.strip()
    return data, status
