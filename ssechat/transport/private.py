"""Every read of urllib3's and http.client's private or undocumented attributes.

The fast readers of `ssechat.transport.framing` go under urllib3's decoding
layers, and the timeouts need the socket whatever the framing: what they use
of the libraries' insides is read here and nowhere else, each read listed in
`ATTRIBUTES`. When an attribute is missing the readers fall back to urllib3's
public `read1` without a word, so tests/test_transport_private.py opens real
responses and fails, naming the attribute, when urllib3 or http.client
changes one. docs/transport.md tells why each is needed.
"""

from __future__ import annotations

import http.client
import socket
from collections.abc import Callable
from typing import Any, Final

# (the object, its attribute, what it is for), as the test checks them.
ATTRIBUTES: Final = (
    ("urllib3.response.HTTPResponse", "_fp", "http.client's response under urllib3's"),
    ("urllib3.response.HTTPResponse", "_decoded_buffer", "what urllib3 decoded already"),
    ("http.client.HTTPResponse", "fp", "the connection's buffered reader"),
    ("http.client.HTTPResponse", "chunked", "whether the body is chunked"),
    ("http.client.HTTPResponse", "chunk_left", "None before any chunk is read"),
    ("http.client.HTTPResponse", "length", "the Content-Length bytes still to come"),
    ("http.client.HTTPResponse", "will_close", "whether the connection ends with the body"),
    ("http.client.HTTPResponse", "_read_status", "reading the status line (skipping 1xx)"),
    ("socket.SocketIO", "_sock", "the socket of a body delimited by the connection's close"),
)


def _http_response(raw: Any) -> Any:
    """http.client's response under urllib3's (None if there is none)."""
    return getattr(raw, "_fp", None)


def _nothing_decoded(raw: Any) -> bool:
    decoded = getattr(raw, "_decoded_buffer", None)
    return decoded is None or len(decoded) == 0


def direct_read1(raw: Any) -> Callable[[int], bytes] | None:
    """http.client's read1 under urllib3's, for a body with nothing to decode; else None.

    urllib3's read1 adds buffering and decoding layers that cost more than
    the rest of the pipeline on a stream of small events; for an identity
    body they do nothing. The caller has checked the Content-Encoding.
    """
    fp = _http_response(raw)
    if fp is not None and hasattr(fp, "read1") and _nothing_decoded(raw):
        read1: Callable[[int], bytes] = fp.read1
        return read1
    return None


def unread_chunked(raw: Any) -> Callable[[int], bytes] | None:
    """The connection's buffered read1 under a chunked body not read at all yet; else None."""
    fp = _http_response(raw)
    buffer = getattr(fp, "fp", None)
    if (
        getattr(fp, "chunked", False) is True
        and getattr(fp, "chunk_left", 0) is None  # http.client has read none of it
        and _nothing_decoded(raw)
        and buffer is not None
        and hasattr(buffer, "read1")
    ):
        read1: Callable[[int], bytes] = buffer.read1
        return read1
    return None


def buffer_of(raw: Any) -> Any:
    """The connection's buffered reader (to `peek` at what has arrived), or None."""
    return getattr(_http_response(raw), "fp", None)


def socket_of(raw: Any) -> socket.socket | None:
    """The response's socket: the connection's, or, once http.client took it over for a
    body delimited by the connection's close, the one under the response's reader."""
    sock = getattr(getattr(raw, "connection", None), "sock", None)
    if not isinstance(sock, socket.socket):
        reader = buffer_of(raw)
        sock = getattr(getattr(reader, "raw", None), "_sock", None)
    return sock if isinstance(sock, socket.socket) else None


def length_left(raw: Any) -> int | None:
    """The bytes of its Content-Length that have not come yet (None: no length)."""
    left = getattr(_http_response(raw), "length", None)
    return left if isinstance(left, int) else None


def release(raw: Any) -> bool:
    """Give the connection of a body read to its end back to the pool; False if it cannot."""
    fp = _http_response(raw)
    release_conn = getattr(raw, "release_conn", None)
    if fp is None or release_conn is None or getattr(fp, "will_close", True):
        return False
    try:
        fp.close()  # http.client's response; the socket stays with the connection
        release_conn()
    except (OSError, ValueError):
        return False
    return True


class FinalResponse(http.client.HTTPResponse):
    """http.client's response, skipping every informational answer (1xx but 101).

    http.client takes a `103 Early Hints` for the response (it skips only
    `100 Continue`).
    """

    def _read_status(self) -> tuple[str, int, str]:
        while True:
            version, status, reason = super()._read_status()  # type: ignore[misc]
            if not 100 < status < 200 or status == 101:
                return version, status, reason
            http.client.parse_headers(self.fp)  # the hints' headers: not ours
