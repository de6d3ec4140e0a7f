"""The entry point as users meet it: the installed command in a subprocess.

Exit statuses, stdout-versus-stderr, broken pipes, Ctrl-C, SIGTERM, flushing
on pipes, and `parse-sse --events` over stdin and files.
"""

from __future__ import annotations

import io
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from ssechat import __version__
from ssechat.cli import main
from ssechat.cli.environment import Environment
from ssechat.cli.group import cli
from tests.conftest import (
    EXAMPLES,
    ROOT,
    default_sigint,
    json_lines,
    run_ssechat,
    ssechat_command,
)


def test_version_from_console_script_and_python_m() -> None:
    proc = run_ssechat(["--version"])
    assert proc.returncode == 0
    assert proc.stdout.decode().strip() == f"ssechat, version {__version__}"
    module = subprocess.run([sys.executable, "-m", "ssechat", "--version"], capture_output=True)
    assert module.stdout == proc.stdout


def test_help_ends_with_examples() -> None:
    for args in (["--help"], ["parse-sse", "--help"]):
        out = run_ssechat(args).stdout.decode()
        assert "Examples:" in out
        assert "ssechat parse-sse" in out.split("Examples:")[1]


def test_events_from_stdin_and_from_files_agree(tmp_path: Path) -> None:
    data = (EXAMPLES / "anthropic-text.sse").read_bytes()
    from_stdin = run_ssechat(["parse-sse", "--events"], data)
    from_file = run_ssechat(["parse-sse", "--events", str(EXAMPLES / "anthropic-text.sse")])
    from_dash = run_ssechat(["parse-sse", "--events", "-"], data)
    assert from_stdin.returncode == from_file.returncode == from_dash.returncode == 0
    assert from_stdin.stdout == from_file.stdout == from_dash.stdout
    events = json_lines(from_stdin.stdout)
    assert events[0]["event"] == "message_start"
    assert events[-1] == {"event": "message_stop", "data": '{"type":"message_stop"}'}
    assert from_stdin.stderr == b""


def test_several_files_are_separate_streams(tmp_path: Path) -> None:
    first = tmp_path / "a.sse"
    second = tmp_path / "b.sse"
    first.write_bytes(b"id: 1\ndata: one")  # no final blank line: dispatched at EOF
    second.write_bytes(b"data: two\n\n")
    proc = run_ssechat(["parse-sse", "--events", str(first), str(second)])
    assert json_lines(proc.stdout) == [
        {"event": "message", "data": "one", "id": "1"},
        {"event": "message", "data": "two"},  # the id does not leak into the next stream
    ]


def test_eof_discard_drops_the_unterminated_event() -> None:
    proc = run_ssechat(["parse-sse", "--events", "--eof", "discard"], b"data: a\n\ndata: b")
    assert json_lines(proc.stdout) == [{"event": "message", "data": "a"}]


def test_garbage_input_warns_once_and_does_not_crash() -> None:
    html = b"<html><head><title>502 Bad Gateway</title></head>\n<body>nginx</body></html>\n"
    proc = run_ssechat(["parse-sse", "--events"], html)
    assert proc.returncode == 0
    assert proc.stdout == b""
    lines = proc.stderr.decode().strip().split("\n")
    assert len(lines) == 1 and "does not look like SSE" in lines[0]
    binary = run_ssechat(["parse-sse", "--events"], os.urandom(5000).replace(b":", b"."))
    assert binary.returncode == 0
    assert b"Traceback" not in binary.stderr


def test_event_over_the_size_bound_is_exit_3_with_one_line() -> None:
    big = b"data: " + b"x" * 5000 + b"\n\n"
    proc = run_ssechat(["parse-sse", "--events", "--max-event-bytes", "4K"], b"data: ok\n\n" + big)
    assert proc.returncode == 3
    assert json_lines(proc.stdout) == [{"event": "message", "data": "ok"}]  # nothing before is lost
    stderr = proc.stderr.decode().strip()
    assert "\n" not in stderr and "larger than 4096 bytes" in stderr


def test_bad_size_and_missing_file_are_usage_errors() -> None:
    assert run_ssechat(["parse-sse", "--max-event-bytes", "lots"]).returncode == 2
    missing = run_ssechat(["parse-sse", "/nonexistent/capture.sse"])
    assert missing.returncode == 2
    assert b"does not exist" in missing.stderr
    assert b"Traceback" not in missing.stderr


