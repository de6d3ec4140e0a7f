"""`replay --serve`: one HTTP request, answered with its capture or its fault.

`ReplayHandler` reads the request body (bounded), picks the request's
capture and fault, logs it (`request_record`), and answers: the injected error status,
the recorded non-2xx response, or the capture as a chunked
text/event-stream at its recorded times (resumed after `Last-Event-ID`),
with the fault's drop, stall, garbage or slow trickle. A client that goes
away ends only its own request. See docs/replay.md.
"""

from __future__ import annotations

import re
import select
import socket
import struct
import time
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any

from ssechat.capture import Capture
from ssechat.redact import redact_header, redact_path
from ssechat.replay.faults import GARBAGE, Fault, error_body, reason_phrase
from ssechat.replay.timing import resume_point

if TYPE_CHECKING:
    from ssechat.replay.server import ReplayServer, ServerConfig


class ClientGone(Exception):
    """The client closed its connection; ends this request only."""


class BodyTooLarge(ValueError):
    """A request body over `ServerConfig.max_body` (answered 413)."""


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


class ReplayHandler(BaseHTTPRequestHandler):
    """One connection's requests; the `ReplayServer` is `self.server.replay`."""

    protocol_version = "HTTP/1.1"
    started = 0.0  # when the request's first line was read (parse_request)

    @property
    def replay(self) -> ReplayServer:
        replay: ReplayServer = self.server.replay  # type: ignore[attr-defined]
        return replay

    @property
    def config(self) -> ServerConfig:
        return self.replay.config

    def setup(self) -> None:
        super().setup()
        # every read and write: idle clients are closed
        self.connection.settimeout(self.config.read_timeout)

    def version_string(self) -> str:
        return "ssechat-replay"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per request is written by _serve, not http.server's access log

    def log_error(self, format: str, *args: Any) -> None:
        # http.server answers malformed requests (400, 414, 501) itself:
        # a refusal is said on stderr, never silent.
        who, log = self.client_address[0], self.config.log
        if format.startswith("Request timed out"):
            log(f"closed a connection from {who}: no request in {self.config.read_timeout:g} s")
            return
        log(f"refused a request from {who}: {format % args}")

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
        number = self.replay.next_request()
        try:
            self._answer(number, body, started)
        except (ConnectionError, ClientGone, TimeoutError):
            self.close_connection = True
        finally:
            self.replay.finished_request()

    def _answer(self, number: int, body: bytes, started: float) -> None:
        config = self.config
        index = min(number, len(config.captures)) - 1
        capture = config.captures[index]
        fault = config.fault if number <= config.fault_requests else Fault()
        self.replay.write_log(
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
            first = resume_point(capture, self.replay.ids[index], last_id)
            self._stream(capture, first, fault, started)

    def _read_body(self) -> bytes:
        limit = self.config.max_body
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

    # -- answers --

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
        schedule = self.config.timing.schedule(capture)
        # A resumed stream starts now, and keeps the recorded gaps from there on.
        zero = schedule[first - 1] if first else 0.0
        timed = list(zip(capture.segments, schedule, strict=True))[first:]
        for segment, at in [*timed, (None, None)]:
            if segment is None or segment.is_event:
                if fault.stall_after == events:
                    stall_start = time.monotonic()
                    self._wait(fault.stall_for)
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
        while not self.replay.stopping.is_set():
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
