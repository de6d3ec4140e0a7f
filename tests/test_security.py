"""The security review of issue 8, one test (or more) per point.

- API keys never in argv, stdout, stderr, --debug lines, captures or request
  logs, including keys a server echoes back (error bodies, masked forms,
  response headers, the stream itself) and Authorization headers in
  `replay --log-requests`;
- capture and log files are 0600 from the moment they exist;
- `replay --serve` binds loopback by default and says so when it cannot serve;
- TLS verification is on, and no option or empty variable turns it off;
- no shell, eval, exec or pickle anywhere in the package (an ast walk);
- `--text` on a terminal shows control characters escaped (a real pty).

Servers here listen on 127.0.0.1 only.
"""

from __future__ import annotations

import ast
import json
import os
import pty
import select
import shutil
import socket
import ssl
import stat
import subprocess
import threading
import time
import tty
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EXAMPLES, ROOT, json_lines, run_ssechat, ssechat_command

KEY = "sk-proj-SECRETkeyAAAA1111bbbb2222CCCC3333LEAKTAIL"
FRAGMENTS = [KEY, KEY[:16], KEY[8:24], KEY[-12:], "LEAKTAIL", "SECRETkey"]
ENV = {"OPENAI_API_KEY": KEY, "ANTHROPIC_API_KEY": KEY}
FAST = ["--retries", "1", "--backoff-base", "0.05", "--backoff-max", "0.1"]
REPLAY = [*ssechat_command(), "replay", str(EXAMPLES / "openai-text.sse"), "--serve", "0"]
HOSTILE = "safe \x1b]0;owned\x07\x1b[2J\x1b[Hfake $ \r\x9b31m\x08 end"


def assert_no_key(**places: bytes) -> None:
    for name, data in places.items():
        for fragment in FRAGMENTS:
            assert fragment.encode() not in data, f"key fragment {fragment!r} in {name}"


def _chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    body = {"id": "c1", "model": "m", "choices": [{"index": 0, "delta": delta}]}
    body["choices"][0]["finish_reason"] = finish
    return b"data: " + json.dumps(body).encode() + b"\n\n"


def stream_of(text: str, reasoning: str = "") -> bytes:
    first = _chunk({"reasoning_content": reasoning}) if reasoning else b""
    return first + _chunk({"content": text}) + _chunk({}, "stop") + b"data: [DONE]\n\n"


# -- a server that echoes the key back ------------------------------------------------


