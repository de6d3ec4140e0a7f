"""Replay: a capture played back to a stream with its timing, or served over HTTP with faults.

Two consumers of `capture.Capture`:

- `replay_to_stream` writes each capture's segments (one event each) to a
  binary stream at their recorded times, or `Timing.delay` apart, scaled by
  `Timing.speed`, flushing after each one. ssechat's annotations are not
  written: the output is the stream as the server sent it, so capturing it
  again gives back the original capture.
- `ReplayServer` is a real HTTP/1.1 server (the standard library's threading
  server, one daemon thread per connection). Any GET or POST path gets
  `200 text/event-stream` with the capture sent in chunked transfer encoding,
  one chunk per event, with the same timing measured from when the request
  arrived; or the recorded status and body when the capture recorded a
  non-2xx response. A request with `Last-Event-ID: X` resumes the capture
  after the event that set id X (when one did), the way an SSE server
  continues a stream. Request i gets capture i (the last one repeats). The
  first `fault_requests` requests get the `Fault` instead: an error status,
  an abrupt close, a stall, garbage bytes or a slow trickle.

A client that goes away mid-stream ends only its own request, quietly.
http.server and socket are imported where the server is built, so the CLI
starts fast.
"""

from __future__ import annotations

import errno
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields
from http import HTTPStatus
from typing import IO, TYPE_CHECKING, Any, Final

from ssechat.capture import Capture, create_private
from ssechat.errors import NetworkError, UsageError
from ssechat.normalized import json_line
from ssechat.redact import redact_header, redact_path
from ssechat.sse import Decoder

if TYPE_CHECKING:
    import socket
    from http.server import BaseHTTPRequestHandler

# -- timing --------------------------------------------------------------------

MAX_WAIT: Final = 1e7  # seconds; a longer wait overflows the clocks (and is a typo)


@dataclass(frozen=True)
class Timing:
    """When segments are written, in seconds after the start of a response.

    `delay=None` uses the recorded times of an annotated capture (0 between
    events of a plain one); a number puts that many seconds between events,
    whatever was recorded. `speed` divides every wait; `no_delay` removes them.
    """

    speed: float = 1.0
    delay: float | None = None
    no_delay: bool = False

    def checked(self, capture: Capture, name: str) -> Capture:
        """`capture`, or UsageError when a recorded time or the delay puts a write too late."""
        last = self.schedule(capture)[-1] if capture.segments else 0.0
        if last > MAX_WAIT:
            raise UsageError(
                f"{name}: replaying it would wait {last:g} s (a `: t=` annotation or "
                f"--delay too large; at most {MAX_WAIT:g} s)"
            )
        return capture

    def schedule(self, capture: Capture) -> list[float]:
        """The write time of each segment of `capture`, non-decreasing."""
        offsets: list[float] = []
        at = 0.0
        seen_event = False
        recorded = self.delay is None and capture.timed
        for segment in capture.segments:
            if self.no_delay:
                pass
            elif recorded:
                if segment.time is not None:
                    at = max(at, segment.time / self.speed)
            elif segment.is_event and seen_event:
                at += (self.delay or 0.0) / self.speed
            seen_event = seen_event or segment.is_event
            offsets.append(at)
        return offsets


