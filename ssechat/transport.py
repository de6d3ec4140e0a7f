"""HTTP for `send`: one request streamed as raw bytes, timeouts, and the retry loop.

What this module owns:

- opening a streamed request with requests (`stream=True`) and handing the
  body on as it arrives: `resp.raw.read1()` returns whatever bytes the socket
  has, so an event reaches the decoder the moment its last byte does
  (`iter_lines` lags an event behind, and `iter_content` may wait to fill
  its buffer);
- four timeouts. `connect` (default 10 s) is requests' connect timeout.
  `first_event` (300 s: reasoning models think before they speak) runs from
  the request to the first event that carries content, `idle` (60 s) between
  two such events, `total` (none) from the first request to the end, retries
  and waits included. Which events carry content is the caller's call (the
  send session says: every SSE event but pings), so a server that only sends
  keep-alive comments or pings for minutes is caught. They are enforced by
  setting the socket's timeout before every read to the time left until the
  nearest deadline, so no thread and no polling is needed;
- the retry decision and its delay (`RetryPolicy`);
- the retry loop (`run`).

How a body is read (framing, decoding, the socket, the connection's reuse)
is `ssechat.framing`'s; what a failure is and what an answer says about
retrying, `ssechat.failures`'.

urllib3's `Retry` or our own loop? `Retry` (mounted on requests' adapter)
gives backoff with jitter, `Retry-After` and status lists for the request
phase. It cannot help after the response has begun: a dropped connection,
an idle timeout or an `overloaded_error` event inside a 200 stream are
failures of the body read, which urllib3 never retries once the body is
handed to us (and the official SDKs simply give up there). Those are exactly
the failures that lose users' answers, and retrying them needs the caller
(what was already written, whether to continue or restart, the `retry`
event). It also knows nothing of `retry-after-ms`, `x-should-retry` or a cap
beyond which to fail with a clear message. Two mechanisms with two budgets
and two delay rules would be harder to reason about than one, so there is
one loop here, covering both phases, and the adapter's own retries are off.

Backoff: "full jitter", delay = uniform(0, min(backoff_max, backoff_base * 2**(n-1)))
for retry n. Of the usual schemes (none, equal, full, decorrelated) full
jitter spreads a crowd of clients that failed together (a provider outage,
a 429 wave) best for the least total wait; it is what AWS's analysis
recommends and what the OpenAI and Anthropic SDKs do in effect. A delay the
server asks for (`retry-after-ms`, then `Retry-After` in seconds or as an HTTP
date) is used as given instead, and fails at once, clearly, when it is longer
than `max_retry_wait`. `x-should-retry: false` forbids a retry, `true` forces
one, whatever the status.

Proxies and CA bundles come from the environment (HTTPS_PROXY, HTTP_PROXY,
ALL_PROXY, NO_PROXY, REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE): requests honours
them. TLS verification is always on.

requests is imported inside the functions that use it: `ssechat --version`
must start fast.
"""

from __future__ import annotations

import random
import socket
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol

from ssechat.failures import (
    Failure,
    HTTPFailure,
    NetworkFailure,
    StreamFailure,
    TimeoutFailure,
    error_message,
    send_failure,
    server_delay,
    short_reason,
    status_retryable,
)
from ssechat.framing import Body, check_encoding, more_ready, new_session
from ssechat.providers import Request
from ssechat.redact import redact_path

if TYPE_CHECKING:
    import requests

# The failures and answer readers of ssechat.failures are part of this module's API.
__all__ = [
    "Failure",
    "HTTPFailure",
    "Handler",
    "Loop",
    "NetworkFailure",
    "RetryPolicy",
    "Stream",
    "StreamFailure",
    "TimeoutFailure",
    "Timeouts",
    "error_message",
    "new_session",
    "open_stream",
    "send_once",
    "server_delay",
    "status_retryable",
]

READ_SIZE: Final = 65536
ERROR_BODY_LIMIT: Final = 65536


@dataclass(frozen=True)
class Timeouts:
    connect: float = 10.0
    first_event: float = 300.0
    idle: float = 60.0
    total: float | None = None


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 5
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    max_retry_wait: float = 60.0

    def backoff(self, retry: int, rng: random.Random) -> float:
        """Full jitter for retry number `retry` (1 for the first)."""
        cap = min(self.backoff_max, self.backoff_base * 2 ** max(retry - 1, 0))
        return rng.uniform(0.0, max(cap, 0.0))


# -- one attempt ------------------------------------------------------------------