@contextmanager
def serve(respond: Callable[[BaseHTTPRequestHandler], None], tls: Any = None) -> Iterator[str]:
    """A loopback HTTP(S) server calling `respond(handler)` for every request."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            respond(self)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    scheme = "https" if tls is not None else "http"
    try:
        yield f"{scheme}://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


def _sent_key(handler: BaseHTTPRequestHandler) -> str:
    auth = handler.headers.get("Authorization") or handler.headers.get("x-api-key") or ""
    return auth.split()[-1] if auth else ""


def echo_in_error_body(handler: BaseHTTPRequestHandler) -> None:
    key = _sent_key(handler)
    message = (
        f"Incorrect API key provided: {key}. Also {key[:8]}*********{key[-4:]} and "
        f"{key[:3]}...{key[-6:]}; raw tail {key[-10:]}"
    )
    body = json.dumps({"error": {"message": message, "type": "invalid_request_error"}}).encode()
    handler.send_response(401)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("X-Echo-Key", key)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def echo_in_stream(handler: BaseHTTPRequestHandler) -> None:
    key = _sent_key(handler)
    body = stream_of(f"your key is {key}.")
    handler.send_response(200)
    handler.send_header("Content-Type", "text/event-stream")
    handler.send_header("X-Echo-Key", key)
    handler.end_headers()
    handler.wfile.write(body)


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_key_echoed_in_an_error_body_reaches_no_output(tmp_path: Path, provider: str) -> None:
    save = tmp_path / "capture.sse"
    with serve(echo_in_error_body) as url:
        base = url if provider == "openai" else url.removesuffix("/v1")
        result = run_ssechat(
            ["--debug", "send", "-p", provider, "--base-url", base, "--save", str(save), "hi"],
            env=ENV,
            timeout=60,
        )
    assert result.returncode == 4, result.stderr
    assert b"Incorrect API key provided" in result.stderr  # the message itself is kept
    assert_no_key(stdout=result.stdout, stderr=result.stderr, capture=save.read_bytes())


@pytest.mark.parametrize("mode", [[], ["--text"], ["--raw"], ["--events"], ["--final"]])
def test_a_key_echoed_inside_the_stream_reaches_no_output(tmp_path: Path, mode: list[str]) -> None:
    save = tmp_path / "capture.sse"
    with serve(echo_in_stream) as url:
        result = run_ssechat(
            ["--debug", "send", "--base-url", url, "--save", str(save), *mode, "hi"],
            env=ENV,
            timeout=60,
        )
    assert result.returncode == 0, result.stderr
    assert b"your key is" in result.stdout
    assert_no_key(stdout=result.stdout, stderr=result.stderr, capture=save.read_bytes())


def test_request_logs_redact_authorization_and_api_key_headers(tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    server = subprocess.Popen(
        [*REPLAY, "--log-requests", str(log)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().decode().strip()
        for provider, base in (("openai", url + "/v1"), ("anthropic", url)):
            result = run_ssechat(
                ["send", "-p", provider, "--base-url", base, "-H", f"X-Extra-Token: {KEY}", "hi"],
                env=ENV,
            )
            assert result.returncode == 0, result.stderr
            assert_no_key(stdout=result.stdout, stderr=result.stderr)
    finally:
        server.terminate()
        _, server_err = server.communicate(timeout=10)
    records = json_lines(log.read_bytes())
    assert len(records) == 2
    assert records[0]["headers"]["authorization"] == "Bearer ***"
    assert records[1]["headers"]["x-api-key"] == "***"
    assert_no_key(log=log.read_bytes(), server_stderr=server_err)


def test_no_key_in_the_argv_of_a_running_send() -> None:
    names = {opt for param in _command("send").params for opt in getattr(param, "opts", [])}
    assert not names & {"--api-key", "--key", "--token", "-k"}
    assert {"--api-key-env", "--api-key-file", "--api-key-cmd"} <= names

    def stall(handler: BaseHTTPRequestHandler) -> None:
        time.sleep(3)

    with serve(stall) as url:
        env = {**os.environ, **ENV}
        env.pop("PYTHONUNBUFFERED", None)
        proc = subprocess.Popen(
            [*ssechat_command(), "send", "--base-url", url, "hi"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(1.0)
            cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes()
        finally:
            proc.kill()
            proc.wait()
    assert b"send" in cmdline
    assert_no_key(argv=cmdline)


def _command(name: str) -> Any:
    from ssechat._docgen import commands

    return commands()[name]


# -- files 0600 from creation ---------------------------------------------------------


def test_create_private_asks_open_for_0600_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ssechat import capture

    calls: list[tuple[int, int]] = []
    real_open = os.open

    def spy(path: str, flags: int, mode: int = 0o777, *args: Any, **kw: Any) -> int:
        calls.append((flags, mode))
        return real_open(path, flags, mode, *args, **kw)

    monkeypatch.setattr(capture.os, "open", spy)
    old = os.umask(0)
    try:
        with capture.create_private(str(tmp_path / "new.sse")) as handle:
            handle.write(b"x")
    finally:
        os.umask(old)
    ((flags, mode),) = calls
    assert flags & os.O_CREAT and mode == 0o600  # the mode is set by open(2): no window
    assert stat.S_IMODE((tmp_path / "new.sse").stat().st_mode) == 0o600


def _umask0() -> None:
    os.umask(0)


def test_capture_and_request_log_are_0600_even_with_umask_0(tmp_path: Path) -> None:
    save, log = tmp_path / "capture.sse", tmp_path / "requests.jsonl"
    existing = tmp_path / "existing.sse"
    existing.write_bytes(b"old")
    existing.chmod(0o644)
    server = subprocess.Popen(
        [*REPLAY, "--log-requests", str(log)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        preexec_fn=_umask0,
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().decode().strip() + "/v1"
        for target in (save, existing):
            done = subprocess.run(
                [*ssechat_command(), "send", "--base-url", url, "--save", str(target), "hi"],
                env={**os.environ, **ENV},
                capture_output=True,
                preexec_fn=_umask0,
                timeout=60,
            )
            assert done.returncode == 0, done.stderr
    finally:
        server.terminate()
        server.wait(10)
        if server.stdout is not None:
            server.stdout.close()
    for path in (save, existing, log):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


# -- replay --serve ---------------------------------------------------------------------


def _other_address() -> str | None:
    """A non-loopback address of this machine, if it has one."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks a route
        address = str(probe.getsockname()[0])
    except OSError:
        return None
    finally:
        probe.close()
    return None if address.startswith("127.") or address == "0.0.0.0" else address


