"""`ssechat send` end to end: real subprocesses against `ssechat replay --serve` with faults.

Every fault case runs with a recognisable fake key and checks that no part of
it reaches stdout, stderr, the capture or the server's request log, and that
the folded output (deltas, with what a `retry: restart` discards dropped)
equals the answer `parse-sse` finds in the capture `--save` wrote.
"""

from __future__ import annotations

import json
import os
import pty
import signal
import socket
import stat
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EXAMPLES, default_sigint, json_lines, run_ssechat, ssechat_command

FAKE_KEY = "sk-proj-FAKEKEYzz9q8w7e6r5t4y3u2i1o0pLEAKCHECK"
KEY_ENV = {"OPENAI_API_KEY": FAKE_KEY, "ANTHROPIC_API_KEY": FAKE_KEY}
FAST = ["--backoff-base", "0.05", "--backoff-max", "0.2"]
OPENAI = EXAMPLES / "openai-text.sse"


# -- helpers -----------------------------------------------------------------------


@dataclass
class Server:
    url: str
    log: Path
    process: subprocess.Popen[bytes]

    def requests(self) -> list[dict[str, Any]]:
        # The server writes its log line when a request is done; give it a moment.
        time.sleep(0.1)
        return json_lines(self.log.read_bytes()) if self.log.exists() else []


@contextmanager
def replay(
    tmp_path: Path, *captures: Path, faults: tuple[str, ...] = (), k: int = 1
) -> Iterator[Server]:
    log = tmp_path / "requests.jsonl"
    args = [*ssechat_command(), "replay", *map(str, captures), "--serve", "127.0.0.1:0"]
    args += ["--log-requests", str(log), "--fault-requests", str(k)]
    for fault in faults:
        args += ["--fault", fault]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().decode().strip()
        assert url.startswith("http://127.0.0.1:"), url
        yield Server(url, log, process)
    finally:
        process.terminate()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


def send(url: str, *args: str, timeout: float = 60, env: dict[str, str] | None = None) -> Any:
    return run_ssechat(
        ["send", "--base-url", url, *FAST, *args],
        timeout=timeout,
        env={**KEY_ENV, **(env or {})},
    )


def fold(out: bytes) -> str:
    """The answer a consumer folds from JSON lines: a restart drops what came before."""
    text: list[str] = []
    for line in json_lines(out):
        if line.get("type") == "retry" and line["resume"] == "restart":
            text = []
        elif line.get("type") == "delta" and "index" not in line:
            text.append(line["text"])
    return "".join(text)


def answer_of(capture: Path) -> str:
    """What parse-sse finds in a capture (the reference answer)."""
    result = run_ssechat(["parse-sse", str(capture)])
    return fold(result.stdout)


def retries(out: bytes) -> list[dict[str, Any]]:
    return [line for line in json_lines(out) if line.get("type") == "retry"]


def assert_no_secret(result: Any, *files: Path) -> None:
    fragments = [FAKE_KEY, FAKE_KEY[-8:], FAKE_KEY[8:20], "LEAKCHECK"]
    places = {"stdout": result.stdout, "stderr": result.stderr}
    for path in files:
        if path.exists():
            places[str(path)] = path.read_bytes()
    for name, data in places.items():
        for fragment in fragments:
            assert fragment.encode() not in data, f"key fragment {fragment!r} in {name}"


EXPECTED = answer_of(OPENAI) if OPENAI.exists() else ""


# -- the fault matrix -------------------------------------------------------------------


@pytest.mark.parametrize("resume", ["auto", "restart"])
def test_drop_then_restart(tmp_path: Path, resume: str) -> None:
    capture = tmp_path / "cap.sse"
    with replay(tmp_path, OPENAI, faults=("drop-after=3",)) as server:
        result = send(server.url, "--resume", resume, "--save", str(capture), "hello")
        requests = server.requests()
    assert result.returncode == 0, result.stderr
    assert [r["resume"] for r in retries(result.stdout)] == ["restart"]
    assert fold(result.stdout) == answer_of(capture) == EXPECTED
    assert b"retry 1" in result.stderr
    assert len(requests) == 2
    assert stat.S_IMODE(capture.stat().st_mode) == 0o600
    assert_no_secret(result, capture, server.log)