class Stream:
    """An open response: status, headers, and the body as it arrives."""

    def __init__(
        self,
        response: requests.Response,
        timeouts: Timeouts,
        started: float,
        deadline: float | None,
        clock: Callable[[], float],
    ) -> None:
        self.response = response
        self.status = response.status_code
        self.headers: Mapping[str, str] = response.headers
        self.content_type = response.headers.get("content-type", "")
        self.timeouts = timeouts
        self.started = started
        self.deadline = deadline
        self.clock = clock
        self._content_deadline = started + timeouts.first_event
        self._content_kind = "first-event"
        self._content_limit = timeouts.first_event
        self.body = Body(response.raw, self.headers)
        self._pending: list[bytes] = []

    def elapsed(self) -> float:
        return self.clock() - self.started

    def mark_content(self) -> None:
        """An event that carries content arrived: the idle clock starts again."""
        self._content_deadline = self.clock() + self.timeouts.idle
        self._content_kind = "idle"
        self._content_limit = self.timeouts.idle

    def _nearest(self) -> tuple[float, str, float | None]:
        if self.deadline is not None and self.deadline <= self._content_deadline:
            return self.deadline, "total", self.timeouts.total
        return self._content_deadline, self._content_kind, self._content_limit

    def chunks(self) -> Iterator[bytes]:
        """The body's bytes as they arrive; raises TimeoutFailure or NetworkFailure.

        Each read returns what the socket has at once, without waiting for
        more. When several HTTP chunks (one event each, as servers send them)
        are already here, they are read together (`more_ready`), so a fast
        stream is handled in batches while a slow one still goes on event by
        event. Bytes already peeked at (`peek`) come first.
        """
        while self._pending:
            yield self._pending.pop(0)
        body = self.body
        read, buffer, sock = body.read, body.buffer, body.sock
        while True:
            limit, kind, seconds = self._nearest()
            left = limit - self.clock()
            if left <= 0:
                raise TimeoutFailure(kind, seconds)
            if sock is not None:
                try:
                    sock.settimeout(left)
                except OSError:
                    sock = None
            failure: Exception | None = None
            try:
                data = read(READ_SIZE)
                if data and sock is not None and buffer is not None:
                    data, failure = _batch(data, read, sock, buffer, left)
                elif not data:
                    body.end()
            except Exception as exc:
                data, failure = b"", exc
            if data:
                yield data
            if failure is not None:
                raise self._failure(failure, kind, seconds) from None
            if not data:
                return

    def sniff_sse(self) -> bool:
        """Whether the body begins as an SSE stream does, whatever its label (application/json)."""
        start = self.peek()[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
        return start.startswith((b"data:", b"event:", b"id:", b"retry:", b":"))

    def peek(self) -> bytes:
        """The first bytes of the body (b"" if none), still to come from `chunks`."""
        for data in self.chunks():
            self._pending.append(data)
            return data
        return b""

    @staticmethod
    def _failure(exc: Exception, kind: str, seconds: float | None) -> Exception:
        """What a read error means: a timeout, a dropped connection, or a bug (as is)."""
        from http.client import HTTPException

        from urllib3.exceptions import HTTPError as URLLib3Error

        if isinstance(exc, TimeoutError) or "timed out" in str(exc).lower():
            return TimeoutFailure(kind, seconds)
        if isinstance(exc, (HTTPException, URLLib3Error, OSError, ValueError)):
            return NetworkFailure(
                f"the connection dropped during the response ({short_reason(exc)})",
                reason="dropped",
            )
        return exc

    def read_body(self, limit: int = ERROR_BODY_LIMIT) -> bytes:
        """Up to `limit` bytes of a (short) body, such as an error's."""
        parts: list[bytes] = []
        size = 0
        try:
            for chunk in self.chunks():
                parts.append(chunk)
                size += len(chunk)
                if size >= limit:
                    break
        except (TimeoutFailure, NetworkFailure):
            pass
        return b"".join(parts)[:limit]

    def close(self) -> None:
        """Give the connection back for the next attempt when the body was read to its end."""
        if not self.body.release():
            self.response.close()


def _batch(
    data: bytes, read: Callable[[int], bytes], sock: socket.socket, buffer: Any, left: float
) -> tuple[bytes, Exception | None]:
    """`data` and what else has arrived already; a failure after it is handed on, not lost."""
    parts = [data]
    size = len(data)
    failure: Exception | None = None
    try:
        while size < READ_SIZE and more_ready(sock, buffer, left):
            more = read(READ_SIZE - size)
            if not more:
                break
            parts.append(more)
            size += len(more)
    except Exception as exc:
        failure = exc  # hand on what arrived first, then fail
    return (b"".join(parts) if len(parts) > 1 else data), failure


def open_stream(
    session: requests.Session,
    request: Request,
    timeouts: Timeouts,
    *,
    deadline: float | None,
    clock: Callable[[], float] = time.monotonic,
) -> Stream:
    """Send the request; return the open stream (2xx) or raise the attempt's Failure."""
    started = clock()
    wait_headers = timeouts.first_event
    kind = "first-event"
    if deadline is not None and deadline - started < wait_headers:
        wait_headers, kind = deadline - started, "total"
    if wait_headers <= 0:
        raise TimeoutFailure("total", timeouts.total)
    connect = min(timeouts.connect, wait_headers)
    try:
        response = session.request(
            request.method,
            request.url,
            headers=request.headers,
            data=request.body_bytes(),
            stream=True,
            timeout=(connect, wait_headers),
            verify=True,
            allow_redirects=False,  # a redirect would carry the key to its host
        )
    except Exception as exc:
        waited = clock() - started
        raise send_failure(
            exc, request.url, connect, wait_headers, kind, waited, timeouts.total
        ) from None
    stream = Stream(response, timeouts, started, deadline, clock)
    _check_answer(stream)
    return stream


def _check_answer(stream: Stream) -> None:
    """Raise the HTTPFailure of an answer that is not a readable 2xx stream."""
    status = stream.status
    if 200 <= status < 300:
        encoding = check_encoding(stream.headers)
        if encoding is None:
            return
        stream.response.close()
        raise HTTPFailure(
            status,
            f"the body is sent in an encoding ssechat cannot read (Content-Encoding: {encoding})",
            retryable=False,
        )
    if 300 <= status < 400:
        stream.response.close()
        location = redact_path(stream.headers.get("location", ""))
        raise HTTPFailure(
            status,
            f"the server redirects to {location[:500] or '(no Location)'}; "
            "redirects are not followed (the request carries the API key)",
            retryable=False,
        )
    body = stream.read_body()
    stream.close()
    raise HTTPFailure(
        status,
        error_message(body, stream.content_type),
        retryable=status_retryable(status, stream.headers),
        server_delay=server_delay(stream.headers),
        body=body,
    )


def send_once(request: Request, seconds: float) -> int | None:
    """Send a small request, best effort, within about `seconds`; its status, or None."""
    import requests

    session = new_session()
    try:
        response = session.request(
            request.method,
            request.url,
            headers=request.headers,
            data=request.body_bytes(),
            timeout=(seconds / 2, seconds / 2),
            allow_redirects=False,
        )
        response.close()
        return response.status_code
    except requests.exceptions.RequestException:
        return None
    finally:
        session.close()


# -- the loop ---------------------------------------------------------------------


class Handler(Protocol):
    """What the retry loop calls; the send session implements it."""

    def on_open(self, stream: Stream) -> None:
        """A 2xx response began (status and headers known)."""

    def on_chunk(self, chunk: bytes, seconds: float) -> bool:
        """Bytes arrived; True when they completed an event that carries content."""

    def on_end(self) -> None:
        """The body ended; raise StreamFailure if the response is incomplete or failed."""

    def before_retry(self, failure: Failure, retry: int, delay: float) -> Request | None:
        """A retry is about to wait `delay`: the request to send next, or None to give up."""


@dataclass
class Loop:
    """The retry loop around attempts; one budget of `retries` for the whole command."""

    policy: RetryPolicy
    timeouts: Timeouts
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    rng: random.Random = random.Random()  # noqa: RUF009 - one shared generator is fine
    log: Callable[[str], None] | None = None
    redact: Callable[[str], str] = str

    def run(self, request: Request, handler: Handler) -> None:
        session = new_session()
        deadline = self.clock() + self.timeouts.total if self.timeouts.total else None
        retry = 0
        try:
            while True:
                if self.log:
                    url = redact_path(request.url)
                    self.log(f"> {request.method} {url} (attempt {retry + 1})")
                try:
                    stream = open_stream(
                        session, request, self.timeouts, deadline=deadline, clock=self.clock
                    )
                    try:
                        if self.log:
                            self.log(f"< {stream.status} {stream.content_type}")
                        handler.on_open(stream)
                        for chunk in stream.chunks():
                            if handler.on_chunk(chunk, stream.elapsed()):
                                stream.mark_content()
                        handler.on_end()
                        return
                    finally:
                        stream.close()
                except (HTTPFailure, TimeoutFailure, NetworkFailure, StreamFailure) as failure:
                    failure.args = (self.redact(str(failure)),)
                    delay = self._delay(failure, retry, deadline)
                    if delay is None:
                        raise
                    retry += 1
                    next_request = handler.before_retry(failure, retry, delay)
                    if next_request is None:
                        raise
                    request = next_request
                    self.sleep(delay)
        finally:
            session.close()

    def _delay(self, failure: Failure, retry: int, deadline: float | None) -> float | None:
        """The wait before the next attempt, None when not to retry (or raise why not)."""
        if not failure.retryable or retry >= self.policy.retries:
            return None
        asked = failure.server_delay
        if asked is not None and asked > self.policy.max_retry_wait:
            raise HTTPFailure(
                getattr(failure, "status", 0),
                f"the server asks to wait {asked:g} s before retrying, more than "
                f"--max-retry-wait {self.policy.max_retry_wait:g}",
                retryable=False,
            )
        delay = asked if asked is not None else self.policy.backoff(retry + 1, self.rng)
        if deadline is not None and self.clock() + delay >= deadline:
            raise TimeoutFailure("total", self.timeouts.total)
        return delay
