"""A raw-socket HTTP server for tests, one mode per misbehaviour a client meets.

`HostileServer(mode, **params)` listens on 127.0.0.1 only, answers each
request with the mode's bytes written straight to the socket (no http.server
framing to correct them), records every request and counts connections. It
stops by itself: on leaving the `with` block, after `lifetime` seconds, or
after `max_connections` connections; every wait in a mode ends when it stops.

Modes (the `MODES` table): framings (`chunked`, `length`, `close`), each able
to stall after its first event; `gzip`/`deflate` with a length, chunked or
close-delimited; an unknown encoding (`br`); `redirect` to another URL;
echoes of the key (`echo-escaped`, `echo-split`); `early-hints` (103 first);
`short` (a body shorter than its Content-Length); `ids-restart` (ids, a drop,
then the stream again from its start); `silent` (accepts, never answers: a
CONNECT proxy); `json-sse` (a stream labelled application/json); `status`
(an error status with a body, keep-alive); `coze` (a chat that stalls, and
records `/v3/chat/cancel`).
"""

from __future__ import annotations

import json
import socket
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

CRLF = b"\r\n"


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def key(self) -> str:
        """The API key the client sent (Bearer, x-api-key or x-goog-api-key)."""
        auth = self.headers.get("authorization", "")
        if auth:
            return auth.split()[-1]
        return self.headers.get("x-api-key") or self.headers.get("x-goog-api-key") or ""


