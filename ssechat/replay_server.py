"""`replay --serve`: captures served over HTTP/1.1, with faults, to clients good and bad.

`ReplayServer` is a real HTTP/1.1 server (the standard library's threading
server, one daemon thread per connection). Any GET or POST path gets
`200 text/event-stream` with the capture sent in chunked transfer encoding,
one chunk per event, with the same timing measured from when the request
arrived; or the recorded status and body when the capture recorded a
non-2xx response. A request with `Last-Event-ID: X` resumes the capture
after the event that set id X (when one did), the way an SSE server
continues a stream. Request i gets capture i (the last one repeats). The
first `fault_requests` requests get the `Fault` instead: an error status,
an abrupt close, a stall, garbage bytes or a slow trickle.

Against bad clients: a read timeout per connection (`read_timeout`), no
busy loop out of file descriptors (the newest connection is shed), request
bodies bounded in total (`max_body`, 413). A client that goes away
mid-stream ends only its own request, quietly. http.server and socket are
imported where the server is built, so the CLI starts fast.
"""

from __future__ import annotations

import errno
import os
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

from ssechat.capture import Capture, create_private
from ssechat.errors import NetworkError, UsageError
from ssechat.normalized import json_line
from ssechat.redact import redact_path
from ssechat.replay import (
    GARBAGE,
    Fault,
    Timing,
    error_body,
    ids_after,
    reason_phrase,
    request_record,
    resume_point,
)

if TYPE_CHECKING:
    import socket
    from http.server import BaseHTTPRequestHandler


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

    def __init__(self, host: str, port: int, config: ServerConfig) -> None:  # noqa: C901
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


def _make_handler(server: ReplayServer) -> type[BaseHTTPRequestHandler]:  # noqa: C901
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
