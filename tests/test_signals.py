"""Signals and pipes for every command: what a cron job or a shell pipeline sees.

For parse-sse, repair-json, replay (stdout and --serve) and send:

- a reader that goes away (`| head -c 100`): exit 0, nothing on stderr;
- SIGINT (Ctrl-C): exit 130, `ssechat: interrupted`;
- SIGTERM: exit 130, `ssechat: terminated` (`replay --serve`: 0, the way a
  server is asked to stop);
- a closed stdin (`<&-`, not /dev/null): read as empty input;
- stdout on a full disk (/dev/full): exit 1, one line;

and never a traceback. Servers listen on 127.0.0.1 only.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import default_sigint, ssechat_command

KEY_ENV = {"OPENAI_API_KEY": "sk-test-signals-0000"}
CHUNKS = 3000


def _env() -> dict[str, str]:
    env = {**os.environ, **KEY_ENV}
    env.pop("PYTHONUNBUFFERED", None)
    return env


def big_stream() -> bytes:
    def chunk(delta: dict[str, object], finish: str | None = None) -> bytes:
        body = {"id": "c1", "model": "m", "choices": [{"index": 0, "delta": delta}]}
        body["choices"][0]["finish_reason"] = finish  # type: ignore[index]
        return b"data: " + json.dumps(body).encode() + b"\n\n"

    words = b"".join(chunk({"content": f"word{i} "}) for i in range(CHUNKS))
    return words + chunk({}, "stop") + b"data: [DONE]\n\n"


@dataclass
class Servers:
    fast: str  # the big stream at full speed
    slow: str  # the big stream, 0.2 s between events


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("signals") / "big.sse"
    path.write_bytes(big_stream())
    return path


def _serve(capture: Path, *options: str) -> tuple[subprocess.Popen[bytes], str]:
    proc = subprocess.Popen(
        [*ssechat_command(), "replay", str(capture), "--serve", "127.0.0.1:0", *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=_env(),
    )
    assert proc.stdout is not None
    return proc, proc.stdout.readline().decode().strip() + "/v1"


@pytest.fixture(scope="module")
def servers(capture: Path) -> Iterator[Servers]:
    fast, fast_url = _serve(capture, "--no-delay")
    slow, slow_url = _serve(capture, "--delay", "0.2")
    try:
        yield Servers(fast_url, slow_url)
    finally:
        for proc in (fast, slow):
            proc.terminate()
            proc.wait(10)
            if proc.stdout is not None:
                proc.stdout.close()


def _end(proc: subprocess.Popen[bytes]) -> None:
    """However a test ended: no process left running, no pipe left open."""
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


def _closed_stdin() -> None:
    os.close(0)


def no_traceback(stderr: bytes) -> str:
    text = stderr.decode("utf-8", "replace")
    assert "Traceback" not in text and "internal error" not in text, text
    return text


def one_line(stderr: bytes) -> str:
    text = no_traceback(stderr)
    assert text.count("\n") == 1 and text.startswith("ssechat: "), text
    return text.strip()


# -- what each command runs ---------------------------------------------------------


def bulk(command: str, capture: Path, servers: Servers) -> tuple[list[str], bytes]:
    """Args and stdin of a run that writes far more than 100 bytes at full speed."""
    lines = b"{'city': 'Paris', 'days': [1, 2, 3],}\n" * 5000
    return {
        "parse-sse": (["parse-sse", str(capture)], b""),
        "parse-sse-stdin": (["parse-sse", "--text"], capture.read_bytes()),
        "repair-json": (["repair-json", "--lines", "-q"], lines),
        "replay": (["replay", "--no-delay", str(capture)], b""),
        "send": (["send", "--base-url", servers.fast, "hi"], b""),
    }[command]


BULK = ["parse-sse", "parse-sse-stdin", "repair-json", "replay", "send"]


def test_the_stream_is_big_enough(capture: Path) -> None:
    assert len(capture.read_bytes()) > 100_000


@pytest.mark.parametrize("command", BULK)
def test_a_reader_that_goes_away_is_exit_0_and_silent(
    command: str, capture: Path, servers: Servers
) -> None:
    args, stdin = bulk(command, capture, servers)
    proc = subprocess.Popen(
        [*ssechat_command(), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
        bufsize=0,  # a write to a closed pipe fails at once, not at close()
    )
    assert proc.stdin and proc.stdout and proc.stderr
    try:
        if stdin:
            try:
                proc.stdin.write(stdin[:65536])  # enough for more than 100 bytes out
            except BrokenPipeError:
                pass
        else:
            proc.stdin.close()  # no input: end of file at once (send reads a piped stdin)
        first = b""
        while len(first) < 100:  # what `head -c 100` does: read 100 bytes, leave
            data = proc.stdout.read(100 - len(first))
            if not data:
                break
            first += data
        proc.stdout.close()
        if stdin:
            try:
                proc.stdin.write(stdin[65536:])
            except BrokenPipeError:
                pass
        proc.stdin.close()
        assert proc.wait(60) == 0
        assert len(first) == 100
        assert proc.stderr.read() == b""
    finally:
        _end(proc)


@pytest.mark.parametrize("command", BULK)
def test_a_full_disk_is_exit_1_with_one_line(command: str, capture: Path, servers: Servers) -> None:
    args, stdin = bulk(command, capture, servers)
    with open("/dev/full", "wb") as full:
        done = subprocess.run(
            [*ssechat_command(), *args],
            input=stdin,
            stdout=full,
            stderr=subprocess.PIPE,
            env=_env(),
            timeout=60,
        )
    assert done.returncode == 1
    assert "No space left on device" in one_line(done.stderr)


def test_replay_serve_cannot_print_its_url_on_a_full_disk(capture: Path) -> None:
    with open("/dev/full", "wb") as full:
        done = subprocess.run(
            [*ssechat_command(), "replay", str(capture), "--serve", "127.0.0.1:0"],
            stdout=full,
            stderr=subprocess.PIPE,
            env=_env(),
            timeout=60,
        )
    assert done.returncode == 1
    assert "No space left on device" in one_line(done.stderr)


# -- a closed stdin ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (["parse-sse"], 0, ""),
        (["parse-sse", "--events"], 0, ""),
        (["repair-json"], 3, "input is empty"),
        (["repair-json", "--lines"], 0, ""),
        (["replay", "-"], 0, ""),
        (["send", "--base-url", "URL"], 2, "no prompt"),
        (["send", "--base-url", "URL", "hi"], 0, ""),
        (["parse-sse", "CAPTURE"], 0, ""),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else str(value),
)
def test_a_closed_stdin_is_empty_input(
    args: list[str], status: int, message: str, capture: Path, servers: Servers
) -> None:
    # Regression: with fd 0 closed (`<&-`, as some cron setups and daemons
    # run commands) Python has no sys.stdin, and every command ended with
    # "internal error: AttributeError", exit 1.
    args = [servers.fast if a == "URL" else str(capture) if a == "CAPTURE" else a for a in args]
    done = subprocess.run(
        [*ssechat_command(), *args],
        capture_output=True,
        preexec_fn=_closed_stdin,
        env=_env(),
        timeout=60,
    )
    assert done.returncode == status, done.stderr
    stderr = no_traceback(done.stderr)
    if message:
        assert message in stderr
    elif status == 0:
        assert stderr == ""


# -- SIGINT and SIGTERM ------------------------------------------------------------------


def _wait_for_output(proc: subprocess.Popen[bytes], seconds: float = 30) -> bytes:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], seconds)
    assert ready, "no output: the command never got going"
    return os.read(proc.stdout.fileno(), 65536)


def live(command: str, capture: Path, servers: Servers) -> tuple[list[str], bytes]:
    """Args, and a first input that gets output out, of a run that then waits."""
    return {
        "parse-sse": (["parse-sse"], capture.read_bytes()[:2000]),
        "repair-json": (["repair-json", "--lines", "-q"], b"{'a': 1,}\n"),
        "replay": (["replay", "--delay", "0.5", str(capture)], b""),
        "replay-serve": (["replay", str(capture), "--serve", "127.0.0.1:0"], b""),
        "send": (["send", "--base-url", servers.slow, "hi"], b""),
    }[command]


LIVE = ["parse-sse", "repair-json", "replay", "replay-serve", "send"]


@pytest.mark.parametrize("command", LIVE)
@pytest.mark.parametrize(
    ("signum", "expected"), [(signal.SIGINT, "interrupted"), (signal.SIGTERM, "terminated")]
)
def test_a_signal_mid_stream_is_one_line_and_its_status(
    command: str, signum: int, expected: str, capture: Path, servers: Servers
) -> None:
    args, first = live(command, capture, servers)
    proc = subprocess.Popen(
        [*ssechat_command(), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
        preexec_fn=default_sigint,  # as from a foreground shell, even when pytest is not
    )
    assert proc.stdin and proc.stdout and proc.stderr
    try:
        if first:
            proc.stdin.write(first)
            proc.stdin.flush()
        else:
            proc.stdin.close()  # no input: end of file at once (send reads a piped stdin)
        assert _wait_for_output(proc)
        time.sleep(0.1)
        proc.send_signal(signum)
        status = proc.wait(30)
        stderr = proc.stderr.read()
    finally:
        _end(proc)
    if command == "replay-serve" and signum == signal.SIGTERM:
        assert status == 0 and no_traceback(stderr) == ""  # how a server is asked to stop
        return
    assert status == 130
    assert one_line(stderr) == f"ssechat: {expected}"