def test_events_mode_writes_the_streams_plain_events(tmp_path: Path) -> None:
    """`send --events` gives what `parse-sse --events` gives on the same bytes."""
    capture = tmp_path / "cap.sse"
    with replay(tmp_path, OPENAI) as server:
        result = send(server.url, "--events", "--save", str(capture), "hello")
    assert result.returncode == 0, result.stderr
    expected = run_ssechat(["parse-sse", "--events", str(OPENAI)]).stdout
    assert result.stdout == expected
    assert run_ssechat(["parse-sse", "--events", str(capture)]).stdout == expected


def test_drop_with_resume_off_keeps_the_partial_output(tmp_path: Path) -> None:
    capture = tmp_path / "cap.sse"
    with replay(tmp_path, OPENAI, faults=("drop-after=3",)) as server:
        result = send(server.url, "--resume", "off", "--save", str(capture), "hello")
    assert result.returncode == 6, result.stderr
    lines = json_lines(result.stdout)
    assert lines[-1]["type"] == "error" and lines[-1]["code"] == "truncated"
    assert EXPECTED.startswith(fold(result.stdout)) and fold(result.stdout)
    assert fold(result.stdout) == answer_of(capture)
    assert_no_secret(result, capture, server.log)


def test_drop_in_text_mode_stops_with_the_partial_text(tmp_path: Path) -> None:
    with replay(tmp_path, OPENAI, faults=("drop-after=3",)) as server:
        result = send(server.url, "--text", "hello")
    assert result.returncode == 6
    partial = result.stdout.decode().rstrip("\n")
    assert partial and EXPECTED.startswith(partial) and partial != EXPECTED
    assert_no_secret(result, server.log)


def test_drop_before_output_is_retried_even_in_text_mode(tmp_path: Path) -> None:
    with replay(tmp_path, OPENAI, faults=("drop-after=0",)) as server:
        result = send(server.url, "--text", "hello")
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode() == EXPECTED + "\n"


def test_final_holds_exactly_one_answer_across_a_drop(tmp_path: Path) -> None:
    with replay(tmp_path, OPENAI, faults=("drop-after=4",)) as server:
        result = send(server.url, "--final", "hello")
        text = send(server.url, "--final", "--text", "hello")
    assert result.returncode == 0, result.stderr
    (answer,) = json_lines(result.stdout)
    assert answer["text"] == EXPECTED
    assert answer["finish_reason"] == "stop"
    assert answer["usage"]["output_tokens"] == 7
    assert text.stdout.decode() == EXPECTED + "\n"


def test_stall_longer_than_the_idle_timeout(tmp_path: Path) -> None:
    capture = tmp_path / "cap.sse"
    with replay(tmp_path, OPENAI, faults=("stall-after=2,for=5",)) as server:
        started = time.monotonic()
        result = send(server.url, "--idle-timeout", "0.5", "--save", str(capture), "hi")
        elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert [r["reason"] for r in retries(result.stdout)] == ["idle timeout"]
    assert fold(result.stdout) == answer_of(capture) == EXPECTED
    assert elapsed < 4
    assert_no_secret(result, capture, server.log)


def test_429_retry_after_is_honoured(tmp_path: Path) -> None:
    capture = tmp_path / "cap.sse"
    with replay(tmp_path, OPENAI, faults=("status=429,retry-after=1",)) as server:
        started = time.monotonic()
        result = send(server.url, "--save", str(capture), "hi")
        elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    (retry,) = retries(result.stdout)
    assert retry["reason"] == "http 429" and retry["delay"] == 1.0
    assert elapsed >= 1.0
    assert fold(result.stdout) == answer_of(capture) == EXPECTED
    assert_no_secret(result, capture, server.log)


