"""`replay --serve`: the HTTP/1.1 server, its settings and its shared bookkeeping.

`ReplayServer` listens (the standard library's threading server, one daemon
thread per connection, the newest connection shed when out of descriptors),
counts requests, writes the `--log-requests` file and stops after `count`
requests or on `stop()`. Each request is answered by
`ssechat.replay.handler.ReplayHandler`. Imported only by `replay --serve`
(http.server costs start-up time). See docs/replay.md.
"""

from __future__ import annotations

import errno
import os
import re
import socket
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import IO, Any

from ssechat.capture import Capture, create_private
from ssechat.errors import NetworkError, UsageError
from ssechat.lines import json_line
from ssechat.replay.faults import Fault
from ssechat.replay.handler import ReplayHandler
from ssechat.replay.timing import Timing, ids_after


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


class _HTTPServer(ThreadingHTTPServer):
    """The listening socket of one `ReplayServer` (`replay`), which its handlers reach."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, host: str, port: int, replay: ReplayServer) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.replay = replay
        self.spare: int | None = None  # a descriptor kept free for shedding at EMFILE
        self.full_since = 0.0
        super().__init__((host, port), ReplayHandler)
        try:
            self.spare = os.open(os.devnull, os.O_RDONLY)
        except OSError:
            self.server_close()
            raise

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
            self.replay.config.log("out of file descriptors: refusing new connections for now")
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
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return  # a client went away: its business, not the server's
        self.replay.config.log(f"error while serving {client_address[0]}: {exc!r}")


class ReplayServer:
    """The HTTP server; `url` is known once built, `run()` serves until `stop()` or `count`."""

    def __init__(self, host: str, port: int, config: ServerConfig) -> None:
        if not config.captures:
            raise UsageError("nothing to serve: give at least one capture")
        self.config = config
        self._lock = threading.Lock()
        self._requests = 0
        self._finished = 0
        self.stopping = threading.Event()
        self._log_file: IO[bytes] | None = None
        self.ids = [ids_after(capture) for capture in config.captures]
        try:
            self.httpd = _HTTPServer(host, port, self)
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
