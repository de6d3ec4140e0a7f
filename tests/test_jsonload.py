"""Depth-proof JSON: too deep is invalid JSON at every entry point, never a crash.

orjson refuses nesting past 1024 levels and the standard library raises
RecursionError; `ssechat.jsonload` makes both the ValueError of any invalid
JSON. Each place ssechat reads JSON from outside is run as a user runs it
(the installed command, a real local server): the normal error and status,
and nothing written before is lost.
"""

from __future__ import annotations

import json
import subprocess
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ssechat import jsonload
from tests.conftest import EXAMPLES, json_lines, run_ssechat, ssechat_command

DEEP = "[" * 100_000 + "]" * 100_000
# Too deep on every Python: 3.13's standard library parses 3000 levels (its C
# recursion limit is not sys.getrecursionlimit()), 3.10 to 3.12 stop near 1000.
DEEP_OBJECT = '{"a":' * 100_000 + "1" + "}" * 100_000
KEYS = {"OPENAI_API_KEY": "sk-test-deep"}


def test_too_deep_is_a_value_error_and_the_rest_is_as_json_says() -> None:
    for text in (DEEP, DEEP_OBJECT, DEEP.encode()):
        with pytest.raises(ValueError, match="too deeply"):
            jsonload.loads(text)
    assert jsonload.loads('"\\ud800"') == "\ud800"  # a lone surrogate: the standard library
    assert jsonload.loads("[1, 2]") == [1, 2]
    with pytest.raises(ValueError):
        jsonload.loads("{")


def test_a_deep_event_is_invalid_json_and_what_came_before_is_written() -> None:
    deep = b'data: {"choices":[{"index":0,"delta":{}}],"x":' + DEEP.encode() + b"}\n\n"
    data = (EXAMPLES / "openai-text.sse").read_bytes()
    at = data.index(b"data: [DONE]")
    proc = run_ssechat(["parse-sse"], data[:at] + deep + data[at:])
    lines = json_lines(proc.stdout)
    alone = json_lines(run_ssechat(["parse-sse"], data).stdout)
    error = next(n for n, line in enumerate(lines) if line["type"] == "error")
    assert lines[error]["code"] == "invalid_json" and proc.returncode == 3
    assert lines[:error] + lines[error + 1 :] == alone  # nothing lost around it
    assert b"Traceback" not in proc.stderr and b"internal error" not in proc.stderr
    first = run_ssechat(["parse-sse"], deep)  # before any dialect is known
    assert first.returncode == 0 and b"Traceback" not in first.stderr
    assert json_lines(first.stdout)[0]["data"].startswith('{"choices"')


def test_deep_option_files_are_usage_errors(tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text(DEEP)
    for option in ("--body", "--tools"):
        args = ["send", "--base-url", "http://127.0.0.1:9", option, str(deep)]
        proc = run_ssechat([*args] if option == "--body" else [*args, "hi"], env=KEYS)
        assert proc.returncode == 2, (option, proc.stderr)
        assert b"not valid JSON" in proc.stderr and b"Traceback" not in proc.stderr


def test_repair_json_lines_field_goes_on_after_a_deep_line() -> None:
    lines = b'{"text":"{\\"a\\": 1,}"}\n{"text":' + DEEP.encode() + b'}\n{"text":"[1,2"}\n'
    proc = run_ssechat(["repair-json", "--lines", "--field", "text"], lines)
    out = proc.stdout.split(b"\n")
    assert json.loads(out[0]) == {"text": {"a": 1}}
    assert out[1] == lines.split(b"\n")[1]  # written unchanged
    assert json.loads(out[2]) == {"text": [1, 2]}
    assert proc.returncode == 3 and b"line 2" in proc.stderr and b"Traceback" not in proc.stderr


class _DeepError(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        body = ('{"error":' + DEEP + "}").encode()
        self.send_response(400)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def _server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _DeepError)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_deep_http_error_body_is_an_http_error() -> None:
    with _server() as url:
        proc = run_ssechat(["send", "--base-url", url, "--retries", "0", "hi"], env=KEYS)
    assert proc.returncode == 4, proc.stderr
    assert b"400" in proc.stderr and b"Traceback" not in proc.stderr


def test_replay_log_requests_answers_a_deep_request_body(tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    capture = EXAMPLES / "openai-text.sse"
    args = [*ssechat_command(), "replay", str(capture), "--serve", "127.0.0.1:0", "--no-delay"]
    process = subprocess.Popen(
        [*args, "--log-requests", str(log)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().decode().strip()
        request = urllib.request.Request(url + "/v1/chat/completions", data=DEEP.encode())
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200
            assert response.read() == capture.read_bytes()
    finally:
        process.terminate()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()
    record = json_lines(log.read_bytes())[0]
    assert isinstance(record["body"], str) and record["body"].startswith("[[[")