@pytest.mark.parametrize(("status", "times"), [(503, 3), (529, 1), (500, 1), (408, 1)])
def test_retryable_status_then_success(tmp_path: Path, status: int, times: int) -> None:
    capture = tmp_path / "cap.sse"
    with replay(tmp_path, OPENAI, faults=(f"status={status}",), k=times) as server:
        result = send(server.url, "--save", str(capture), "hi")
        requests = server.requests()
    assert result.returncode == 0, result.stderr
    assert [r["reason"] for r in retries(result.stdout)] == [f"http {status}"] * times
    assert len(requests) == times + 1
    assert fold(result.stdout) == answer_of(capture) == EXPECTED
    assert_no_secret(result, capture, server.log)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_final_status_is_not_retried(tmp_path: Path, status: int) -> None:
    capture = tmp_path / "cap.sse"
    with replay(tmp_path, OPENAI, faults=(f"status={status}",)) as server:
        result = send(server.url, "--save", str(capture), "hi")
        requests = server.requests()
    assert result.returncode == 4
    assert f"HTTP {status}".encode() in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert len(requests) == 1
    assert result.stdout == b""
    assert capture.read_bytes().startswith(f": ssechat-capture status={status}".encode())
    assert_no_secret(result, capture, server.log)


def test_retries_exhausted(tmp_path: Path) -> None:
    with replay(tmp_path, OPENAI, faults=("status=503",), k=10) as server:
        result = send(server.url, "--retries", "2", "hi")
        requests = server.requests()
    assert result.returncode == 4
    assert len(retries(result.stdout)) == 2
    assert len(requests) == 3
    assert_no_secret(result, server.log)


