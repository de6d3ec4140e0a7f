"""What shell users expect of every command (issue 17), run as they run it.

`send` conveniences (stdin joined to the prompt, no key for key-less
servers, SSECHAT_SEND_* defaults, the User-Agent, --schema strictness)
against `ssechat replay --serve` on 127.0.0.1, which records each request;
`-q` and one-line usage errors on every command; the `parse-sse --text`
note when a response holds only tool calls. Every test runs the installed
`ssechat` in a subprocess.
"""

from __future__ import annotations

import os
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import ssechat
from tests.conftest import EXAMPLES, json_lines, ssechat_command
from tests.test_replay import serve

TEXT = EXAMPLES / "openai-text.sse"
TOOLS = EXAMPLES / "openai-tool-call.sse"
KEY_VARIABLES = (
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "COZE_API_TOKEN",
    "GEMINI_API_KEY",
    "SSECHAT_API_KEY",
    "OPENAI_BASE_URL",
    "ANTHROPIC_BASE_URL",
)


def run(
    args: list[str],
    *,
    stdin: Any = subprocess.DEVNULL,
    env: dict[str, str] | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[bytes]:
    """The installed ssechat, with no API key or SSECHAT_SEND_* in its environment."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in KEY_VARIABLES and not k.startswith("SSECHAT_")
    }
    clean.pop("PYTHONUNBUFFERED", None)
    options: dict[str, Any] = {"input": stdin} if isinstance(stdin, bytes) else {"stdin": stdin}
    return subprocess.run(
        [*ssechat_command(), *args],
        capture_output=True,
        env={**clean, **(env or {})},
        timeout=timeout,
        **options,
    )


class Recorded:
    """A local provider (replay --serve) and the requests it was sent."""

    def __init__(self, url: str, log: Path) -> None:
        self.url = url
        self.log = log

    def requests(self) -> list[dict[str, Any]]:
        return json_lines(self.log.read_bytes()) if self.log.exists() else []

    def last(self) -> dict[str, Any]:
        return self.requests()[-1]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Recorded]:
    log = tmp_path / "requests.jsonl"
    with serve(TEXT, "--no-delay", "--log-requests", log) as served:
        yield Recorded(served.url, log)


def send(server: Recorded, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
    return run(["send", "--base-url", server.url + "/v1", "--retries", "0", *args], **kwargs)


def content(request: dict[str, Any]) -> str:
    return str(request["body"]["messages"][-1]["content"])


# -- send: the prompt from stdin and arguments ------------------------------------------


def test_piped_text_comes_first_then_the_arguments(server: Recorded, tmp_path: Path) -> None:
    proc = send(server, "--text", "Summarise this:", stdin=b"line one\nline two\n")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == b"The capital of Scotland is Edinburgh.\n"
    assert content(server.last()) == "line one\nline two\n\nSummarise this:"
    notes = tmp_path / "notes.txt"
    notes.write_bytes("café notes\n".encode())
    with notes.open("rb") as stdin:
        assert send(server, "Summarise", "this:", stdin=stdin).returncode == 0
    assert content(server.last()) == "café notes\n\nSummarise this:"


def test_arguments_alone_when_nothing_is_piped(server: Recorded) -> None:
    assert send(server, "Just", "this").returncode == 0  # stdin: /dev/null
    assert content(server.last()) == "Just this"
    assert send(server, "Just this", stdin=b"  \n").returncode == 0  # blank piped text
    assert content(server.last()) == "Just this"


def test_stdin_alone_is_the_prompt_and_empty_stdin_is_a_usage_error(server: Recorded) -> None:
    assert send(server, stdin=b"only stdin\n").returncode == 0
    assert content(server.last()) == "only stdin"
    proc = send(server, stdin=b"")
    assert proc.returncode == 2 and b"stdin was empty" in proc.stderr


# -- send: servers that need no key --------------------------------------------------


def test_a_loopback_server_needs_no_key(server: Recorded) -> None:
    proc = send(server, "hi")
    assert proc.returncode == 0, proc.stderr
    assert "authorization" not in server.last()["headers"]


def test_a_key_that_is_set_is_sent_to_a_loopback_server(server: Recorded) -> None:
    proc = send(server, "hi", env={"OPENAI_API_KEY": "sk-local-proxy-0123456789"})
    assert proc.returncode == 0, proc.stderr
    assert server.last()["headers"]["authorization"] == "Bearer ***"  # redacted by the log


def test_no_auth_withholds_the_key_that_is_set(server: Recorded) -> None:
    env = {"OPENAI_API_KEY": "sk-real-key-0123456789"}
    assert send(server, "--no-auth", "hi", env=env).returncode == 0
    assert "authorization" not in server.last()["headers"]
    assert send(server, "hi", env={**env, "SSECHAT_SEND_NO_AUTH": "1"}).returncode == 0
    assert "authorization" not in server.last()["headers"]


def test_a_remote_server_still_needs_a_key_unless_no_auth(server: Recorded) -> None:
    """A remote base URL, reached through the local server as an HTTP proxy (no DNS)."""
    remote = ["send", "--base-url", "http://api.example.invalid/v1", "--retries", "0", "hi"]
    proxy = {"HTTP_PROXY": server.url, "NO_PROXY": "", "no_proxy": ""}
    proc = run(remote, env=proxy)
    assert proc.returncode == 2 and b"no API key" in proc.stderr
    assert server.requests() == []
    proc = run([*remote, "--no-auth"], env=proxy)
    assert proc.returncode == 0, proc.stderr
    request = server.last()
    assert request["path"] == "http://api.example.invalid/v1/chat/completions"
    assert "authorization" not in request["headers"]


def test_no_auth_with_a_key_option_is_a_usage_error(server: Recorded) -> None:
    proc = send(server, "--no-auth", "--api-key-env", "MY_KEY", "hi")
    assert proc.returncode == 2 and b"--no-auth sends no key" in proc.stderr
    assert server.requests() == []


def test_an_explicit_key_source_that_is_empty_is_an_error_even_on_loopback(
    server: Recorded,
) -> None:
    proc = send(server, "--api-key-env", "MY_UNSET_KEY", "hi")
    assert proc.returncode == 2 and b"MY_UNSET_KEY" in proc.stderr


# -- send: the User-Agent and --schema strictness ------------------------------------


def test_user_agent_names_ssechat_and_its_version(server: Recorded) -> None:
    assert send(server, "hi").returncode == 0
    assert server.last()["headers"]["user-agent"] == f"ssechat/{ssechat.__version__}"
    assert send(server, "-H", "User-Agent: my-app/2", "hi").returncode == 0
    assert server.last()["headers"]["user-agent"] == "my-app/2"  # -H replaces it


@pytest.fixture
def schema(tmp_path: Path) -> Path:
    path = tmp_path / "schema.json"
    path.write_text('{"type": "object", "properties": {"city": {"type": "string"}}}')
    return path


def test_schema_is_strict_by_default_and_can_be_loose(server: Recorded, schema: Path) -> None:
    def strict() -> Any:
        return server.last()["body"]["response_format"]["json_schema"]["strict"]

    assert send(server, "--schema", str(schema), "hi").returncode == 0
    assert strict() is True
    assert send(server, "--schema", str(schema), "--no-schema-strict", "hi").returncode == 0
    assert strict() is False
    env = {"SSECHAT_SEND_SCHEMA_STRICT": "0"}
    assert send(server, "--schema", str(schema), "hi", env=env).returncode == 0
    assert strict() is False


def test_loose_schema_for_openai_responses_and_refused_where_there_is_no_switch(
    tmp_path: Path, schema: Path
) -> None:
    log = tmp_path / "log.jsonl"
    with serve(TEXT, "--no-delay", "--log-requests", log) as served:  # any capture will do
        base = ["send", "--base-url", served.url, "--retries", "0", "--schema", str(schema)]
        run([*base, "-p", "openai-responses", "--no-schema-strict", "hi"])
        (request,) = json_lines(log.read_bytes())
        assert request["body"]["text"]["format"]["strict"] is False
        for provider in ("anthropic", "gemini"):
            proc = run([*base, "-p", provider, "-m", "m", "--no-schema-strict", "hi"])
            assert proc.returncode == 2, provider
            assert b"--no-schema-strict" in proc.stderr
        assert len(json_lines(log.read_bytes())) == 1


# -- send: SSECHAT_SEND_<OPTION> defaults ------------------------------------------------


def test_environment_defaults_reach_the_request(server: Recorded) -> None:
    env = {
        "SSECHAT_SEND_MODEL": "env-model",
        "SSECHAT_SEND_SYSTEM": "Be brief.",
        "SSECHAT_SEND_HEADER": "X-One: 1\nX-Two: two words",
        "SSECHAT_SEND_TEXT": "1",
    }
    proc = send(server, "hi", env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == b"The capital of Scotland is Edinburgh.\n"  # --text from the env
    request = server.last()
    assert request["body"]["model"] == "env-model"
    assert request["body"]["messages"][0] == {"role": "system", "content": "Be brief."}
    assert request["headers"]["x-one"] == "1" and request["headers"]["x-two"] == "two words"
    assert send(server, "-m", "flag-model", "hi", env=env).returncode == 0
    assert server.last()["body"]["model"] == "flag-model"  # the command line wins


def test_idle_timeout_from_the_environment_takes_effect(tmp_path: Path) -> None:
    with serve(TEXT, "--no-delay", "--fault", "stall-after=2") as served:
        started = time.monotonic()
        proc = run(
            ["send", "--base-url", served.url + "/v1", "hi"],
            env={"SSECHAT_SEND_IDLE_TIMEOUT": "1", "SSECHAT_SEND_RETRIES": "0"},
        )
        elapsed = time.monotonic() - started
    assert proc.returncode == 5, proc.stderr  # the default idle timeout is 60 s
    assert elapsed < 30
    assert b"idle" in proc.stderr


def test_a_bad_environment_default_names_its_variable() -> None:
    proc = run(["send", "hi"], env={"SSECHAT_SEND_RETRIES": "many"})
    assert proc.returncode == 2
    assert b"SSECHAT_SEND_RETRIES" in proc.stderr and len(proc.stderr.splitlines()) == 1


def test_ssechat_provider_still_chooses_the_provider(server: Recorded) -> None:
    proc = run(
        ["send", "--base-url", "https://x.invalid", "hi"], env={"SSECHAT_PROVIDER": "gemini"}
    )
    assert proc.returncode == 2 and b"GEMINI_API_KEY" in proc.stderr
    env = {"SSECHAT_PROVIDER": "gemini", "SSECHAT_SEND_PROVIDER": "anthropic"}
    proc = run(["send", "--base-url", "https://x.invalid", "hi"], env=env)
    assert proc.returncode == 2 and b"ANTHROPIC_API_KEY" in proc.stderr


def test_help_shows_the_variable_of_every_send_option() -> None:
    from ssechat.cli.send import send_cmd

    shown = " ".join(run(["send", "--help"]).stdout.decode().split())
    names = [
        "SSECHAT_SEND_" + max(p.opts, key=len).lstrip("-").replace("-", "_").upper()
        for p in send_cmd.params
        if p.param_type_name == "option"
    ]
    assert len(names) > 30
    missing = [name for name in names if f"env var: {name}" not in shown.replace("- ", "-")]
    assert missing == []


# -- every command: -q and one-line usage errors ----------------------------------------


UNKNOWN = b'event: tick\ndata: {"n": 1}\n\n'


def test_quiet_silences_warnings_but_never_errors() -> None:
    loud = run(["parse-sse"], stdin=UNKNOWN)
    assert loud.returncode == 0 and b"warning" in loud.stderr
    quiet = run(["parse-sse", "-q"], stdin=UNKNOWN)
    assert quiet.returncode == 0 and quiet.stderr == b"" and quiet.stdout == loud.stdout
    cut = TOOLS.read_bytes()[: TOOLS.read_bytes().index(b"data: [DONE]")]
    failed = run(["parse-sse", "--quiet"], stdin=cut)
    assert failed.returncode == 3 and failed.stderr.startswith(b"ssechat: error: ")
    assert run(["-q", "parse-sse"], stdin=UNKNOWN).stderr == b""  # also before the command


def test_quiet_repair_json() -> None:
    assert b"repaired" in run(["repair-json"], stdin=b"{'a': 1}").stderr
    quiet = run(["repair-json", "-q"], stdin=b"{'a': 1}")
    assert quiet.stdout == b'{"a":1}\n'
    assert b"repaired" not in quiet.stderr
    failed = run(["repair-json", "-q"], stdin=b"no json here")
    assert failed.returncode == 3 and failed.stderr.startswith(b"ssechat: error: ")


def test_quiet_send_hides_retry_notices_not_the_error(tmp_path: Path) -> None:
    with serve(TEXT, "--no-delay", "--fault", "status=503", "--fault-requests", "9") as served:
        args = ["send", "--base-url", served.url + "/v1", "--retries", "1"]
        args += ["--backoff-base", "0.01", "hi"]
        loud = run(args)
        quiet = run(["send", "-q", *args[1:]])
    assert loud.returncode == quiet.returncode == 4
    assert len(loud.stderr.splitlines()) > 1  # a retry notice, then the error
    assert len(quiet.stderr.splitlines()) == 1 and quiet.stderr.startswith(b"ssechat: error: ")


def test_quiet_replay_serve_logs_no_requests() -> None:
    for flag, expect_log in (([], True), (["-q"], False)):
        serve_once = ["--serve", "127.0.0.1:0", "--count", "1", "--no-delay", str(TEXT)]
        proc = subprocess.Popen(
            [*ssechat_command(), "replay", *flag, *serve_once],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert proc.stdout is not None
        url = proc.stdout.readline().decode().strip()
        with urllib.request.urlopen(url + "/v1/chat/completions", data=b"{}", timeout=10) as r:
            r.read()
        _, err = proc.communicate(timeout=20)
        assert proc.returncode == 0
        assert (b"POST /v1/chat/completions" in err) is expect_log


@pytest.mark.parametrize(
    "args",
    [
        ["parse-sse", "--bogus"],
        ["parse-sse", "--flush", "sometimes"],
        ["parse-sse", "--events", "--text"],
        ["parse-sse", "no-such-file.sse"],
        ["repair-json", "--indent", "99"],
        ["replay"],
        ["send", "--retries", "-1", "hi"],
        ["send", "--text", "--raw", "hi"],
        ["no-such-command"],
    ],
)
def test_usage_errors_are_one_prefixed_line(args: list[str]) -> None:
    proc = run(args)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("ssechat: error: ") and "--help'" in lines[0]
    assert proc.stdout == b""


# -- parse-sse --text with only tool calls ------------------------------------------------


def test_text_with_only_tool_calls_says_how_many_and_how_to_see_them() -> None:
    proc = run(["parse-sse", "--text", str(TOOLS)])
    assert proc.returncode == 0 and proc.stdout == b""
    (line,) = proc.stderr.decode().splitlines()
    assert line.startswith("ssechat: note: ") and "1 tool call" in line
    assert "without --text" in line and 'select(.type == "tool_call")' in line
    two = run(["parse-sse", "--text"], stdin=TOOLS.read_bytes() * 2)
    assert "2 tool calls" in two.stderr.decode()
    assert run(["parse-sse", "--text", "-q", str(TOOLS)]).stderr == b""


def test_no_note_when_there_is_answer_text() -> None:
    proc = run(["parse-sse", "--text"], stdin=TEXT.read_bytes() + TOOLS.read_bytes())
    assert proc.returncode == 0 and proc.stdout and proc.stderr == b""


def test_the_readme_shows_these_lines_as_they_are() -> None:
    readme = (EXAMPLES.parent / "README.md").read_text()
    usage = run(["parse-sse", "--txt"]).stderr.decode().strip()
    assert f"`{usage}`" in readme
    note = run(["parse-sse", "--text"], stdin=TOOLS.read_bytes() * 2).stderr.decode().strip()
    assert f"\n{note}\n" in readme


def test_send_text_with_only_tool_calls_says_so_too(tmp_path: Path) -> None:
    with serve(TOOLS, "--no-delay") as served:
        args = ["send", "--base-url", served.url + "/v1", "--text", "weather?"]
        proc = run(args)
        quiet = run([*args, "-q"])
    assert proc.returncode == 0 and proc.stdout == b""
    (line,) = proc.stderr.decode().splitlines()
    assert line.startswith("ssechat: note: no answer text, only 1 tool call")
    assert "send without --text" in line
    assert quiet.returncode == 0 and quiet.stderr == b""
