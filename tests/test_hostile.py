"""`ssechat send` against hostile servers (tests/hostile_server.py), run as a subprocess.

Every case runs with a recognisable fake key and checks that no piece of it
(any 9 of its characters in a row) reaches stdout, stderr or the capture.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import json_lines, run_ssechat, ssechat_command
from tests.hostile_server import HostileServer, chat_event

KEY = "sk-proj-HOSTILEkey0123456789abcdefghijLEAKCHECK"
ENV = {"OPENAI_API_KEY": KEY, "ANTHROPIC_API_KEY": KEY, "NO_PROXY": "*", "no_proxy": "*"}
FAST = ["--retries", "2", "--backoff-base", "0.05", "--backoff-max", "0.1"]


def send(url: str, *args: str, env: dict[str, str] | None = None, timeout: float = 60) -> Any:
    return run_ssechat(
        ["send", "--base-url", url, *FAST, *args, "hi"], env={**ENV, **(env or {})}, timeout=timeout
    )


def assert_no_key(result: Any, *files: Path) -> None:
    places = {"stdout": result.stdout, "stderr": result.stderr}
    places.update({str(path): path.read_bytes() for path in files if path.exists()})
    for name, data in places.items():
        for start in range(len(KEY) - 8):
            piece = KEY[start : start + 9].encode()
            assert piece not in data, f"{piece!r} of the key in {name}"


def text_of(out: bytes) -> str:
    return "".join(e.get("text", "") for e in json_lines(out) if e.get("type") == "delta")


# -- secrets ---------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_redirect_is_not_followed_and_the_key_stays_home(provider: str) -> None:
    with (
        HostileServer("length") as other,
        HostileServer("redirect", {"location": other.url + "/steal"}) as server,
    ):
        result = send(server.url, "-p", provider, "-H", "X-Access-Code: door-code-12345678")
    assert result.returncode == 4, result.stderr
    assert f"redirects to {other.url}/steal".encode() in result.stderr
    assert other.requests == [] and other.connections == 0
    assert len(server.requests) == 1  # and not retried
    assert_no_key(result)
    assert b"door-code-12345678" not in result.stderr


@pytest.mark.parametrize(
    "bad",
    [KEY + "\nsecond-line", KEY[:20] + " " + KEY[20:], KEY + "\x07", KEY + "\u00e9\u4e2d"],
    ids=["line-break", "space", "control", "not-latin-1"],
)
def test_a_key_that_cannot_be_a_header_is_refused_unshown(bad: str) -> None:
    with HostileServer("length") as server:
        result = send(server.url, env={"OPENAI_API_KEY": bad})
    assert result.returncode == 2, result.stderr
    assert b"API key" in result.stderr and b"OPENAI_API_KEY" in result.stderr
    assert result.stderr.count(b"\n") == 1
    assert_no_key(result)
    assert server.requests == []


@pytest.mark.parametrize("mode", [[], ["--text"], ["--final"], ["--final", "--text"], ["--raw"]])
@pytest.mark.parametrize("echo", ["echo-escaped", "echo-split"])
def test_a_key_echoed_escaped_or_split_reaches_no_output(
    tmp_path: Path, echo: str, mode: list[str]
) -> None:
    capture = tmp_path / "cap.sse"
    with HostileServer(echo) as server:
        result = send(server.url, *mode, "--save", str(capture))
    assert result.returncode == 0, result.stderr
    assert b"[REDACTED]" in result.stdout
    assert_no_key(result, capture)


def test_a_thirty_kb_error_body_and_a_forty_kb_error_event_end_at_once() -> None:
    """Redaction is linear: what took 34 s and 60+ s takes well under the test's timeout."""
    message = "x" * 30_000 + " " + "ab" * 5000 + "*"
    body = json.dumps({"error": {"message": message, "type": "invalid_request_error"}})
    params = {"status": "400 Bad Request", "times": 9}
    with HostileServer("status", params) as server:
        server.params["body"] = body.encode()
        result = send(server.url, timeout=20)
    assert result.returncode == 4
    assert len(result.stderr) < 6000  # the message is cut, not 30 KB on stderr
    event = b'data: {"error": {"message": "%s", "type": "invalid_request_error"}}\n\n' % (
        b"y." * 20_000
    )
    with HostileServer("length", {"events": [event]}) as server:
        result = send(server.url, timeout=20)
    assert result.returncode == 3
    assert len(result.stderr) < 6000


