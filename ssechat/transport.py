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

import email.utils
import json
import random
import socket
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol

from ssechat.errors import HTTPStatusError, InputError, NetworkError, StreamTimeoutError
from ssechat.providers import Request
from ssechat.redact import redact_path

if TYPE_CHECKING:
    import requests

RETRY_STATUSES: Final = frozenset({408, 409, 429, 500, 502, 503, 504, 529})
READ_SIZE: Final = 65536
_BAD_LINE: Final = -2
MAX_CHUNK_LINE: Final = 4096  # a chunk size line (with extensions) longer than this is not one
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


# -- failures of one attempt ----------------------------------------------------


class HTTPFailure(HTTPStatusError):
    """An HTTP error status (or an error body instead of a stream)."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        retryable: bool,
        server_delay: float | None = None,
        body: bytes = b"",
    ) -> None:
        super().__init__(f"HTTP {status}: {message}" if message else f"HTTP {status}")
        self.status = status
        self.body = body
        self.retryable = retryable
        self.server_delay = server_delay
        self.reason = f"http {status}"


class TimeoutFailure(StreamTimeoutError):
    """kind: connect, first-event, idle or total."""

    def __init__(self, kind: str, seconds: float | None) -> None:
        after = f" after {seconds:g} s" if seconds is not None else ""
        super().__init__(f"{kind} timeout{after}")
        self.kind = kind
        self.retryable = kind != "total"
        self.server_delay: float | None = None
        self.reason = f"{kind} timeout"


class NetworkFailure(NetworkError):
    """DNS, refused, reset, or the connection dropped inside the body."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.retryable = True
        self.server_delay: float | None = None
        self.reason = reason