def test_broken_pipe_is_quiet_and_exit_0(tmp_path: Path) -> None:
    big = tmp_path / "big.sse"
    big.write_bytes(b"data: " + b"z" * 100 + b"\n\n" * 1 + b"data: more\n\n" * 200_000)
    proc = subprocess.run(
        f"set -o pipefail; {' '.join(ssechat_command())} parse-sse --events {big} | head -1",
        shell=True,
        executable="/bin/bash",
        capture_output=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == b""
    assert len(proc.stdout.splitlines()) == 1


def _start_on_a_pipe(args: list[str]) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    return subprocess.Popen(
        [*ssechat_command(), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        preexec_fn=default_sigint,  # a test sends it SIGINT
    )


def _wait_for_line(stream: object, timeout: float) -> bytes:
    assert hasattr(stream, "fileno")
    ready, _, _ = select.select([stream], [], [], timeout)
    assert ready, "no output arrived: a missing flush?"
    return os.read(stream.fileno(), 65536)


def test_auto_flush_on_a_pipe_delivers_each_event_before_eof() -> None:
    with _start_on_a_pipe(["parse-sse", "--events"]) as proc:
        assert proc.stdin and proc.stdout
        for i in range(3):
            proc.stdin.write(f"data: {i}\n\n".encode())
            proc.stdin.flush()
            assert json_lines(_wait_for_line(proc.stdout, 10)) == [
                {"event": "message", "data": str(i)}
            ]
        proc.stdin.close()
        assert proc.wait(10) == 0


def test_sigint_exits_130_with_one_line_and_output_kept() -> None:
    with _start_on_a_pipe(["parse-sse", "--events"]) as proc:
        assert proc.stdin and proc.stdout and proc.stderr
        proc.stdin.write(b"data: before\n\n")
        proc.stdin.flush()
        assert _wait_for_line(proc.stdout, 10)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 130
        assert proc.stderr.read().decode().strip() == "ssechat: interrupted"


def test_sigterm_exits_130_with_one_line() -> None:
    with _start_on_a_pipe(["parse-sse", "--events"]) as proc:
        assert proc.stdin and proc.stdout and proc.stderr
        proc.stdin.write(b"data: before\n\n")
        proc.stdin.flush()
        assert _wait_for_line(proc.stdout, 10)
        time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 130
        assert proc.stderr.read().decode().strip() == "ssechat: terminated"


def test_full_disk_is_one_line_not_a_traceback() -> None:
    with open("/dev/full", "wb") as full:
        proc = subprocess.run(
            [*ssechat_command(), "parse-sse", "--events", str(EXAMPLES / "openai-text.sse")],
            stdout=full,
            stderr=subprocess.PIPE,
            timeout=30,
        )
    assert proc.returncode == 1
    stderr = proc.stderr.decode().strip()
    assert "\n" not in stderr and "No space left on device" in stderr


def test_closed_stdin_is_empty_input() -> None:
    proc = subprocess.run(
        [*ssechat_command(), "parse-sse", "--events"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=30,
    )
    assert proc.returncode == 0 and proc.stdout == b"" and proc.stderr == b""


def test_internal_errors_are_one_line_unless_debug(monkeypatch: object) -> None:
    import ssechat.cli.parse_sse as parse_sse

    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    mp = monkeypatch
    mp.setattr(parse_sse.sources, "open_sources", explode)  # type: ignore[attr-defined]
    runner = CliRunner()
    result = runner.invoke(cli, ["parse-sse", "--events"], input=b"")
    assert isinstance(result.exception, RuntimeError)  # click itself lets it through
    assert main(["parse-sse", "--events"]) == 1  # main() turns it into status 1


def _env(
    stdin: bytes = b"", environ: dict[str, str] | None = None
) -> tuple[Environment, io.BytesIO, io.BytesIO]:
    """An Environment over in-memory streams: what the commands write, as bytes."""
    out, err = io.BytesIO(), io.BytesIO()
    out_text = io.TextIOWrapper(out, encoding="utf-8", write_through=True)
    err_text = io.TextIOWrapper(err, encoding="utf-8", write_through=True)
    env = Environment(
        stdin=io.BytesIO(stdin),
        stdout=out,
        stderr=err,
        stdin_text=io.StringIO(),
        stdout_text=out_text,
        stderr_text=err_text,
        environ=environ or {},
    )
    return env, out, err


def test_every_command_reads_and_writes_through_the_one_environment() -> None:
    env, out, err = _env(b'data: {"content":"hi"}\n\ndata: [DONE]\n\n')
    assert main(["parse-sse", "--text"], env) == 0
    assert out.getvalue() == b"hi\n" and err.getvalue() == b""
    env, out, err = _env(b"{'a': 1}")
    assert main(["repair-json"], env) == 0
    assert out.getvalue() == b'{"a":1}\n' and b"repaired" in err.getvalue()
    env, out, err = _env(b"no such bytes")
    assert main(["parse-sse", "--events"], env) == 0
    assert b"warning" in err.getvalue()  # the warning went to the given stderr
    assert not env.debug and not env.quiet and not env.stdin_isatty


def test_debug_comes_from_the_flag_or_the_environment_and_shows_a_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ssechat import sources

    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(sources, "open_sources", explode)
    env, _, err = _env()
    assert main(["parse-sse"], env) == 1
    assert err.getvalue().decode().splitlines() == [
        "ssechat: internal error: RuntimeError: boom (re-run with --debug for details)"
    ]
    for argv, environ in (
        (["--debug", "parse-sse"], {}),
        (["parse-sse", "--debug"], {}),
        (["parse-sse"], {"SSECHAT_DEBUG": "1"}),
    ):
        env, _, err = _env(environ=environ)
        assert main(argv, env) == 1 and env.debug
        assert "Traceback (most recent call last)" in err.getvalue().decode()


def test_usage_error_exit_2() -> None:
    proc = run_ssechat(["parse-sse", "--no-such-flag"])
    assert proc.returncode == 2
    assert b"No such option" in proc.stderr


def test_flush_choices_are_the_writer_policies() -> None:
    from ssechat.cli.common import FLUSH_POLICIES
    from ssechat.lines import FlushPolicy

    assert tuple(policy.value for policy in FlushPolicy) == FLUSH_POLICIES


def test_version_imports_no_command_module() -> None:
    code = (
        "import sys; from ssechat.cli import main; "
        "rc = main(['--version']); "
        "print(sorted(m for m in sys.modules if m.startswith('ssechat.') or m in "
        "('requests', 'json_repair', 'http.server', 'orjson')))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    loaded = proc.stdout.strip().split("\n")[-1]
    assert "ssechat.cli.send" not in loaded and "requests" not in loaded
    assert "ssechat.pipeline" not in loaded and "json_repair" not in loaded


def test_parse_sse_events_imports_no_dialect() -> None:
    """`--events` is the decoder and the writer only: start-up time (issue 2)."""
    code = (
        "import sys; from ssechat.cli import main; "
        "rc = main(['parse-sse', '--events', 'examples/openai-tool-call.sse']); "
        "print(sorted(m for m in sys.modules if m.startswith('ssechat.') or m in "
        "('requests', 'json_repair')))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    loaded = proc.stdout.strip().split("\n")[-1]
    assert "ssechat.sse" in loaded and "ssechat.lines" in loaded
    for module in (
        "ssechat.dialects",
        "ssechat.pipeline",
        "ssechat.normalized",
        "ssechat.repair",
        "json_repair",
    ):
        assert module not in loaded


def test_parse_sse_of_text_loads_neither_the_repairer_nor_dialect_files() -> None:
    """Tool-call repair and dialect files load when a stream needs them (start-up)."""
    code = (
        "import sys; from ssechat.cli import main; "
        "rc = main(['parse-sse', {capture!r}]); "
        "print(sorted(m for m in sys.modules if m.startswith('ssechat.')))"
    )
    loaded = {}
    for capture in ("examples/openai-text.sse", "examples/openai-tool-call.sse"):
        proc = subprocess.run(
            [sys.executable, "-c", code.format(capture=capture)],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        assert proc.returncode == 0, proc.stderr
        loaded[capture] = proc.stdout.strip().split("\n")[-1]
    text_only = loaded["examples/openai-text.sse"]
    assert "ssechat.pipeline" in text_only
    for module in ("ssechat.repair", "ssechat.dialects.described", "ssechat.dialects.description"):
        assert module not in text_only
    assert "ssechat.repair" in loaded["examples/openai-tool-call.sse"]