def test_debug_hides_secret_headers_by_the_log_requests_rule() -> None:
    with HostileServer("length") as server:
        result = send(
            server.url,
            "--debug",
            "-H",
            "Cookie: session=cookie-value-123456",
            "-H",
            "X-Access-Code: door-code-12345678",
        )
    assert result.returncode == 0, result.stderr
    assert b"> Cookie: ***" in result.stderr and b"> X-Access-Code: ***" in result.stderr
    assert b"cookie-value" not in result.stderr and b"door-code" not in result.stderr
    assert server.requests[0].headers["x-access-code"] == "door-code-12345678"
    assert_no_key(result)


def test_a_stream_error_code_with_terminal_escapes_is_shown_escaped() -> None:
    error = {"error": {"message": "overloaded", "code": "\x1b]0;owned\x07\x1b[2J", "type": "x"}}
    event = b"data: " + json.dumps(error).encode() + b"\n\n"
    with HostileServer("length", {"events": [event]}) as server:
        result = send(server.url)
    assert result.returncode == 3, result.stderr
    assert b"retry 1" in result.stderr
    assert b"\x1b" not in result.stderr and b"\x07" not in result.stderr
    assert b"\\x1b]0;owned" in result.stderr


def test_a_closed_stdout_fails_like_cat() -> None:
    """`ssechat send ... >&-`: exit 1 with a message, not 0 with the answer thrown away."""
    with HostileServer("length") as server:
        command = [*ssechat_command(), "send", "--base-url", server.url, "hi"]
        result = subprocess.run(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env={**os.environ, **ENV},
            preexec_fn=lambda: os.close(1),
            timeout=60,
        )
    assert result.returncode == 1
    assert b"Bad file descriptor: stdout" in result.stderr


# -- transport ---------------------------------------------------------------------------


@pytest.mark.parametrize("framing", ["chunked", "length", "close", "gzip-chunked", "gzip-close"])
def test_the_idle_timeout_fires_whatever_the_framing(framing: str) -> None:
    """A close-delimited body once waited for the first-event timeout, then said "idle"."""
    with HostileServer(framing, {"stall": 20}) as server:
        result = send(
            server.url, "--retries", "0", "--idle-timeout", "1", "--first-event-timeout", "8"
        )
    assert result.returncode == 5, result.stderr
    assert b"idle timeout after 1 s" in result.stderr
    assert text_of(result.stdout) == "Hello"  # and the server held the rest back 20 s


@pytest.mark.parametrize(
    "mode", ["gzip-length", "deflate-length", "gzip-chunked", "gzip-close", "early-hints"]
)
@pytest.mark.parametrize("output", [[], ["--final"]])
def test_compressed_bodies_and_early_hints_give_the_answer_once(
    mode: str, output: list[str]
) -> None:
    with HostileServer(mode) as server:
        result = send(server.url, *output)
    assert result.returncode == 0, result.stderr
    if output:
        assert json_lines(result.stdout)[0]["text"] == "Hello world!"
    else:
        assert text_of(result.stdout) == "Hello world!"
        assert b'"retry"' not in result.stdout
    assert len(server.requests) == 1


def test_an_unknown_encoding_is_a_clear_error() -> None:
    with HostileServer("br") as server:
        result = send(server.url)
    assert result.returncode == 4
    assert b"Content-Encoding: br" in result.stderr
    assert result.stdout == b"" and len(server.requests) == 1


def test_a_body_shorter_than_its_length_is_a_dropped_connection() -> None:
    with HostileServer("short", {"times": 1}) as server:
        result = send(server.url)
    assert result.returncode == 0, result.stderr
    assert b"retry 1 in 0.0 s after dropped (restarting)" in result.stderr
    assert [e["resume"] for e in json_lines(result.stdout) if e["type"] == "retry"] == ["restart"]
    assert text_of(result.stdout).endswith("Hello world!")
    assert len(server.requests) == 2
    with HostileServer("short", {"times": 9}) as server:
        result = send(server.url, "--text")
    assert result.returncode == 6, result.stderr
    assert result.stdout == b"Hello\n"  # the partial answer kept, and said to be cut
    assert b"bytes before the end of its Content-Length" in result.stderr


