"""The transport (ssechat/transport/): retry decisions, delays, timeouts, bytes as they arrive."""

from __future__ import annotations

import email.utils
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import responses
from hypothesis import given, settings
from hypothesis import strategies as st

from ssechat.bodies import Prompt
from ssechat.errors import ExitStatus
from ssechat.providers import Request, build_request
from ssechat.transport.failures import (
    Failure,
    HTTPFailure,
    NetworkFailure,
    StreamFailure,
    TimeoutFailure,
    error_message,
    server_delay,
    status_retryable,
)
from ssechat.transport.framing import Dechunker
from ssechat.transport.retry import Loop, RetryPolicy
from ssechat.transport.session import new_session
from ssechat.transport.stream import Stream, Timeouts, open_stream

KEY = "sk-test-FAKEKEY-0123456789abcdef"

# -- pure decisions --------------------------------------------------------------


def test_retry_after_seconds_and_ms() -> None:
    assert server_delay({"Retry-After": "3"}) == 3.0
    assert server_delay({"retry-after-ms": "250", "Retry-After": "3"}) == 0.25
    assert server_delay({}) is None
    assert server_delay({"Retry-After": "soon"}) is None


def test_retry_after_http_date() -> None:
    now = time.time()
    date = email.utils.formatdate(now + 30, usegmt=True)
    delay = server_delay({"Retry-After": date}, now=now)
    assert delay is not None and 28 <= delay <= 31


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504, 529])
def test_retryable_statuses(status: int) -> None:
    assert status_retryable(status, {})


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422, 418])
def test_final_statuses(status: int) -> None:
    assert not status_retryable(status, {})


def test_x_should_retry_decides() -> None:
    assert status_retryable(400, {"x-should-retry": "true"})
    assert not status_retryable(503, {"X-Should-Retry": "false"})


@pytest.mark.parametrize(
    ("failure", "status", "reason", "retryable", "delay"),
    [
        (HTTPFailure(503, "busy", retryable=True, server_delay=2.0), 4, "http 503", True, 2.0),
        (TimeoutFailure("idle", 60), 5, "idle timeout", True, None),
        (TimeoutFailure("total", 600), 5, "total timeout", False, None),
        (NetworkFailure("reset", reason="dropped"), 6, "dropped", True, None),
        (NetworkFailure("bad cert", reason="tls", retryable=False), 6, "tls", False, None),
        (StreamFailure("cut", reason="truncated", retryable=True), 3, "truncated", True, None),
    ],
)
def test_one_failure_base_whose_retry_fields_never_change(
    failure: Failure, status: int, reason: str, retryable: bool, delay: float | None
) -> None:
    assert isinstance(failure, Failure)
    assert failure.exit_status == status
    assert (failure.reason, failure.retryable, failure.server_delay) == (reason, retryable, delay)
    for field in ("reason", "retryable", "server_delay"):
        with pytest.raises(AttributeError):
            setattr(failure, field, None)


def test_full_jitter_stays_under_the_cap() -> None:
    policy = RetryPolicy(backoff_base=0.5, backoff_max=4.0)
    rng = random.Random(1)
    for retry in range(1, 10):
        cap = min(4.0, 0.5 * 2 ** (retry - 1))
        delays = [policy.backoff(retry, rng) for _ in range(200)]
        assert all(0 <= d <= cap for d in delays)
        assert max(delays) > cap * 0.8  # spread over the whole range


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"error":{"message":"Bad key","type":"invalid_request_error"}}', "Bad key"),
        (
            b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}',
            "Overloaded",
        ),
        (b'{"code":4100,"msg":"authentication is invalid"}', "authentication is invalid"),
        (
            b'[{"error":{"code":400,"message":"API key not valid","status":"X"}}]',
            "API key not valid",
        ),
        (b"<html>Bad Gateway</html>", "<html>Bad Gateway</html>"),
    ],
)
def test_error_message_per_provider(body: bytes, message: str) -> None:
    assert message in error_message(body)


# -- a local server that writes what it is told, when it is told -------------------