def test_connection_refused_after_retries_with_backoff(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    result = run_ssechat(
        [
            *("send", "--base-url", f"http://127.0.0.1:{port}", "--retries", "3"),
            *("--backoff-base", "0.2", "--backoff-max", "1", "hi"),
        ],
        env=KEY_ENV,
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 6
    delays = [r["delay"] for r in retries(result.stdout)]
    assert len(delays) == 3
    assert all(0 <= d <= cap for d, cap in zip(delays, [0.2, 0.4, 0.8], strict=True))
    assert elapsed >= sum(delays)
    assert b"connection refused" in result.stderr
    assert_no_secret(result)


def test_total_deadline(tmp_path: Path) -> None:
    with replay(tmp_path, OPENAI, faults=("stall-after=2",)) as server:
        started = time.monotonic()
        result = send(server.url, "--timeout", "1", "hi")
        elapsed = time.monotonic() - started
    assert result.returncode == 5
    assert b"total timeout" in result.stderr
    assert 1.0 <= elapsed < 5
    assert_no_secret(result, server.log)


def test_overload_event_inside_the_stream_is_retried(tmp_path: Path) -> None:
    overloaded = tmp_path / "overloaded.sse"
    overloaded.write_text(
        "event: message_start\n"
        'data: {"type":"message_start","message":{"id":"m1","model":"claude","usage":'
        '{"input_tokens":3,"output_tokens":0}}}\n\n'
        "event: content_block_start\n"
        'data: {"type":"content_block_start","index":0,'
        '"content_block":{"type":"text","text":""}}\n\n'
        "event: content_block_delta\n"
        'data: {"type":"content_block_delta","index":0,'
        '"delta":{"type":"text_delta","text":"Hel"}}\n\n'
        "event: error\n"
        'data: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n'
    )
    good = EXAMPLES / "anthropic-text.sse"
    capture = tmp_path / "cap.sse"
    with replay(tmp_path, overloaded, good, k=0) as server:
        # A restart (with auto, this answer would be continued by a prefill: see below).
        result = send(
            server.url, "-p", "anthropic", "--resume", "restart", "--save", str(capture), "hi"
        )
    assert result.returncode == 0, result.stderr
    assert [r["reason"] for r in retries(result.stdout)] == ["overloaded_error"]
    assert fold(result.stdout) == answer_of(capture) == answer_of(good)
    assert_no_secret(result, capture, server.log)


def test_error_event_not_retryable_exits_3(tmp_path: Path) -> None:
    failed = tmp_path / "failed.sse"
    failed.write_text(
        "event: message_start\n"
        'data: {"type":"message_start","message":{"id":"m1","model":"claude"}}\n\n'
        "event: error\n"
        'data: {"type":"error","error":{"type":"invalid_request_error","message":"Nope"}}\n\n'
    )
    with replay(tmp_path, failed, k=0) as server:
        result = send(server.url, "-p", "anthropic", "hi")
        requests = server.requests()
    assert result.returncode == 3
    assert b"Nope" in result.stderr
    assert len(requests) == 1


# -- Last-Event-ID continuation (replay has no ids: a small server of our own) ---------

ID_EVENTS = [
    f'id: {i}\ndata: {{"choices":[{{"index":0,"delta":{{"content":"w{i} "}}}}]}}\n\n'
    for i in range(1, 7)
]
ID_END = 'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'


@contextmanager
def resuming_server() -> Iterator[tuple[str, list[str | None]]]:
    """Drops the first connection after 3 events; continues after Last-Event-ID."""
    seen: list[str | None] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            last = self.headers.get("Last-Event-ID")
            seen.append(last)
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            start = int(last) if last else 0
            for event in ID_EVENTS[start:]:
                self.wfile.write(event.encode())
                self.wfile.flush()
                if len(seen) == 1 and event.startswith("id: 3\n"):
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
            self.wfile.write(ID_END.encode())

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("mode", [[], ["--text"]])
def test_last_event_id_continues_the_answer(mode: list[str]) -> None:
    with resuming_server() as (url, seen):
        result = send(url, *mode, "hi")
    assert result.returncode == 0, result.stderr
    assert seen == [None, "3"]
    full = "".join(f"w{i} " for i in range(1, 7))
    if mode:
        assert result.stdout.decode() == full + "\n"
    else:
        assert [r["resume"] for r in retries(result.stdout)] == ["continue"]
        assert fold(result.stdout) == full
        assert sum(1 for line in json_lines(result.stdout) if line["type"] == "start") == 1


# -- continuing an answer: Anthropic prefill, Responses background mode ------------------


def anthropic_stream(message_id: str, texts: list[str], *, cut: bool = False) -> str:
    """An Anthropic Messages stream of these text deltas (3 events come before them).

    `cut`: the stream stops after the deltas (no block stop, no message_stop).
    """
    events = [
        {
            "type": "message_start",
            "message": {
                "id": message_id,
                "type": "message",
                "role": "assistant",
                "model": "claude-test",
                "content": [],
                "usage": {"input_tokens": 10, "output_tokens": 1},
            },
        },
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "ping"},
    ]
    events += [
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": t}}
        for t in texts
    ]
    if not cut:
        events += [
            {"type": "content_block_stop", "index": 0},
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn"},
                "usage": {"output_tokens": len(texts)},
            },
            {"type": "message_stop"},
        ]
    return "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events)


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def one_response(out: bytes) -> list[dict[str, Any]]:
    """The JSON lines, checked to hold one response: one start first, one done last."""
    lines = json_lines(out)
    kinds = [line["type"] for line in lines]
    assert kinds.count("start") == 1 and kinds[0] == "start", kinds
    assert kinds.count("done") == 1 and kinds[-1] == "done", kinds
    assert "error" not in kinds, kinds
    return lines


