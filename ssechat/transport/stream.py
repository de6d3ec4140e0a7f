"""One attempt of `send`: the request sent, its answer checked, its body as it arrives.

`open_stream` sends a request with requests (`stream=True`) and gives the
open `Stream` of a 2xx answer, or raises the attempt's `Failure` (an error
status, a redirect, an encoding ssechat cannot read). `Stream.chunks` yields
the body's bytes the moment they arrive, in batches when several events are
already here, and enforces the timeouts (`Timeouts`) by setting the socket's
timeout before every read to the time left until the nearest deadline.
`send_once` sends a small request, best effort. docs/transport.md says more.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from ssechat.providers import Request
from ssechat.redact import redact_path
from ssechat.transport.failures import (
    HTTPFailure,
    NetworkFailure,
    TimeoutFailure,
    error_message,
    send_failure,
    server_delay,
    short_reason,
    status_retryable,
)
from ssechat.transport.framing import Body, check_encoding, more_ready
from ssechat.transport.session import new_session

if TYPE_CHECKING:
    import requests

READ_SIZE: Final = 65536
ERROR_BODY_LIMIT: Final = 65536


class Timeouts(NamedTuple):
    """connect; first_event: to the first event with content; idle: between two; total."""

    connect: float = 10.0
    first_event: float = 300.0
    idle: float = 60.0
    total: float | None = None


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
        response = _send(session, request, (connect, wait_headers), stream=True)
    except Exception as exc:
        waited = clock() - started
        raise send_failure(
            exc, request.url, connect, wait_headers, kind, waited, timeouts.total
        ) from None
    stream = Stream(response, timeouts, started, deadline, clock)
    _check_answer(stream)
    return stream


def _send(
    session: requests.Session, request: Request, timeout: tuple[float, float], *, stream: bool
) -> requests.Response:
    """`request` through `session`: TLS verified, and no redirect followed (it would carry
    the key to its host)."""
    return session.request(
        request.method,
        request.url,
        headers=request.headers,
        data=request.body_bytes(),
        stream=stream,
        timeout=timeout,
        verify=True,
        allow_redirects=False,
    )


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
        response = _send(session, request, (seconds / 2, seconds / 2), stream=False)
        response.close()
        return response.status_code
    except requests.exceptions.RequestException:
        return None
    finally:
        session.close()