@contextmanager
def raw_server(script: Callable[[socket.socket], None]) -> Iterator[str]:
    """A one-connection-at-a-time HTTP server on 127.0.0.1 running `script` per request."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    part = conn.recv(65536)
                    if not part:
                        break
                    data += part
                head, _, rest = data.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                while len(rest) < length:
                    rest += conn.recv(65536)
                try:
                    script(conn)
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop.set()
        thread.join(2)
        listener.close()


HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"


def request_to(url: str) -> Request:
    return build_request("openai", Prompt("hi"), KEY, base_url=url)


CHUNKED = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
)


@pytest.mark.parametrize("chunked", [False, True])
def test_first_event_arrives_before_the_next_is_sent(chunked: bool) -> None:
    """read1, not iter_lines: an event is handed on the moment its bytes arrive."""
    sent_second = threading.Event()

    def script(conn: socket.socket) -> None:
        if chunked:
            conn.sendall(CHUNKED + b"b\r\ndata: one\n\n\r\n")
        else:
            conn.sendall(HEAD + b"data: one\n\n")
        time.sleep(0.5)
        sent_second.set()
        if chunked:
            conn.sendall(b"b\r\ndata: two\n\n\r\n0\r\n\r\n")
        else:
            conn.sendall(b"data: two\n\n")

    with raw_server(script) as url:
        stream = open_stream(new_session(), request_to(url), Timeouts(), deadline=None)
        chunks = stream.chunks()
        first = next(chunks)
        assert first == b"data: one\n\n"
        assert not sent_second.is_set()
        assert b"".join(chunks) == b"data: two\n\n"
        stream.close()


def test_idle_timeout_is_not_reset_by_pings() -> None:
    def script(conn: socket.socket) -> None:
        conn.sendall(HEAD + b"data: one\n\n")
        for _ in range(20):
            time.sleep(0.1)
            conn.sendall(b": keep-alive\n\n")

    with raw_server(script) as url:
        stream = open_stream(new_session(), request_to(url), Timeouts(idle=0.5), deadline=None)
        started = time.monotonic()
        with pytest.raises(TimeoutFailure) as info:
            for chunk in stream.chunks():
                if chunk.startswith(b"data:"):
                    stream.mark_content()
        elapsed = time.monotonic() - started
        stream.close()
    assert info.value.kind == "idle"
    assert info.value.exit_status == ExitStatus.TIMEOUT
    assert 0.4 <= elapsed < 1.5


def test_first_event_timeout() -> None:
    def script(conn: socket.socket) -> None:
        conn.sendall(HEAD + b": thinking\n\n")
        time.sleep(2)

    with raw_server(script) as url:
        stream = open_stream(
            new_session(), request_to(url), Timeouts(first_event=0.4), deadline=None
        )
        with pytest.raises(TimeoutFailure) as info:
            list(stream.chunks())
        stream.close()
    assert info.value.kind == "first-event"


def test_drop_mid_chunked_body_is_a_network_failure() -> None:
    def script(conn: socket.socket) -> None:
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Transfer-Encoding: chunked\r\n\r\nb\r\ndata: one\n\n\r\n"
        )
        conn.shutdown(socket.SHUT_RDWR)

    with raw_server(script) as url:
        stream = open_stream(new_session(), request_to(url), Timeouts(), deadline=None)
        got: list[bytes] = []
        with pytest.raises(NetworkFailure) as info:
            for chunk in stream.chunks():
                got.append(chunk)
        stream.close()
    assert b"".join(got) == b"data: one\n\n"
    assert info.value.reason == "dropped"


# -- chunked bodies, many chunks a read (Dechunker) -------------------------------------


def chunked_body(payloads: list[bytes], extension: bytes, trailer: bytes) -> bytes:
    body = b"".join(b"%x%s\r\n%s\r\n" % (len(p), extension, p) for p in payloads if p)
    return body + b"0" + extension + b"\r\n" + trailer + b"\r\n"


@settings(max_examples=200, deadline=None)
@given(
    payloads=st.lists(st.binary(max_size=40), max_size=10),
    extension=st.sampled_from([b"", b";name=value", b" ; x"]),
    trailer=st.sampled_from([b"", b"X-Trailer: 1\r\n"]),
    cuts=st.lists(st.integers(min_value=1, max_value=30), max_size=40),
)
def test_dechunker_returns_the_payload_as_it_arrives_whatever_the_reads(
    payloads: list[bytes], extension: bytes, trailer: bytes, cuts: list[int]
) -> None:
    """Every read gives all the payload that arrived with it; the end of the body ends it."""
    wire = chunked_body(payloads, extension, trailer)
    reads: list[bytes] = []
    pos = 0
    for cut in cuts:
        reads.append(wire[pos : pos + cut])
        pos += cut
    reads.append(wire[pos:])
    reads = [r for r in reads if r]
    arrived = iter(reads)
    fed = 0

    def read1(amount: int) -> bytes:
        nonlocal fed
        data = next(arrived)
        fed += len(data)
        return data

    dechunker = Dechunker(read1)
    got = b""
    while piece := dechunker.read(65536):
        got += piece
        # All the payload in the bytes read so far is out: nothing is held back.
        seen = wire[:fed]
        assert got == b"".join(payloads)[: len(got)]
        assert len(got) >= len(_payload_within(payloads, extension, seen))
    assert got == b"".join(payloads)


def _payload_within(payloads: list[bytes], extension: bytes, seen: bytes) -> bytes:
    """The payload bytes that lie inside the first len(seen) bytes of the wire."""
    out = b""
    pos = 0
    for p in payloads:
        if not p:
            continue
        pos += len(b"%x%s\r\n" % (len(p), extension))
        out += p[: max(0, len(seen) - pos)]
        pos += len(p) + 2
    return out


def test_dechunker_refuses_what_is_not_chunked_framing_after_the_payload_before_it() -> None:
    reads = iter([b"5\r\nhello\r\nnot-hex\r\n", b"x"])
    dechunker = Dechunker(lambda amount: next(reads))
    assert dechunker.read(100) == b"hello"
    with pytest.raises(ValueError):
        dechunker.read(100)
    with pytest.raises(ValueError):
        Dechunker(lambda amount: b"zz\r\n").read(100)


def test_fast_chunked_stream_is_read_in_batches() -> None:
    """Many small chunks already here come out in few reads, byte for byte."""
    events = [b"data: %d\n\n" % i for i in range(2000)]

    def script(conn: socket.socket) -> None:
        conn.sendall(CHUNKED + chunked_body(events, b"", b""))

    with raw_server(script) as url:
        stream = open_stream(new_session(), request_to(url), Timeouts(), deadline=None)
        pieces = list(stream.chunks())
        stream.close()
    assert b"".join(pieces) == b"".join(events)
    assert len(pieces) < len(events) / 10


# -- the loop, with `responses` and a fake clock ----------------------------------------


class Recorder:
    """A transport.Handler that keeps what it is given."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.retries: list[tuple[str, int, float]] = []
        self.calls = 0

    def on_open(self, stream: Stream) -> None:
        self.chunks = []

    def on_chunk(self, chunk: bytes, seconds: float) -> bool:
        self.chunks.append(chunk)
        return True

    def on_end(self) -> None:
        if not b"".join(self.chunks).endswith(b"[DONE]\n\n"):
            raise StreamFailure("cut", reason="truncated", retryable=True)

    def before_retry(self, failure: Any, retry: int, delay: float) -> Request | None:
        self.retries.append((failure.reason, retry, delay))
        return request_to("https://api.test/v1")