def chat_event(text: str | None = None, finish: str | None = None, event_id: str = "") -> bytes:
    """One OpenAI chat-completions SSE event (text delta, or the finish)."""
    delta = {"content": text} if text is not None else {}
    body = {
        "id": "c1",
        "object": "chat.completion.chunk",
        "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    head = f"id: {event_id}\n".encode() if event_id else b""
    return head + b"data: " + json.dumps(body).encode() + b"\n\n"


def chat_stream(*texts: str, ids: bool = False) -> list[bytes]:
    """A whole chat stream, one event per text, then the finish and [DONE]."""
    events = [chat_event(t, event_id=str(i + 1) if ids else "") for i, t in enumerate(texts)]
    events.append(chat_event(None, "stop", event_id=str(len(texts) + 1) if ids else ""))
    return [*events, b"data: [DONE]\n\n"]


ANSWER = ("Hello", " world", "!")


@dataclass
class HostileServer:
    mode: str
    params: dict[str, Any] = field(default_factory=dict)
    lifetime: float = 30.0
    max_connections: int = 50
    requests: list[Request] = field(default_factory=list)
    connections: int = 0
    stopped: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self._thread.join(5)
        self.sock.close()

    def wait(self, seconds: float) -> None:
        """Sleep, but no longer than the server lives."""
        self.stopped.wait(seconds)

    def _accept(self) -> None:
        end = time.monotonic() + self.lifetime
        while not self.stopped.is_set() and time.monotonic() < end:
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            with self._lock:
                self.connections += 1
                if self.connections > self.max_connections:
                    conn.close()
                    break
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()
        self.stopped.set()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        reader = conn.makefile("rb")
        try:
            for _ in range(20):  # requests on one connection
                request = _read_request(reader)
                if request is None:
                    return
                with self._lock:
                    self.requests.append(request)
                    number = len(self.requests)
                if not MODES[self.mode](self, conn, request, number):
                    return
        except OSError:
            return
        finally:
            reader.close()
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()


def _read_request(reader: Any) -> Request | None:
    line = reader.readline(65536)
    if not line.strip():
        return None
    method, path, _ = line.decode("latin-1").split(" ", 2)
    headers: dict[str, str] = {}
    for _ in range(100):
        header = reader.readline(65536).decode("latin-1")
        if not header.strip():
            break
        name, _, value = header.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length") or 0)
    body = reader.read(length) if length else b""
    return Request(method, path, headers, body)


# -- writing responses ---------------------------------------------------------------


def head(status: str, *headers: str) -> bytes:
    lines = [f"HTTP/1.1 {status}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


SSE = "Content-Type: text/event-stream"


def _events(server: HostileServer) -> list[bytes]:
    events: list[bytes] = server.params.get("events") or chat_stream(*ANSWER)
    return events


def _framed(framing: str) -> Callable[[HostileServer, socket.socket, Request, int], bool]:
    """A stream in `framing`; params: stall (seconds after the first event), events."""

    def respond(server: HostileServer, conn: socket.socket, request: Request, n: int) -> bool:
        events = _events(server)
        stall = server.params.get("stall")
        body = b"".join(events)
        if framing == "chunked":
            conn.sendall(head("200 OK", SSE, "Transfer-Encoding: chunked") + chunk(events[0]))
            if stall:
                server.wait(stall)
                return False
            conn.sendall(b"".join(chunk(e) for e in events[1:]) + b"0\r\n\r\n")
            return True
        if framing == "length":
            conn.sendall(head("200 OK", SSE, f"Content-Length: {len(body)}") + events[0])
            if stall:
                server.wait(stall)
                return False
            conn.sendall(body[len(events[0]) :])
            return True
        conn.sendall(head("200 OK", SSE, "Connection: close") + events[0])  # close-delimited
        if stall:
            server.wait(stall)
        else:
            conn.sendall(body[len(events[0]) :])
        return False

    return respond


def _compressed(encoding: str, framing: str) -> Callable[..., bool]:
    def respond(server: HostileServer, conn: socket.socket, request: Request, n: int) -> bool:
        raw = b"".join(_events(server))
        if encoding == "gzip":
            packer = zlib.compressobj(wbits=31)
        elif encoding == "deflate":
            packer = zlib.compressobj(wbits=15)
        else:
            packer = None
        body = packer.compress(raw) + packer.flush() if packer else b"\x8b\x0b\x80garbage"
        header = [SSE, f"Content-Encoding: {encoding}"]
        if framing == "length":
            conn.sendall(head("200 OK", *header, f"Content-Length: {len(body)}") + body)
            return True
        stall = server.params.get("stall")
        if stall and packer is not None:  # the first event, flushed, then nothing
            first = _events(server)[0]
            packer = zlib.compressobj(wbits=31 if encoding == "gzip" else 15)
            body = packer.compress(first) + packer.flush(zlib.Z_SYNC_FLUSH)
        if framing == "chunked":
            conn.sendall(head("200 OK", *header, "Transfer-Encoding: chunked") + chunk(body))
            if stall:
                server.wait(stall)
                return False
            conn.sendall(b"0\r\n\r\n")
            return True
        conn.sendall(head("200 OK", *header, "Connection: close") + body)
        if stall:
            server.wait(stall)
        return False

    return respond


def _redirect(server: HostileServer, conn: socket.socket, request: Request, n: int) -> bool:
    location = server.params["location"]
    conn.sendall(
        head(
            f"{server.params.get('status', 307)} Redirect",
            f"Location: {location}",
            "Content-Length: 0",
        )
    )
    return True


def _escape(text: str) -> str:
    return "".join(f"\\u{ord(c):04x}" for c in text)


def _echo_escaped(server: HostileServer, conn: socket.socket, request: Request, n: int) -> bool:
    """The key sent back \\u-escaped inside a delta, as a JSON encoder may write it."""
    key = request.key()
    event = chat_event("your key is " + key).replace(key.encode(), _escape(key).encode())
    events = [event, *chat_stream("ok")]
    body = b"".join(events)
    conn.sendall(head("200 OK", SSE, f"Content-Length: {len(body)}") + body)
    return True


def _echo_split(server: HostileServer, conn: socket.socket, request: Request, n: int) -> bool:
    """The key sent back in two deltas, cut where `params["cut"]` says (default: the middle)."""
    key = request.key()
    cut = server.params.get("cut", len(key) // 2)
    events = chat_stream("key: " + key[:cut], key[cut:] + " end")
    body = b"".join(events)
    conn.sendall(head("200 OK", SSE, f"Content-Length: {len(body)}") + body)
    return True


def _early_hints(server: HostileServer, conn: socket.socket, request: Request, n: int) -> bool:
    conn.sendall(head("103 Early Hints", "Link: </style.css>; rel=preload"))
    body = b"".join(_events(server))
    conn.sendall(head("200 OK", SSE, f"Content-Length: {len(body)}") + body)
    return True


def _short(server: HostileServer, conn: socket.socket, request: Request, n: int) -> bool:
    """A body cut before its Content-Length, then the connection closed (first `times` requests)."""
    body = b"".join(_events(server))
    if n <= server.params.get("times", 1):
        cut = body[: len(body) // 2]
        conn.sendall(head("200 OK", SSE, f"Content-Length: {len(body)}") + cut)
        return False
    conn.sendall(head("200 OK", SSE, f"Content-Length: {len(body)}") + body)
    return True


def _ids_restart(server: HostileServer, conn: socket.socket, request: Request, n: int) -> bool:
    """Events with ids; the first response drops after one, later ones start over."""
    events = chat_stream(*ANSWER, ids=True)
    conn.sendall(head("200 OK", SSE, "Transfer-Encoding: chunked"))
    if n == 1:
        conn.sendall(chunk(events[0]))
        return False  # dropped mid-body: no last chunk
    conn.sendall(b"".join(chunk(e) for e in events) + b"0\r\n\r\n")
    return True


def _silent(server: HostileServer, conn: socket.socket, request: Request, n: int) -> bool:
    server.wait(server.params.get("for", 30))
    return False


def _json_sse(server: HostileServer, conn: socket.socket, request: Request, n: int) -> bool:
    body = b"".join(_events(server))
    ctype = "Content-Type: application/json"
    conn.sendall(head("200 OK", ctype, f"Content-Length: {len(body)}") + body)
    return True


def _status(server: HostileServer, conn: socket.socket, request: Request, n: int) -> bool:
    """params: status (503), times (how many requests get it), then the stream."""
    if n <= server.params.get("times", 2):
        status = server.params.get("status", "503 Service Unavailable")
        body = server.params.get("body") or b'{"error": {"message": "busy", "type": "overloaded"}}'
        extra = server.params.get("headers", ())
        conn.sendall(
            head(status, "Content-Type: application/json", f"Content-Length: {len(body)}", *extra)
            + body
        )
        return True
    body = b"".join(_events(server))
    conn.sendall(head("200 OK", SSE, f"Content-Length: {len(body)}") + body)
    return True


def coze_events(chat_id: str = "chat1", conversation_id: str = "conv1") -> list[bytes]:
    chat = {"id": chat_id, "conversation_id": conversation_id, "status": "in_progress"}
    delta = {
        "id": "m1",
        "conversation_id": conversation_id,
        "chat_id": chat_id,
        "role": "assistant",
        "type": "answer",
        "content": "Hel",
        "content_type": "text",
    }
    return [
        b"event:conversation.chat.created\ndata:" + json.dumps(chat).encode() + b"\n\n",
        b"event:conversation.message.delta\ndata:" + json.dumps(delta).encode() + b"\n\n",
    ]


def _coze(server: HostileServer, conn: socket.socket, request: Request, n: int) -> bool:
    """/v3/chat: a chat that stalls (or drips a delta every 0.1 s: params["drip"]) after
    its first delta; /v3/chat/cancel: recorded, answered 200."""
    if request.path.startswith("/v3/chat/cancel"):
        body = json.dumps({"code": 0, "data": {"status": "canceled"}}).encode()
        ctype = "Content-Type: application/json"
        conn.sendall(head("200 OK", ctype, f"Content-Length: {len(body)}") + body)
        return True
    first, delta = coze_events()
    conn.sendall(head("200 OK", SSE, "Transfer-Encoding: chunked") + chunk(first) + chunk(delta))
    if not server.params.get("drip"):
        server.wait(server.params.get("stall", 30))
        return False
    for _ in range(300):
        server.wait(0.1)
        if server.stopped.is_set():
            break
        conn.sendall(chunk(delta))
    return False


MODES: dict[str, Callable[[HostileServer, socket.socket, Request, int], bool]] = {
    "chunked": _framed("chunked"),
    "length": _framed("length"),
    "close": _framed("close"),
    "gzip-length": _compressed("gzip", "length"),
    "deflate-length": _compressed("deflate", "length"),
    "gzip-chunked": _compressed("gzip", "chunked"),
    "gzip-close": _compressed("gzip", "close"),
    "br": _compressed("br", "length"),
    "redirect": _redirect,
    "echo-escaped": _echo_escaped,
    "echo-split": _echo_split,
    "early-hints": _early_hints,
    "short": _short,
    "ids-restart": _ids_restart,
    "silent": _silent,
    "json-sse": _json_sse,
    "status": _status,
    "coze": _coze,
}