PREFILL_CASES = {
    # name: (deltas of the first stream, how many arrive before the drop,
    #        the prefill sent, the continuation's deltas, the answer written)
    "plain": (
        ["Hello", "! Streams", " end with", " message_stop."],
        2,
        "Hello! Streams",
        [" end with", " stop."],
        "Hello! Streams end with stop.",
    ),
    "trailing-space": (
        ["Hello! ", "Streams end ", "with stop."],
        2,
        "Hello! Streams end",
        [" with", " stop."],
        "Hello! Streams end with stop.",
    ),
    "trailing-newlines": (
        ["Intro:\n\n", "- one"],
        1,
        "Intro:",
        ["\n\n- one", "\n- two"],
        "Intro:\n\n- one\n- two",
    ),
    "newlines-split": (["Intro:\n\n", "- one"], 1, "Intro:", ["\n", "\n- one"], "Intro:\n\n- one"),
    # The continuation does not repeat the space: the space written stays.
    "other-whitespace": (["Intro: ", "x"], 1, "Intro:", ["\n- one"], "Intro: \n- one"),
}


@pytest.mark.parametrize(
    ("case", "mode"),
    [(case, []) for case in PREFILL_CASES]
    + [(case, [flag]) for case in ("plain", "trailing-newlines") for flag in ("--text", "--final")],
)
def test_anthropic_drop_continues_by_prefilling_the_partial_answer(
    tmp_path: Path, case: str, mode: list[str]
) -> None:
    first, arrived, prefill, rest, full = PREFILL_CASES[case]
    cut = write(tmp_path / "first.sse", anthropic_stream("msg_1", first))
    cont = write(tmp_path / "cont.sse", anthropic_stream("msg_2", rest))
    capture = tmp_path / "cap.sse"
    with replay(tmp_path, cut, cont, faults=(f"drop-after={3 + arrived}",)) as server:
        result = send(server.url, "-p", "anthropic", *mode, "--save", str(capture), "hi")
        requests = server.requests()
    assert result.returncode == 0, result.stderr
    assert [r["path"] for r in requests] == ["/v1/messages"] * 2
    assert requests[0]["body"]["messages"] == [{"role": "user", "content": "hi"}]
    assert requests[1]["body"]["messages"] == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": prefill},
    ]
    assert b"continuing the answer" in result.stderr
    if mode == ["--text"]:
        assert result.stdout.decode() == full + "\n"
    elif mode == ["--final"]:
        (answer,) = json_lines(result.stdout)
        assert answer["text"] == full
        assert answer["finish_reason"] == "end_turn"
    else:
        lines = one_response(result.stdout)
        assert [r["resume"] for r in retries(result.stdout)] == ["continue"]
        assert fold(result.stdout) == full
        assert lines[0]["id"] == "msg_1"
    # The capture holds what the server sent: the cut stream, then the continuation.
    assert capture.read_bytes().count(b"event: message_start") == 2
    assert_no_secret(result, capture, server.log)


OVERLOADED = (
    "event: error\n"
    'data: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n'
)


@pytest.mark.parametrize("mode", [[], ["--final", "--text"]])
def test_overload_event_is_healed_by_a_prefill(tmp_path: Path, mode: list[str]) -> None:
    first = anthropic_stream("msg_1", ["Streams", " end"], cut=True) + OVERLOADED
    overloaded = write(tmp_path / "overloaded.sse", first)
    cont = write(tmp_path / "cont.sse", anthropic_stream("msg_2", [" with", " message_stop."]))
    with replay(tmp_path, overloaded, cont, k=0) as server:
        result = send(server.url, "-p", "anthropic", *mode, "hi")
        requests = server.requests()
    assert result.returncode == 0, result.stderr
    assert requests[1]["body"]["messages"][-1] == {"role": "assistant", "content": "Streams end"}
    assert b"after overloaded_error (continuing the answer)" in result.stderr
    if mode:
        assert result.stdout.decode() == "Streams end with message_stop.\n"
        return
    lines = one_response(result.stdout)
    (retry,) = retries(result.stdout)
    assert retry["reason"] == "overloaded_error" and retry["resume"] == "continue"
    assert fold(result.stdout) == "Streams end with message_stop."
    # The usage is the last request's (its input holds the prefill).
    usage = [line for line in lines if line["type"] == "usage"]
    assert usage == [{"type": "usage", "input_tokens": 10, "output_tokens": 2}]