def run_loop(policy: RetryPolicy, *replies: dict[str, Any]) -> tuple[Recorder, list[float]]:
    waits: list[float] = []
    recorder = Recorder()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        for reply in replies:
            mock.add(responses.POST, "https://api.test/v1/chat/completions", **reply)
        try:
            Loop(policy, Timeouts(), sleep=waits.append).run(
                request_to("https://api.test/v1"), recorder
            )
        finally:
            recorder.calls = len(mock.calls)
    return recorder, waits


OK = {"body": b"data: hi\n\ndata: [DONE]\n\n", "content_type": "text/event-stream"}


def test_loop_retries_503_then_succeeds() -> None:
    recorder, waits = run_loop(
        RetryPolicy(backoff_base=0.1),
        {"status": 503, "json": {"error": {"message": "busy"}}},
        {"status": 503, "json": {"error": {"message": "busy"}}},
        OK,
    )
    assert b"".join(recorder.chunks) == OK["body"]
    assert [r[:2] for r in recorder.retries] == [("http 503", 1), ("http 503", 2)]
    assert waits[0] <= 0.1 and waits[1] <= 0.2


def test_loop_honours_retry_after() -> None:
    _, waits = run_loop(
        RetryPolicy(), {"status": 429, "headers": {"Retry-After": "7"}, "json": {}}, OK
    )
    assert waits == [7.0]


def test_loop_refuses_a_wait_over_the_cap() -> None:
    with pytest.raises(HTTPFailure, match="max-retry-wait"):
        run_loop(
            RetryPolicy(max_retry_wait=5), {"status": 429, "headers": {"Retry-After": "60"}}, OK
        )


def test_loop_does_not_retry_401() -> None:
    with pytest.raises(HTTPFailure) as info:
        run_loop(RetryPolicy(), {"status": 401, "json": {"error": {"message": "Bad key"}}}, OK)
    assert info.value.exit_status == ExitStatus.HTTP_ERROR
    assert "Bad key" in str(info.value)


def test_loop_gives_up_after_the_budget() -> None:
    busy = {"status": 503, "json": {}}
    with pytest.raises(HTTPFailure):
        run_loop(RetryPolicy(retries=2, backoff_base=0.01), busy, busy, busy, OK)


def test_loop_retries_a_truncated_stream() -> None:
    cut = {"body": b"data: hi\n\n", "content_type": "text/event-stream"}
    recorder, _ = run_loop(RetryPolicy(backoff_base=0.01), cut, OK)
    assert recorder.retries[0][0] == "truncated"
    assert b"".join(recorder.chunks) == OK["body"]


def test_connection_refused_is_a_network_failure() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    waits: list[float] = []
    with pytest.raises(NetworkFailure) as info:
        Loop(RetryPolicy(retries=2, backoff_base=0.01), Timeouts(), sleep=waits.append).run(
            request_to(f"http://127.0.0.1:{port}"), Recorder()
        )
    assert info.value.exit_status == ExitStatus.NETWORK
    assert len(waits) == 2