def test_a_stream_labelled_json_is_read_as_a_stream() -> None:
    with HostileServer("json-sse") as server:
        result = send(server.url, "--text")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"Hello world!\n"
    # An error object with a 2xx status (Coze answers a bad token this way) is
    # bad input, as parse-sse says of the same bytes: exit 3, not an HTTP error.
    body = b'{"code": 4100, "msg": "authentication is invalid"}'
    for mode in ("--text", "--final", "--summary"):
        with HostileServer("json-sse", {"events": [body]}) as server:
            result = send(server.url, mode)
        assert result.returncode == 3, (mode, result.stderr)
        assert b"authentication is invalid" in result.stderr
    with HostileServer("json-sse", {"events": [body]}) as server:
        result = send(server.url)
    parsed = run_ssechat(["parse-sse"], input=body)
    assert result.returncode == parsed.returncode == 3
    assert json_lines(result.stdout) == json_lines(parsed.stdout)


def test_keep_alive_is_reused_across_retries() -> None:
    with HostileServer("status", {"times": 2}) as server:
        result = send(server.url, "--retries", "3")
    assert result.returncode == 0, result.stderr
    assert len(server.requests) == 3
    assert server.connections == 1


def test_a_proxy_that_never_answers_connect_is_named_with_the_connect_timeout() -> None:
    with HostileServer("silent") as proxy:
        env = {"HTTPS_PROXY": proxy.url, "https_proxy": proxy.url, "NO_PROXY": "", "no_proxy": ""}
        result = send(
            "https://127.0.0.1:9/v1", "--retries", "0", "--connect-timeout", "1.5", env=env
        )
    assert result.returncode == 5, result.stderr
    assert b"connect timeout after 1.5 s" in result.stderr
    assert f"proxy {proxy.url} did not answer CONNECT".encode() in result.stderr


def test_a_refused_proxy_is_named() -> None:
    with HostileServer("silent") as free:
        port = free.port
    url = f"http://127.0.0.1:{port}"
    env = {"HTTPS_PROXY": url, "https_proxy": url, "NO_PROXY": "", "no_proxy": ""}
    result = send("https://127.0.0.1:9/v1", "--retries", "0", env=env)
    assert result.returncode == 6, result.stderr
    assert f"cannot connect to the proxy {url}".encode() in result.stderr


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e999", "NaN"])
def test_a_non_finite_retry_after_is_ignored(value: str) -> None:
    headers = (f"Retry-After: {value}", f"retry-after-ms: {value}")
    with HostileServer("status", {"times": 1, "headers": headers}) as server:
        result = send(server.url)
    assert result.returncode == 0, result.stderr
    assert len(server.requests) == 2


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com",
        "example.com/v1",
        "http://",
        "http://h:99999",
        "http://[::1",
        "http://a b",
    ],
)
def test_a_bad_base_url_is_a_usage_error_at_once(url: str) -> None:
    result = run_ssechat(["send", "--base-url", url, "hi"], env=ENV, timeout=20)
    assert result.returncode == 2, result.stderr
    assert b"--base-url" in result.stderr


def test_save_into_a_missing_directory_is_a_usage_error(tmp_path: Path) -> None:
    with HostileServer("length") as server:
        result = send(server.url, "--save", str(tmp_path / "missing" / "cap.sse"))
    assert result.returncode == 2
    assert b"No such file or directory" in result.stderr
    assert server.requests == []  # refused before anything is sent


def test_save_onto_a_symlink_is_refused_and_the_target_untouched(tmp_path: Path) -> None:
    target = tmp_path / "notes.txt"
    target.write_text("mine\n")
    target.chmod(0o644)
    link = tmp_path / "cap.sse"
    link.symlink_to(target)
    with HostileServer("length") as server:
        result = send(server.url, "--save", str(link))
    assert result.returncode == 2
    assert b"symbolic link" in result.stderr
    assert target.read_text() == "mine\n" and (target.stat().st_mode & 0o777) == 0o644


_SECOND_OPTIONS = [
    "--connect-timeout",
    "--first-event-timeout",
    "--idle-timeout",
    "--timeout",
    "--backoff-base",
    "--backoff-max",
    "--max-retry-wait",
]
_NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["nan", "inf", "-inf", "1e308", "1e999", "-0", "0", "1e-300", "0x10", "1_0"]),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(option=st.sampled_from(_SECOND_OPTIONS), value=_NUMBERS)
def test_any_option_value_is_a_usage_error_or_works_never_an_internal_error(
    option: str, value: object
) -> None:
    """Non-finite and huge seconds: exit 2 at once, or a run that ends as runs end (never 1)."""
    import io

    from ssechat.cli import main
    from ssechat.cli.environment import Environment

    stderr = io.StringIO()
    env = Environment(
        stdin=io.BytesIO(),
        stdin_text=io.StringIO(),
        stdout=io.BytesIO(),
        stdout_text=io.StringIO(),
        stderr=io.BytesIO(),
        stderr_text=stderr,
        environ=ENV,
    )
    argv = ["send", "--base-url", "http://127.0.0.1:9", "--retries", "0", option, str(value), "hi"]
    with _env(ENV):
        status = main(argv, env)
    assert status in (2, 5, 6), stderr.getvalue()
    assert "internal error" not in stderr.getvalue()