def test_an_overload_that_is_not_retried_ends_with_the_error_then_done(tmp_path: Path) -> None:
    first = anthropic_stream("msg_1", ["Streams"], cut=True) + OVERLOADED
    with replay(tmp_path, write(tmp_path / "o.sse", first), k=0) as server:
        result = send(server.url, "-p", "anthropic", "--retries", "0", "hi")
    assert result.returncode == 3
    kinds = [line["type"] for line in json_lines(result.stdout)]
    assert kinds == ["start", "delta", "error", "usage", "done"]  # as parse-sse: done is last


def test_an_unfinished_tool_use_is_restarted_not_prefilled(tmp_path: Path) -> None:
    events = [
        {"type": "content_block_stop", "index": 0},
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}},
        },
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": '{"city": "Pa'},
        },
    ]
    first = anthropic_stream("msg_1", ["Let me check."], cut=True)
    first += "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events)
    good = EXAMPLES / "anthropic-text.sse"
    with replay(
        tmp_path, write(tmp_path / "tool.sse", first), good, faults=("drop-after=7",)
    ) as server:
        result = send(server.url, "-p", "anthropic", "hi")
        requests = server.requests()
    assert result.returncode == 0, result.stderr
    assert [r["resume"] for r in retries(result.stdout)] == ["restart"]
    assert requests[1]["body"]["messages"] == [{"role": "user", "content": "hi"}]
    assert fold(result.stdout) == answer_of(good)


def test_anthropic_raw_output_is_not_prefilled(tmp_path: Path) -> None:
    cut = write(tmp_path / "first.sse", anthropic_stream("msg_1", ["Hello", " there"]))
    with replay(tmp_path, cut, faults=("drop-after=4",)) as server:
        result = send(server.url, "-p", "anthropic", "--raw", "hi")
        requests = server.requests()
    assert result.returncode == 6
    assert len(requests) == 1
    assert result.stdout.count(b"text_delta") == 1


RESPONSE_WORDS = ["Streams", " can", " be", " read", " again", " by", " id", "."]


def responses_stream(response_id: str = "resp_bg1") -> list[str]:
    """A background Responses API stream, one string per event (5 come before the text)."""
    response = {"id": response_id, "object": "response", "model": "gpt-test", "status": "queued"}
    part = {"item_id": "msg_1", "output_index": 0, "content_index": 0}
    events: list[tuple[str, dict[str, Any]]] = [
        ("response.created", {"response": response}),
        ("response.queued", {"response": response}),
        ("response.in_progress", {"response": {**response, "status": "in_progress"}}),
        (
            "response.output_item.added",
            {"output_index": 0, "item": {"id": "msg_1", "type": "message", "content": []}},
        ),
        ("response.content_part.added", {**part, "part": {"type": "output_text", "text": ""}}),
    ]
    events += [("response.output_text.delta", {**part, "delta": w}) for w in RESPONSE_WORDS]
    usage = {"input_tokens": 5, "output_tokens": 8, "total_tokens": 13}
    events += [
        ("response.output_text.done", {**part, "text": "".join(RESPONSE_WORDS)}),
        ("response.completed", {"response": {**response, "status": "completed", "usage": usage}}),
    ]
    return [
        f"event: {kind}\ndata: {json.dumps({'type': kind, **data, 'sequence_number': n})}\n\n"
        for n, (kind, data) in enumerate(events)
    ]