class StreamFailure(InputError):
    """The stream ended without its end marker, or carried an error event."""

    def __init__(self, message: str, *, reason: str, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.server_delay: float | None = None
        self.reason = reason


Failure = HTTPFailure | TimeoutFailure | NetworkFailure | StreamFailure


# -- what the server asks for -----------------------------------------------------


def server_delay(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """The wait the server asks for: retry-after-ms, else Retry-After (seconds or a date)."""
    lower = {k.lower(): v for k, v in headers.items()}
    ms = lower.get("retry-after-ms")
    if ms is not None:
        try:
            value = float(ms) / 1000.0
            if value >= 0:
                return value
        except ValueError:
            pass
    after = lower.get("retry-after")
    if after is None:
        return None
    after = after.strip()
    try:
        return max(float(after), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(after)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(when.timestamp() - (time.time() if now is None else now), 0.0)


def status_retryable(status: int, headers: Mapping[str, str]) -> bool:
    """Whether an error status is worth another try (x-should-retry decides first)."""
    lower = {k.lower(): v for k, v in headers.items()}
    should = lower.get("x-should-retry", "").strip().lower()
    if should == "true":
        return True
    if should == "false":
        return False
    return status in RETRY_STATUSES


def error_message(body: bytes, content_type: str = "") -> str:
    """The provider's own message from an error body (OpenAI, Anthropic, Coze, Gemini)."""
    text = body.decode("utf-8", "replace").strip()
    try:
        doc = json.loads(text)
    except ValueError:
        return " ".join(text.split())[:500]
    if isinstance(doc, list) and doc:
        doc = doc[0]  # Gemini sometimes wraps the error in a list
    if isinstance(doc, dict):
        err = doc.get("error", doc)
        if isinstance(err, dict):
            msg = err.get("message") or err.get("msg")
            code = err.get("type") or err.get("code") or err.get("status")
            if msg:
                return f"{msg} ({code})" if code else str(msg)
        elif isinstance(err, str):
            return err
    return " ".join(text.split())[:500]


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
        are already here, they are read together (`_more_ready`), so a fast
        stream is handled in batches while a slow one still goes on event by
        event.
        """
        raw = self.response.raw
        sock = _socket_of(raw)
        dechunker = _dechunker(raw, self.headers)
        read: Callable[[int], bytes]
        buffer: Any
        if dechunker is not None:
            # Reads of the socket's bytes batch by themselves: no peeking needed.
            read, buffer = dechunker.read, None
        else:
            read = _direct_reader(raw, self.headers)
            buffer = getattr(getattr(raw, "_fp", None), "fp", None)
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
                    parts = [data]
                    size = len(data)
                    try:
                        while size < READ_SIZE and _more_ready(sock, buffer, left):
                            more = read(READ_SIZE - size)
                            if not more:
                                break
                            parts.append(more)
                            size += len(more)
                    except Exception as exc:
                        failure = exc  # hand on what arrived first, then fail
                    if len(parts) > 1:
                        data = b"".join(parts)
            except Exception as exc:
                data, failure = b"", exc
            if data:
                yield data
            if failure is not None:
                raise self._failure(failure, kind, seconds) from None
            if not data:
                return

    @staticmethod
    def _failure(exc: Exception, kind: str, seconds: float | None) -> Exception:
        """What a read error means: a timeout, a dropped connection, or a bug (as is)."""
        from http.client import HTTPException

        from urllib3.exceptions import HTTPError as URLLib3Error

        if isinstance(exc, TimeoutError) or "timed out" in str(exc).lower():
            return TimeoutFailure(kind, seconds)
        if isinstance(exc, (HTTPException, URLLib3Error, OSError, ValueError)):
            return NetworkFailure(
                f"the connection dropped during the response ({_short(exc)})", reason="dropped"
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
        self.response.close()


def _direct_reader(raw: Any, headers: Mapping[str, str]) -> Callable[[int], bytes]:
    """http.client's read1 under urllib3's, when there is nothing for urllib3 to decode.

    urllib3's read1 adds buffering and decoding layers that cost more than
    the rest of the pipeline on a stream of small events; with no
    content-encoding (we ask for identity) they do nothing.
    """
    fp = getattr(raw, "_fp", None)
    encoding = headers.get("content-encoding", "identity").strip().lower()
    decoded = getattr(raw, "_decoded_buffer", None)
    untouched = decoded is None or len(decoded) == 0
    if fp is not None and hasattr(fp, "read1") and encoding in ("", "identity") and untouched:
        read1: Callable[[int], bytes] = fp.read1
        return read1
    return lambda amount: raw.read1(amount, decode_content=True)


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
                self.done = True  # trailers, if any, are not read: the response is closed
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


def _dechunker(raw: Any, headers: Mapping[str, str]) -> Dechunker | None:
    """A `Dechunker` for an identity-encoded chunked body not read yet, else None."""
    fp = getattr(raw, "_fp", None)
    buffer = getattr(fp, "fp", None)
    encoding = headers.get("content-encoding", "identity").strip().lower()
    decoded = getattr(raw, "_decoded_buffer", None)
    if (
        getattr(fp, "chunked", False) is True
        and getattr(fp, "chunk_left", 0) is None  # http.client has read none of it
        and encoding in ("", "identity")
        and (decoded is None or len(decoded) == 0)
        and buffer is not None
        and hasattr(buffer, "read1")
    ):
        return Dechunker(buffer.read1)
    return None


def _more_ready(sock: socket.socket, buffer: Any, timeout: float) -> bool:
    """Whether more body bytes can be read without waiting (buffered or on the socket)."""
    try:
        sock.settimeout(0)
        ready = buffer.peek(1)
        # A chunk's closing CRLF alone is not more: reading on would wait for
        # the next chunk's size line, holding back the event already read.
        return len(ready) > 2 or ready not in (b"", b"\r\n", b"\r", b"\n")
    except OSError:
        return False
    finally:
        try:
            sock.settimeout(timeout)
        except OSError:
            pass


def _socket_of(raw: Any) -> socket.socket | None:
    connection = getattr(raw, "connection", None)
    sock = getattr(connection, "sock", None)
    return sock if isinstance(sock, socket.socket) else None


def _short(exc: BaseException) -> str:
    """The innermost reason, without urllib3's object reprs."""
    while exc.__context__ is not None and str(exc) == "":
        exc = exc.__context__
    args = getattr(exc, "args", ())
    for arg in args:
        if isinstance(arg, BaseException):
            return _short(arg)
    reason = getattr(exc, "reason", None)
    if isinstance(reason, BaseException):
        return _short(reason)
    text = str(exc)
    if "Connection refused" in text or isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if "Name or service not known" in text or "nodename nor servname" in text:
        return "name not known"
    return text.split(": ", 1)[-1][:200] if text else type(exc).__name__


def new_session() -> requests.Session:
    """A session whose adapters never retry on their own (the loop here does)."""
    import requests
    from requests.adapters import HTTPAdapter

    session = requests.Session()
    for prefix in ("http://", "https://"):
        session.mount(prefix, HTTPAdapter(max_retries=0))
    return session


def open_stream(
    session: requests.Session,
    request: Request,
    timeouts: Timeouts,
    *,
    deadline: float | None,
    clock: Callable[[], float] = time.monotonic,
) -> Stream:
    """Send the request; return the open stream (2xx) or raise the attempt's Failure."""
    import requests

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
    except requests.exceptions.ConnectTimeout:
        if kind == "total" and connect >= wait_headers:
            raise TimeoutFailure("total", timeouts.total) from None
        raise TimeoutFailure("connect", connect) from None
    except requests.exceptions.ReadTimeout:
        raise TimeoutFailure(kind, timeouts.total if kind == "total" else wait_headers) from None
    except requests.exceptions.SSLError as exc:
        failure = NetworkFailure(f"TLS error: {_short(exc)}", reason="tls")
        failure.retryable = False  # a bad certificate does not heal in a second
        raise failure from None
    except (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
        raise NetworkFailure(f"cannot connect: {_short(exc)}", reason="connect") from None
    except requests.exceptions.InvalidURL as exc:
        raise NetworkFailure(f"invalid URL: {exc}", reason="url") from None
    stream = Stream(response, timeouts, started, deadline, clock)
    if 200 <= stream.status < 300:
        return stream
    if 300 <= stream.status < 400:
        stream.close()
        location = stream.headers.get("location", "")
        raise HTTPFailure(
            stream.status,
            f"the server redirects to {location[:500] or '(no Location)'}; "
            "redirects are not followed (the request carries the API key)",
            retryable=False,
        )
    body = stream.read_body()
    stream.close()
    raise HTTPFailure(
        stream.status,
        error_message(body, stream.content_type),
        retryable=status_retryable(stream.status, stream.headers),
        server_delay=server_delay(stream.headers),
        body=body,
    )


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