def test_replay_serve_binds_loopback_by_default() -> None:
    server = subprocess.Popen(
        [*ssechat_command(), "replay", str(EXAMPLES / "openai-text.sse"), "--serve", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().decode().strip()
        assert url.startswith("http://127.0.0.1:"), url
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
        other = _other_address()
        if other is not None:
            with pytest.raises(OSError):
                socket.create_connection((other, port), timeout=2).close()
    finally:
        server.terminate()
        server.wait(10)
        if server.stdout is not None:
            server.stdout.close()


def test_replay_serve_refuses_a_bad_address_out_loud() -> None:
    result = run_ssechat(
        ["replay", str(EXAMPLES / "openai-text.sse"), "--serve", "host.invalid:0"], timeout=60
    )
    assert result.returncode == 6
    assert result.stderr.decode().startswith("ssechat: error: cannot listen on host.invalid")


def test_replay_serve_logs_a_request_it_refuses() -> None:
    server = subprocess.Popen(
        [*ssechat_command(), "replay", str(EXAMPLES / "openai-text.sse"), "--serve", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline().decode().strip().rsplit(":", 1)[1])
        for request in (
            b"NONSENSE\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        ):
            with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
                conn.sendall(request)
                conn.shutdown(socket.SHUT_WR)
                answer = conn.recv(65536)
            assert b"400" in answer  # (HTTP/0.9 style, no status line, for a bad request line)
        time.sleep(0.2)
    finally:
        server.terminate()
        _, err = server.communicate(timeout=10)
    assert err.count(b"refused") == 2, err


# -- TLS ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a self-signed certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def _stream_ok(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "text/event-stream")
    handler.end_headers()
    handler.wfile.write(stream_of("over TLS"))


@pytest.mark.parametrize(
    "env",
    [{}, {"REQUESTS_CA_BUNDLE": "", "CURL_CA_BUNDLE": "", "PYTHONHTTPSVERIFY": "0"}],
    ids=["default", "empty-bundle-variables"],
)
def test_tls_verification_is_on(certificate: tuple[Path, Path], env: dict[str, str]) -> None:
    cert, key = certificate
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with serve(_stream_ok, tls=context) as url:
        refused = run_ssechat(["send", "--base-url", url, *FAST, "hi"], env={**ENV, **env})
        trusted = run_ssechat(
            ["send", "--base-url", url, "--text", "hi"],
            env={**ENV, "REQUESTS_CA_BUNDLE": str(cert)},
        )
    assert refused.returncode == 6
    assert b"TLS" in refused.stderr and b"retry" not in refused.stderr  # not retried
    assert refused.stdout == b""
    # The control: the same server is fine once its certificate is trusted.
    assert trusted.returncode == 0, trusted.stderr
    assert trusted.stdout == b"over TLS\n"


def test_no_option_turns_tls_verification_off() -> None:
    from ssechat._docgen import commands

    # (an option that adds trust, such as a CA bundle, would be fine: not listed)
    words = ("insecure", "verify", "no-check", "skip-tls", "no-tls", "no-ssl")
    for name, command in commands().items():
        for param in command.params:
            for opt in getattr(param, "opts", []) + getattr(param, "secondary_opts", []):
                assert not any(word in opt for word in words), f"{name} {opt}"
                assert opt != "-k", f"{name} -k (curl's --insecure)"


# -- the source: no shell, eval, exec or pickle -------------------------------------------

BANNED_BUILTINS = {"eval", "exec", "compile", "__import__", "input"}
BANNED_ATTRIBUTES = {
    "os": {"system", "popen", "execv", "execvp", "execl", "spawnl", "spawnv", "posix_spawn"},
    "subprocess": {"getoutput", "getstatusoutput"},
}
BANNED_MODULES = {"pickle", "cPickle", "marshal", "shelve", "dill", "yaml"}


def _python_files() -> list[Path]:
    return sorted((ROOT / "ssechat").rglob("*.py"))


def test_no_shell_eval_exec_or_pickle_in_the_package() -> None:
    problems: list[str] = []
    for path in _python_files():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        where = path.relative_to(ROOT)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                func = node.func
                if isinstance(func, ast.Name) and func.id in BANNED_BUILTINS:
                    problems.append(f"{where}:{node.lineno}: {func.id}()")
                if (
                    isinstance(func, ast.Attribute)
                    and isinstance(func.value, ast.Name)
                    and func.attr in BANNED_ATTRIBUTES.get(func.value.id, ())
                ):
                    problems.append(f"{where}:{node.lineno}: {func.value.id}.{func.attr}()")
                for keyword in node.keywords:
                    if keyword.arg == "shell" and not (
                        isinstance(keyword.value, ast.Constant) and keyword.value.value is False
                    ):
                        problems.append(f"{where}:{node.lineno}: shell=")
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                modules = (
                    [alias.name for alias in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module or ""]
                )
                for module in modules:
                    if module.split(".")[0] in BANNED_MODULES:
                        problems.append(f"{where}:{node.lineno}: import {module}")
    assert problems == []


def test_the_only_subprocess_is_the_key_command_run_from_an_argv_list() -> None:
    users = [
        path.relative_to(ROOT).as_posix()
        for path in _python_files()
        if "subprocess" in path.read_text(encoding="utf-8")
    ]
    assert users == ["ssechat/keys.py"]
    source = (ROOT / "ssechat" / "keys.py").read_text(encoding="utf-8")
    assert "shlex.split" in source


# -- --text on a terminal -------------------------------------------------------------------


def run_on_a_pty(args: list[str], stdin: bytes, env: dict[str, str] | None = None) -> Any:
    """Run ssechat with stdout (and stderr) on a raw pty; (status, terminal bytes)."""
    master, slave = pty.openpty()
    tty.setraw(slave)  # no newline translation: the bytes are what ssechat wrote
    full_env = {**os.environ, **(env or {})}
    full_env.pop("PYTHONUNBUFFERED", None)
    proc = subprocess.Popen(
        [*ssechat_command(), *args],
        stdin=subprocess.PIPE,
        stdout=slave,
        stderr=slave,
        env=full_env,
    )
    os.close(slave)
    assert proc.stdin is not None
    proc.stdin.write(stdin)
    proc.stdin.close()
    seen = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the other side is closed
                break
            if not data:
                break
            seen += data
        elif proc.poll() is not None:
            break
    os.close(master)
    return proc.wait(10), seen


def _no_raw_controls(terminal: bytes) -> None:
    text = terminal.decode("utf-8", "replace")
    raw = [ch for ch in text if (ord(ch) < 0x20 and ch not in "\n\t") or 0x7F <= ord(ch) < 0xA0]
    assert raw == [], f"raw control characters reached the terminal: {raw!r}"


def test_text_on_a_terminal_shows_control_characters_escaped() -> None:
    status, terminal = run_on_a_pty(["parse-sse", "--text"], stream_of(HOSTILE))
    assert status == 0
    _no_raw_controls(terminal)
    assert b"safe \\x1b]0;owned\\x07\\x1b[2J" in terminal
    assert terminal.endswith(b" end\n")


def test_reasoning_on_a_terminal_is_escaped_too() -> None:
    status, terminal = run_on_a_pty(
        ["parse-sse", "--text", "--reasoning"], stream_of("answer", reasoning=HOSTILE)
    )
    assert status == 0
    _no_raw_controls(terminal)
    assert b"answer" in terminal and b"\\x1b[2J" in terminal


@pytest.mark.parametrize("final", [[], ["--final"]], ids=["streamed", "final"])
def test_send_text_on_a_terminal_is_escaped(tmp_path: Path, final: list[str]) -> None:
    def hostile(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.end_headers()
        handler.wfile.write(stream_of(HOSTILE))

    with serve(hostile) as url:
        status, terminal = run_on_a_pty(
            ["send", "--base-url", url, "--text", *final, "hi"], b"", env=ENV
        )
    assert status == 0
    _no_raw_controls(terminal)
    assert b"\\x1b]0;owned" in terminal


def test_send_final_text_with_a_lone_surrogate_is_not_a_crash() -> None:
    # Regression: `--final --text` encoded the answer strictly, so a lone
    # surrogate escape in the stream ("\\ud83d" cut from its pair) ended in
    # "internal error: UnicodeEncodeError".
    def surrogate(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.end_headers()
        # stream_of escapes the backslash; unescaping it leaves the JSON escape \ud83d.
        handler.wfile.write(stream_of("half \\ud83d emoji").replace(b"\\\\", b"\\"))

    with serve(surrogate) as url:
        result = run_ssechat(["send", "--base-url", url, "--final", "--text", "hi"], env=ENV)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"half ? emoji\n"  # what encoding with "replace" gives