@contextmanager
def _env(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old


def test_ids_without_resumption_restart_instead_of_doubling() -> None:
    """A server with ids that starts over on Last-Event-ID: "HelloHello world!" before."""
    with HostileServer("ids-restart") as server:
        result = send(server.url)
    assert result.returncode == 0, result.stderr
    lines = json_lines(result.stdout)
    resumes = [line["resume"] for line in lines if line["type"] == "retry"]
    assert resumes == ["continue", "restart"]
    last = max(i for i, line in enumerate(lines) if line["type"] == "retry")
    assert text_of(b"\n".join(json.dumps(line).encode() for line in lines[last:])) == (
        "Hello world!"
    )
    assert server.requests[1].headers["last-event-id"] == "1"
    assert "last-event-id" not in server.requests[2].headers
    with HostileServer("ids-restart") as server:
        result = send(server.url, "--text")
    assert result.returncode == 3, result.stderr
    assert result.stdout == b"Hello\n"  # never "HelloHello world!"
    assert b"started the stream again" in result.stderr


# -- coze ----------------------------------------------------------------------------------


def _coze_send(url: str, **popen: Any) -> subprocess.Popen[bytes]:
    command = [*ssechat_command(), "send", "-p", "coze", "--bot-id", "b1", "--base-url", url]
    env = {**os.environ, **ENV, "COZE_API_TOKEN": KEY}
    return subprocess.Popen([*command, "hi"], env=env, stderr=subprocess.PIPE, **popen)


def _cancels(server: HostileServer) -> list[Any]:
    return [json.loads(r.body) for r in server.requests if r.path == "/v3/chat/cancel"]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_coze_chat_is_cancelled_on_the_server(signum: int) -> None:
    with HostileServer("coze") as server:
        process = _coze_send(server.url, stdout=subprocess.PIPE)
        assert process.stdout is not None
        start = json.loads(process.stdout.readline())
        assert start["type"] == "start" and start["conversation_id"] == "conv1"
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=20)
        assert process.returncode == 130, stderr
        assert _cancels(server) == [{"chat_id": "chat1", "conversation_id": "conv1"}]
        assert server.requests[-1].headers["authorization"] == f"Bearer {KEY}"
    assert KEY.encode() not in stderr


def test_a_closed_pipe_cancels_the_coze_chat() -> None:
    with HostileServer("coze", {"drip": True}) as server:
        process = _coze_send(server.url, stdout=subprocess.PIPE)
        assert process.stdout is not None
        process.stdout.readline()
        process.stdout.close()  # the reader goes away (`| head -1`)
        _, stderr = process.communicate(timeout=20)
        assert process.returncode == 0, stderr
        assert _cancels(server) == [{"chat_id": "chat1", "conversation_id": "conv1"}]


@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_a_stream_cut_at_an_event_boundary_keeps_its_connection_for_the_retry(
    framing: str,
) -> None:
    events = [chat_event("Hello"), chat_event(" world")]  # no finish, no [DONE]: truncated
    with HostileServer(framing, {"events": events}) as server:
        result = send(server.url)
    assert result.returncode == 3, result.stderr
    assert len(server.requests) == 3  # the first attempt and two retries
    assert server.connections == 1


def test_a_key_in_short_pieces_is_redacted_from_the_final_answer() -> None:
    """Pieces too short to be known alone (no 8-character piece of the key taken every 8
    characters is whole in any of them) are found once --final joins the decoded text."""
    cuts = [0, 7, 15, 23, 31, 39, 46, len(KEY)]
    pieces = [KEY[a:b] for a, b in itertools.pairwise(cuts)]
    events = [chat_event(p) for p in ("key: ", *pieces, " end")] + [
        chat_event(None, "stop"),
        b"data: [DONE]\n\n",
    ]
    with HostileServer("length", {"events": events}) as server:
        result = send(server.url, "--final", "--text")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(b"key: [REDACTED]") and result.stdout.endswith(b" end\n")
    assert_no_key(result)
