"""What ssechat/transport/private.py reads of urllib3 and http.client, checked on real responses.

The fast readers fall back to urllib3's public `read1` without a word when an
attribute they read is gone, so a change in urllib3 or http.client would only
show as a slower `send`. These tests open real responses (on 127.0.0.1, in
every framing) and fail naming the attribute that changed; they also prove
that the fast readers read what urllib3's own plain path reads.
"""

from __future__ import annotations

import http.client
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests

from ssechat.transport import private
from ssechat.transport.framing import Body
from ssechat.transport.session import new_session
from tests.hostile_server import ANSWER, HostileServer, chat_event, chat_stream

FRAMINGS = ["chunked", "length", "close"]


def _changed(owner: str, attribute: str) -> str:
    return (
        f"{owner}.{attribute} changed: ssechat/transport/private.py reads it "
        "(the fast readers would fall back to the slow path without a word)"
    )


@contextmanager
def _response(framing: str, events: list[bytes] | None = None) -> Iterator[requests.Response]:
    """A streamed response of the hostile server in `framing`, its body not read yet."""
    with HostileServer(framing, {"events": events} if events else {}) as server:
        session = new_session()
        try:
            response = session.get(server.url, stream=True, timeout=10)
            try:
                yield response
            finally:
                response.close()
        finally:
            session.close()


def _owners(raw: Any) -> dict[str, Any]:
    """The live object of each owner named in `private.ATTRIBUTES`."""
    fp = getattr(raw, "_fp", None)
    assert isinstance(fp, http.client.HTTPResponse), _changed("urllib3 HTTPResponse", "_fp")
    buffer = getattr(fp, "fp", None)
    return {
        "urllib3.response.HTTPResponse": raw,
        "http.client.HTTPResponse": fp,
        "socket.SocketIO": getattr(buffer, "raw", None),
    }


@pytest.mark.parametrize("framing", FRAMINGS)
def test_every_private_attribute_read_is_still_there(framing: str) -> None:
    with _response(framing) as response:
        owners = _owners(response.raw)
        for owner, attribute, _ in private.ATTRIBUTES:
            assert hasattr(owners[owner], attribute), _changed(owner, attribute)
        raw, fp = response.raw, owners["http.client.HTTPResponse"]
        assert len(raw._decoded_buffer) == 0, _changed("urllib3 HTTPResponse", "_decoded_buffer")
        for method in ("read1", "peek"):
            assert callable(getattr(fp.fp, method, None)), _changed("http.client fp", method)
        assert fp.chunked is (framing == "chunked"), _changed("http.client.HTTPResponse", "chunked")
        if framing == "chunked":
            assert fp.chunk_left is None, _changed("http.client.HTTPResponse", "chunk_left")
        expected_length = len(b"".join(chat_stream(*ANSWER))) if framing == "length" else None
        assert fp.length == expected_length, _changed("http.client.HTTPResponse", "length")
        assert fp.will_close is (framing == "close"), _changed("http.client", "will_close")
        sock = owners["socket.SocketIO"]._sock
        assert isinstance(sock, socket.socket), _changed("socket.SocketIO", "_sock")
        assert isinstance(private.socket_of(raw), socket.socket)


@pytest.mark.parametrize("framing", FRAMINGS)
def test_the_fast_reader_is_the_one_chosen(framing: str) -> None:
    """Not only present: the attributes still lead `Body` to its fast readers."""
    with _response(framing) as response:
        fp = response.raw._fp
        body = Body(response.raw, response.headers)
        if framing == "chunked":
            assert body.dechunker is not None, "a chunked body is no longer read by Dechunker"
        else:
            assert body.dechunker is None
            assert body.read == fp.read1, "an identity body is no longer read by http.client"
        assert body.sock is not None, "the response's socket is no longer found"


def test_http_client_still_reads_status_lines_through_read_status() -> None:
    """FinalResponse overrides it to skip 103 Early Hints."""
    assert callable(getattr(http.client.HTTPResponse, "_read_status", None)), _changed(
        "http.client.HTTPResponse", "_read_status"
    )
    with _response("early-hints") as response:
        assert response.status_code == 200


def _read_all(read: Any) -> bytes:
    parts = []
    while True:
        data = read(65536)
        if not data:
            return b"".join(parts)
        parts.append(data)


@pytest.mark.parametrize("framing", FRAMINGS)
def test_the_fast_readers_read_what_urllib3_reads(framing: str) -> None:
    """The fast path (Body) against the plain one (urllib3's decoding read1), same bytes."""
    events = [chat_event(f"word {n} " * (n % 7)) for n in range(300)]
    with _response(framing, events) as response:
        body = Body(response.raw, response.headers)
        fast = _read_all(body.read)
        body.end()
    with _response(framing, events) as response:
        raw = response.raw
        plain = _read_all(lambda amount: raw.read1(amount, decode_content=True))
    assert fast == plain == b"".join(events)