def replay_to_stream(
    captures: Iterable[Capture],
    out: IO[bytes],
    timing: Timing,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Write each capture in turn to `out`, timed, flushing after every segment."""
    for capture in captures:
        start = clock()
        for segment, at in zip(capture.segments, timing.schedule(capture), strict=True):
            wait = start + at - clock()
            if wait > 0:
                sleep(wait)
            out.write(segment.data)
            out.flush()


def ids_after(capture: Capture) -> list[str]:
    """The last event id after each segment (what a client would send to resume)."""
    decoder = Decoder()
    ids = []
    for segment in capture.segments:
        decoder.feed(segment.data)
        ids.append(decoder.last_event_id)
    return ids


def resume_point(capture: Capture, ids: Sequence[str], last_event_id: str) -> int:
    """The index of the segment to start from for a request with `Last-Event-ID`.

    0 (the whole capture) when the header is empty or no event carries that id;
    otherwise the segment after the last event that set it.
    """
    if not last_event_id:
        return 0
    for index in range(len(ids) - 1, -1, -1):
        if capture.segments[index].is_event and ids[index] == last_event_id:
            before = ids[index - 1] if index else ""
            if before != last_event_id:  # this event set the id (not merely kept it)
                return index + 1
    return 0


# -- faults --------------------------------------------------------------------

FAULT_SYNTAX: Final = (
    "status=CODE[,retry-after=S] | drop-after=N[,how=reset|eof] | "
    "stall-after=N[,for=S] | garbage-after=N | slow=BYTES_PER_S"
)

GARBAGE: Final = (
    b"\x00\x9f\xff\xfe<html><body><h1>502 Bad Gateway</h1></body></html>\xc3\x28\r\n"
    b'data: {"choices": [{"delta": {"content": "cut\x00\xff\n\n'
)
"""What `garbage-after` writes: binary, invalid UTF-8, HTML, and a data line that is not JSON."""


@dataclass(frozen=True)
class Fault:
    """What to do to a faulted request; the fields combine (status wins over the rest)."""

    status: int | None = None
    retry_after: str | None = None
    drop_after: int | None = None
    drop_how: str = "reset"
    stall_after: int | None = None
    stall_for: float | None = None  # None: until the client goes away
    garbage_after: int | None = None
    slow: float | None = None  # bytes per second

    @property
    def active(self) -> bool:
        return any(
            getattr(self, f.name) is not None
            for f in fields(self)
            if f.name not in ("drop_how", "retry_after", "stall_for")
        )

    def describe(self) -> str:
        parts: list[str] = []
        if self.status is not None:
            parts.append(f"status={self.status}")
            if self.retry_after is not None:
                parts.append(f"retry-after={self.retry_after}")
        if self.drop_after is not None:
            parts.append(f"drop-after={self.drop_after},how={self.drop_how}")
        if self.stall_after is not None:
            parts.append(f"stall-after={self.stall_after}")
            parts.append(f"for={_number(self.stall_for)}" if self.stall_for is not None else "")
        if self.garbage_after is not None:
            parts.append(f"garbage-after={self.garbage_after}")
        if self.slow is not None:
            parts.append(f"slow={_number(self.slow)}")
        return ",".join(p for p in parts if p)


def _number(value: float) -> str:
    return f"{value:g}"


def _count(key: str, value: str) -> int:
    if not re.fullmatch(r"\d+", value):
        raise UsageError(f"--fault {key}={value}: expected a whole number of events")
    return int(value)


def _seconds(key: str, value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0 or seconds == float("inf"):
        raise UsageError(f"--fault {key}={value}: expected a number of seconds")
    return seconds


def parse_faults(specs: Sequence[str]) -> Fault:
    """Merge `--fault` values (comma-separated KEY=VALUE pairs) into one Fault.

    Raises UsageError for an unknown key, a repeated key, a bad value, or a
    parameter without its fault (`retry-after` without `status`...).
    """
    values: dict[str, str] = {}
    for spec in specs:
        for part in spec.split(","):
            part = part.strip()
            if not part:
                continue
            key, sep, value = part.partition("=")
            key = key.strip().lower()
            if not sep or not value.strip():
                raise UsageError(f"--fault {part!r}: expected KEY=VALUE ({FAULT_SYNTAX})")
            if key in values:
                raise UsageError(f"--fault: {key} given twice")
            values[key] = value.strip()
    known = {"status", "retry-after", "drop-after", "how", "stall-after", "for", "garbage-after"}
    known.add("slow")
    for key in values:
        if key not in known:
            raise UsageError(f"--fault: unknown key {key!r} (expected {FAULT_SYNTAX})")
    for param, owner in (("retry-after", "status"), ("how", "drop-after"), ("for", "stall-after")):
        if param in values and owner not in values:
            raise UsageError(f"--fault: {param} needs {owner}")
    status = None
    if "status" in values:
        status = _count("status", values["status"])
        if not 300 <= status <= 599:
            raise UsageError(f"--fault status={status}: expected a status from 300 to 599")
    how = values.get("how", "reset").lower()
    if how not in ("reset", "eof"):
        raise UsageError(f"--fault how={how}: expected reset or eof")
    slow = None
    if "slow" in values:
        slow = _seconds("slow", values["slow"])
        if slow < 1:
            raise UsageError("--fault slow: expected at least 1 byte per second")
    return Fault(
        status=status,
        retry_after=_number(_seconds("retry-after", values["retry-after"]))
        if "retry-after" in values
        else None,
        drop_after=_count("drop-after", values["drop-after"]) if "drop-after" in values else None,
        drop_how=how,
        stall_after=_count("stall-after", values["stall-after"])
        if "stall-after" in values
        else None,
        stall_for=_seconds("for", values["for"]) if "for" in values else None,
        garbage_after=_count("garbage-after", values["garbage-after"])
        if "garbage-after" in values
        else None,
        slow=slow,
    )


_ERROR_KINDS: Final = {
    400: ("invalid_request_error", "invalid_request"),
    401: ("authentication_error", "invalid_api_key"),
    403: ("permission_error", "permission_denied"),
    404: ("not_found_error", "not_found"),
    408: ("timeout_error", "request_timeout"),
    409: ("conflict_error", "conflict"),
    413: ("request_too_large", "request_too_large"),
    422: ("invalid_request_error", "unprocessable_entity"),
    429: ("rate_limit_error", "rate_limit_exceeded"),
    500: ("api_error", "internal_server_error"),
    502: ("api_error", "bad_gateway"),
    503: ("overloaded_error", "service_unavailable"),
    504: ("timeout_error", "gateway_timeout"),
    529: ("overloaded_error", "overloaded"),
}


def reason_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Overloaded" if status == 529 else "Error"


def error_body(status: int) -> bytes:
    """A provider-shaped JSON error body: OpenAI's `error{message,type,code}`,
    plus Anthropic's top-level `"type": "error"`, so either SDK reads it."""
    kind, code = _ERROR_KINDS.get(
        status, ("api_error" if status >= 500 else "invalid_request_error", f"http_{status}")
    )
    message = f"ssechat replay: injected fault: {status} {reason_phrase(status)}"
    return json_line(
        {"type": "error", "error": {"message": message, "type": kind, "code": code, "param": None}}
    )


# -- request logs ----------------------------------------------------------------


def request_record(
    number: int, method: str, path: str, headers: Iterable[tuple[str, str]], body: bytes
) -> dict[str, Any]:
    """The `--log-requests` line of one request (header names lower-cased)."""
    merged: dict[str, str] = {}
    for name, value in headers:
        key = name.lower()
        safe = redact_header(name, value)
        merged[key] = f"{merged[key]}, {safe}" if key in merged else safe
    record: dict[str, Any] = {
        "request": number,
        "method": method,
        "path": redact_path(path),
        "headers": merged,
    }
    if body:
        from ssechat import jsonload

        try:
            record["body"] = jsonload.loads(body)
        except ValueError:  # not JSON, or too deep
            record["body"] = body.decode("utf-8", "replace")
    else:
        record["body"] = None
    return record


# -- the server --------------------------------------------------------------------


class ClientGone(Exception):
    """The client closed its connection; ends this request only."""


@dataclass
class ServerConfig:
    """Everything `ReplayServer` needs; `names` label the captures in log lines."""

    captures: Sequence[Capture]
    names: Sequence[str]
    timing: Timing = field(default_factory=Timing)
    fault: Fault = field(default_factory=Fault)
    fault_requests: int = 1
    count: int | None = None
    log_requests: str | None = None
    log: Callable[[str], None] = lambda line: None
    read_timeout: float = 30.0  # a connection that sends nothing this long is closed
    max_body: int = 64 * 1024 * 1024  # request bodies, in total (a chat request is a few KB)


def parse_listen(value: str) -> tuple[str, int]:
    """`[HOST:]PORT` (`[::1]:PORT` for IPv6) to (host, port); the host defaults to 127.0.0.1."""
    match = re.fullmatch(r"(?:(\[[0-9A-Fa-f:.]+\]|[^:\[\]]*):)?(\d{1,5})", value.strip())
    if not match or int(match.group(2)) > 65535:
        raise UsageError(f"--serve {value!r}: expected [HOST:]PORT, such as 8080 or 127.0.0.1:0")
    host = (match.group(1) or "127.0.0.1").strip("[]") or "127.0.0.1"
    return host, int(match.group(2))


class ReplayServer:
    """The HTTP server; `url` is known once built, `run()` serves until `stop()` or `count`."""

    def __init__(self, host: str, port: int, config: ServerConfig) -> None:
        import socket
        from http.server import ThreadingHTTPServer

        if not config.captures:
            raise UsageError("nothing to serve: give at least one capture")
        self.config = config
        self._lock = threading.Lock()
        self._requests = 0
        self._finished = 0
        self.stopping = threading.Event()
        self._log_file: IO[bytes] | None = None
        self.ids = [ids_after(capture) for capture in config.captures]
        family = socket.AF_INET6 if ":" in host else socket.AF_INET

        class Server(ThreadingHTTPServer):
            address_family = family
            daemon_threads = True
            request_queue_size = 128

            spare: int | None = None  # a descriptor kept free for shedding at EMFILE
            full_since = 0.0

            def get_request(self) -> tuple[Any, Any]:
                try:
                    return super().get_request()
                except OSError as exc:
                    if exc.errno in (errno.EMFILE, errno.ENFILE):
                        self._shed()
                    raise

            def _shed(self) -> None:
                """Out of descriptors: close the newest connection at once, and say so."""
                now = time.monotonic()
                if now - self.full_since > 5:
                    config.log("out of file descriptors: refusing new connections for now")
                self.full_since = now
                if self.spare is not None:
                    os.close(self.spare)
                    self.spare = None
                    try:
                        conn, _ = self.socket.accept()
                        conn.close()
                    except OSError:
                        pass
                    try:
                        self.spare = os.open(os.devnull, os.O_RDONLY)
                    except OSError:
                        pass
                time.sleep(0.05)  # no busy loop while the listening socket stays readable

            def server_close(self) -> None:
                super().server_close()
                if self.spare is not None:
                    os.close(self.spare)
                    self.spare = None

            def handle_error(self, request: Any, client_address: Any) -> None:
                import sys

                exc = sys.exc_info()[1]
                if isinstance(exc, (ConnectionError, TimeoutError)):
                    return  # a client went away: its business, not the server's
                config.log(f"error while serving {client_address[0]}: {exc!r}")

        try:
            self.httpd = Server((host, port), _make_handler(self))
            self.httpd.spare = os.open(os.devnull, os.O_RDONLY)
        except OSError as exc:
            raise NetworkError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
        bound_host, bound_port = (str(part) for part in self.httpd.server_address[:2])
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        self.url = f"http://{shown}:{bound_port}"
        if config.log_requests:
            try:
                self._log_file = create_private(config.log_requests, "--log-requests")
            except OSError:
                self.httpd.server_close()
                raise

    # -- bookkeeping shared by the handler threads --

    def next_request(self) -> int:
        with self._lock:
            self._requests += 1
            return self._requests

    def finished_request(self) -> None:
        with self._lock:
            self._finished += 1
            if self.config.count is not None and self._finished >= self.config.count:
                self.stopping.set()

    def write_log(self, record: dict[str, Any]) -> None:
        if self._log_file is None:
            return
        line = json_line(record)
        with self._lock:
            self._log_file.write(line)
            self._log_file.flush()

    @property
    def served(self) -> int:
        return self._finished

    # -- life cycle --

    def stop(self) -> None:
        """Ask `run()` to return (safe from a signal handler or another thread)."""
        self.stopping.set()

    def run(self) -> int:
        """Serve until stopped or `count` requests are done; returns how many were."""
        thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        thread.start()
        try:
            while not self.stopping.wait(0.1):
                pass
        finally:
            self.stopping.set()
            self.httpd.shutdown()
            self.httpd.server_close()
            if self._log_file is not None:
                self._log_file.close()
        return self._finished


class BodyTooLarge(ValueError):
    """A request body over `ServerConfig.max_body` (answered 413)."""


def _make_handler(server: ReplayServer) -> type[BaseHTTPRequestHandler]:
    import select
    import socket
    import struct
    from http.server import BaseHTTPRequestHandler

    config = server.config

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = config.read_timeout  # every read and write: idle clients are closed

        def version_string(self) -> str:
            return "ssechat-replay"

        def log_message(self, format: str, *args: Any) -> None:
            pass  # one line per request is written by _serve, not http.server's access log

        def log_error(self, format: str, *args: Any) -> None:
            # http.server answers malformed requests (400, 414, 501) itself:
            # a refusal is said on stderr, never silent.
            who = self.client_address[0]
            if format.startswith("Request timed out"):
                config.log(f"closed a connection from {who}: no request in {self.timeout:g} s")
                return
            config.log(f"refused a request from {who}: {format % args}")

        def parse_request(self) -> bool:
            # Recorded times count from when the request was sent: start the
            # clock as soon as its first line is in, before headers and body.
            self.started = time.monotonic()
            return super().parse_request()

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        # -- one request --

        def _serve(self) -> None:
            started = self.started
            try:
                body = self._read_body()
            except ConnectionError:
                self.close_connection = True
                return
            except ValueError as exc:
                status = 413 if isinstance(exc, BodyTooLarge) else 400
                self.send_error(status, f"bad request body: {exc}")  # logged by log_error
                self.close_connection = True
                return
            number = server.next_request()
            try:
                index = min(number, len(config.captures)) - 1
                capture = config.captures[index]
                fault = config.fault if number <= config.fault_requests else Fault()
                server.write_log(
                    request_record(number, self.command, self.path, self.headers.items(), body)
                )
                status = fault.status or capture.status
                note = f" (fault {fault.describe()})" if fault.active else ""
                config.log(
                    f"#{number} {self.command} {redact_path(self.path)} -> {status} "
                    f"{config.names[index]}{note}"
                )
                if fault.status is not None:
                    self._send_error(fault)
                elif not 200 <= capture.status < 300:
                    self._send_whole(capture.status, capture.content_type, capture.body())
                else:
                    last_id = self.headers.get("Last-Event-ID", "").strip()
                    first = resume_point(capture, server.ids[index], last_id)
                    self._stream(capture, first, fault, started)
            except (ConnectionError, ClientGone, TimeoutError):
                self.close_connection = True
            finally:
                server.finished_request()

        def _read_body(self) -> bytes:
            limit = config.max_body
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                return self._read_chunked(limit)
            length_field = (self.headers.get("Content-Length") or "0").strip()
            if not length_field.isdigit():
                raise ValueError(f"Content-Length {length_field[:20]!r} is not a number")
            length = int(length_field)
            if length > limit:  # read() would allocate it all up front
                raise BodyTooLarge(f"Content-Length {length} is over {limit} bytes")
            return self.rfile.read(length) if length > 0 else b""

        def _read_chunked(self, limit: int) -> bytes:
            """A chunked body, bounded in total (not only per chunk) by `limit`."""
            parts: list[bytes] = []
            total = 0
            while True:
                size_field = self.rfile.readline(1024).split(b";")[0].strip()
                if not re.fullmatch(rb"[0-9A-Fa-f]{1,16}", size_field):
                    raise ValueError("a chunk size that is not hexadecimal")
                size = int(size_field, 16)
                if size == 0:
                    for _ in range(128):  # trailers, a bounded number of them
                        if not self.rfile.readline(65536).strip():
                            return b"".join(parts)
                    raise ValueError("too many trailer lines")
                total += size
                if total > limit:
                    raise BodyTooLarge(f"a chunked body over {limit} bytes")
                parts.append(self.rfile.read(size))
                self.rfile.readline(8)

        def _send_error(self, fault: Fault) -> None:
            assert fault.status is not None
            body = error_body(fault.status)
            extra = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            self._send_whole(fault.status, "application/json", body, extra)

        def _send_whole(
            self, status: int, content_type: str, body: bytes, extra: dict[str, str] | None = None
        ) -> None:
            self.send_response(status, reason_phrase(status))
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (extra or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def _stream(self, capture: Capture, first: int, fault: Fault, started: float) -> None:
            self.send_response(200)
            self.send_header("Content-Type", capture.content_type)
            self.send_header("Cache-Control", "no-cache")
            self.send_header("X-Accel-Buffering", "no")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            events = 0
            shift = 0.0  # how long stalls have held the stream back
            schedule = config.timing.schedule(capture)
            # A resumed stream starts now, and keeps the recorded gaps from there on.
            zero = schedule[first - 1] if first else 0.0
            timed = list(zip(capture.segments, schedule, strict=True))[first:]
            for segment, at in [*timed, (None, None)]:
                if segment is None or segment.is_event:
                    if fault.stall_after == events:
                        stall_start = time.monotonic()
                        self._wait(None if fault.stall_for is None else fault.stall_for)
                        shift += time.monotonic() - stall_start
                    if fault.drop_after == events:
                        self._drop(fault.drop_how)
                        return
                    if fault.garbage_after == events:
                        self._chunk(GARBAGE, None)
                        break
                if segment is None or at is None:
                    break
                self._wait_until(started + shift + at - zero)
                self._chunk(segment.data, fault.slow)
                events += segment.is_event
            self.wfile.write(b"0\r\n\r\n")

        def _chunk(self, data: bytes, rate: float | None) -> None:
            if not data:
                return
            if rate is None:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                return
            step = max(1, int(rate / 20))  # about 20 writes a second
            begin = time.monotonic()
            for offset in range(0, len(data), step):
                piece = data[offset : offset + step]
                self._wait_until(begin + offset / rate)
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self._wait_until(begin + len(data) / rate)

        # -- waiting, while watching for the client going away --

        def _wait_until(self, deadline: float) -> None:
            self._wait(deadline - time.monotonic())

        def _wait(self, seconds: float | None) -> None:
            """Sleep `seconds` (None: until the client goes away or the server stops)."""
            deadline = None if seconds is None else time.monotonic() + seconds
            conn: socket.socket = self.connection
            while not server.stopping.is_set():
                left = 0.25 if deadline is None else min(deadline - time.monotonic(), 0.25)
                if left <= 0:
                    return
                readable, _, _ = select.select([conn], [], [], left)
                if readable:
                    try:
                        peek = conn.recv(1, socket.MSG_PEEK)
                    except OSError as exc:
                        raise ClientGone() from exc
                    if not peek:
                        raise ClientGone()
                    time.sleep(left)  # a pipelined request waits its turn
            raise ClientGone()  # the server is stopping: end the response

        def _drop(self, how: str) -> None:
            """Close the connection mid-stream: a TCP reset, or a bare EOF (FIN)."""
            self.close_connection = True
            conn: socket.socket = self.connection
            if how == "eof":
                conn.shutdown(socket.SHUT_RDWR)
                return
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.rfile.close()  # the makefile() reference would keep the socket open
            conn.close()

    return Handler