@pytest.mark.parametrize("how", ["--background", "--body"])
@pytest.mark.parametrize("mode", [[], ["--text"], ["--final"]])
def test_responses_background_continues_with_starting_after(
    tmp_path: Path, how: str, mode: list[str]
) -> None:
    stream = responses_stream()
    seen = 7  # two words arrive before the drop
    full = write(tmp_path / "full.sse", "".join(stream))
    # What GET /responses/{id}?stream=true&starting_after=6 answers: the events after 6.
    rest = write(tmp_path / "rest.sse", "".join(stream[seen:]))
    body = tmp_path / "body.json"
    body.write_text(json.dumps({"model": "gpt-test", "input": "hi", "background": True}))
    asked = ["--background", "hi"] if how == "--background" else ["--body", str(body)]
    with replay(tmp_path, full, rest, faults=(f"drop-after={seen}",)) as server:
        result = send(server.url, "-p", "openai-responses", *mode, *asked)
        requests = server.requests()
    assert result.returncode == 0, result.stderr
    assert [(r["method"], r["path"]) for r in requests] == [
        ("POST", "/responses"),
        ("GET", f"/responses/resp_bg1?stream=true&starting_after={seen - 1}"),
    ]
    assert requests[0]["body"]["background"] is True
    assert requests[1]["body"] is None
    assert requests[1]["headers"]["authorization"] == "Bearer ***"
    answer = "".join(RESPONSE_WORDS)
    if mode == ["--text"]:
        assert result.stdout.decode() == answer + "\n"
    elif mode == ["--final"]:
        (final,) = json_lines(result.stdout)
        assert final["text"] == answer and final["finish_reason"] == "completed"
    else:
        lines = one_response(result.stdout)
        assert [r["resume"] for r in retries(result.stdout)] == ["continue"]
        assert fold(result.stdout) == answer
        assert lines[0]["id"] == "resp_bg1"
    assert_no_secret(result, server.log)


def test_responses_continuation_drops_events_it_already_had(tmp_path: Path) -> None:
    stream = responses_stream()
    full = write(tmp_path / "full.sse", "".join(stream))
    # A server that answers starting_after from too early (and repeats the start).
    rest = write(tmp_path / "rest.sse", "".join(stream[:1] + stream[4:]))
    with replay(tmp_path, full, rest, faults=("drop-after=8",)) as server:
        result = send(server.url, "-p", "openai-responses", "--background", "hi")
    assert result.returncode == 0, result.stderr
    one_response(result.stdout)
    assert fold(result.stdout) == "".join(RESPONSE_WORDS)


def test_responses_without_background_restart(tmp_path: Path) -> None:
    full = write(tmp_path / "full.sse", "".join(responses_stream()))
    with replay(tmp_path, full, faults=("drop-after=7",)) as server:
        result = send(server.url, "-p", "openai-responses", "hi")
        requests = server.requests()
    assert result.returncode == 0, result.stderr
    assert [r["resume"] for r in retries(result.stdout)] == ["restart"]
    assert [r["method"] for r in requests] == ["POST", "POST"]
    assert fold(result.stdout) == "".join(RESPONSE_WORDS)


def test_background_is_refused_for_other_providers() -> None:
    result = run_ssechat(["send", "-p", "anthropic", "--background", "hi"], env=KEY_ENV)
    assert result.returncode == 2
    assert b"--background" in result.stderr


# -- Ctrl-C, input, keys, requests --------------------------------------------------------


def test_ctrl_c_exits_130_with_the_capture_written(tmp_path: Path) -> None:
    capture = tmp_path / "cap.sse"
    with replay(tmp_path, OPENAI, faults=("stall-after=3",)) as server:
        process = subprocess.Popen(
            [*ssechat_command(), "send", "--base-url", server.url, "--save", str(capture), "hi"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, **KEY_ENV},
            preexec_fn=default_sigint,
        )
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(3)]
        process.send_signal(signal.SIGINT)
        rest, err = process.communicate(timeout=10)
    assert process.returncode == 130, err
    assert all(lines)
    saved = capture.read_bytes()
    assert saved.startswith(b": ssechat-capture status=200")
    assert saved.count(b"\ndata: ") + saved.startswith(b"data: ") >= 3
    assert b"Traceback" not in err
    assert FAKE_KEY.encode() not in saved + err + rest


def test_prompt_from_stdin_and_headers(tmp_path: Path) -> None:
    with replay(tmp_path, OPENAI) as server:
        result = run_ssechat(
            ["send", "--base-url", server.url, "-H", "X-Access-Code: open sesame", "-s", "sys"],
            input=b"What is the capital?\n",
            env=KEY_ENV,
        )
        (request,) = server.requests()
    assert result.returncode == 0, result.stderr
    assert request["path"] == "/chat/completions"
    assert request["headers"]["x-access-code"] == "***"  # a secret by its name, not logged
    assert request["body"]["messages"][-1] == {"role": "user", "content": "What is the capital?"}
    assert request["body"]["stream"] is True
    assert_no_secret(result, server.log)


def test_body_from_stdin_is_sent_with_streaming_forced(tmp_path: Path) -> None:
    body = {"model": "local", "messages": [{"role": "user", "content": "x"}], "stream": False}
    with replay(tmp_path, OPENAI) as server:
        result = run_ssechat(
            ["send", "--base-url", server.url, "--body", "-"],
            input=json.dumps(body).encode(),
            env=KEY_ENV,
        )
        (request,) = server.requests()
    assert result.returncode == 0, result.stderr
    assert request["body"] == {**body, "stream": True}


def test_tools_and_json_flags_reach_the_request(tmp_path: Path) -> None:
    tools = tmp_path / "tools.json"
    tools.write_text(json.dumps([{"name": "f", "parameters": {"type": "object"}}]))
    with replay(tmp_path, OPENAI) as server:
        result = send(server.url, "--tools", str(tools), "--json", "hi")
        (request,) = server.requests()
    assert result.returncode == 0, result.stderr
    assert request["body"]["tools"][0]["function"]["name"] == "f"
    assert request["body"]["response_format"] == {"type": "json_object"}


def test_missing_key_is_a_usage_error() -> None:
    env = {k: v for k, v in os.environ.items() if "API_KEY" not in k}
    result = subprocess.run(
        [*ssechat_command(), "send", "-p", "anthropic", "hi"],
        capture_output=True,
        env=env,
        timeout=30,
        input=b"",
    )
    assert result.returncode == 2
    assert b"ANTHROPIC_API_KEY" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_terminal_without_prompt_is_a_usage_error() -> None:
    leader, follower = pty.openpty()
    try:
        result = subprocess.run(
            [*ssechat_command(), "send"],
            stdin=follower,
            capture_output=True,
            env={**os.environ, **KEY_ENV},
            timeout=30,
        )
    finally:
        os.close(leader)
        os.close(follower)
    assert result.returncode == 2
    assert b"no prompt" in result.stderr


def test_debug_output_never_shows_the_key(tmp_path: Path) -> None:
    with replay(tmp_path, OPENAI, faults=("status=401",)) as server:
        result = send(server.url, "--debug", "hi")
    assert result.returncode == 4
    assert b"Authorization: Bearer ***" in result.stderr
    assert_no_secret(result, server.log)


def test_provider_names_agree() -> None:
    from ssechat.cli.send import PROVIDER_NAMES
    from ssechat.providers import PROVIDERS

    assert list(PROVIDER_NAMES) == list(PROVIDERS)


def test_version_does_not_import_requests() -> None:
    result = subprocess.run(
        [
            "python",
            "-c",
            "import sys, ssechat.cli; "
            "print('requests' in sys.modules, 'ssechat.providers' in sys.modules)",
        ],
        capture_output=True,
        timeout=30,
    )
    assert result.stdout.split() == [b"False", b"False"]
