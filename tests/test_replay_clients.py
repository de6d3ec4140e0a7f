"""Real clients against `ssechat replay --serve`: curl, and the provider SDKs.

Each client reads the replayed stream, and what it finds (answer text, tool
calls with parsed arguments) must be what `ssechat parse-sse` finds in the
capture. The SDKs (openai, anthropic, cozepy) come with the test extra and
must import; only curl, a system tool, may be missing (a skip names it).
"""

from __future__ import annotations

import importlib
import io
import json
import shutil
import subprocess
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ssechat.cli import main
from ssechat.cli.environment import Environment
from ssechat.replay.faults import GARBAGE
from tests.conftest import EXAMPLES, case_input, json_lines, load_corpus, run_ssechat
from tests.test_replay import Served, serve

Answer = tuple[str, list[tuple[str, Any]]]  # text, [(tool name, arguments)]


def sdk(name: str) -> Any:
    """Import an SDK (the test extra has them all); cozepy's import warns about authlib.

    authlib's import turns its own warnings to "always" (`warnings.simplefilter`), so
    an ignore filter cannot hold it: the import's warnings are recorded and every
    other one is raised again.
    """
    with warnings.catch_warnings(record=True) as caught:
        module = importlib.import_module(name)
    for warning in caught:
        if "authlib.jose module is deprecated" not in str(warning.message):
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )
    return module


def reference(capture: Path) -> Answer:
    """What `ssechat parse-sse` finds in the capture: text of choice 0 and tool calls.

    parse-sse runs in-process here (through main(), as the console script
    does): it is the oracle, not the thing under test, and an oracle that
    breaks fails the test.
    """
    out, err = io.BytesIO(), io.BytesIO()
    env = Environment(
        stdin=io.BytesIO(),
        stdout=out,
        stderr=err,
        stdin_text=io.StringIO(),
        stdout_text=io.TextIOWrapper(out, write_through=True),
        stderr_text=io.TextIOWrapper(err, write_through=True),
        environ={},
    )
    status = main(["parse-sse", str(capture)], env)
    assert status in (0, 3), err.getvalue().decode()
    lines = json_lines(out.getvalue())
    assert lines and all("type" in line for line in lines), out.getvalue()[:500]
    text = "".join(
        line["text"] for line in lines if line["type"] == "delta" and not line.get("index")
    )
    calls = [(line["name"], line["arguments"]) for line in lines if line["type"] == "tool_call"]
    return text, calls


def corpus_cases(*dialects: str, complete_only: bool = False) -> list[dict[str, Any]]:
    return [
        case
        for case in load_corpus("providers/streams.jsonl")
        if case["dialect"] in dialects and (case["complete"] or not complete_only)
    ]


def check_corpus(
    client: Callable[[Served], Answer], cases: list[dict[str, Any]], tmp: Path
) -> None:
    """Serve every case from one server (request i gets case i); the client must read
    each one to what parse-sse finds. All cases run; the failures are listed together."""
    paths = []
    for case in cases:
        path = tmp / f"{case['name']}.sse"
        path.write_bytes(case_input(case))
        paths.append(path)
    failures = []
    with serve(*paths, "--no-delay") as server:
        for path, case in zip(paths, cases, strict=True):
            try:
                got: Any = client(server)
            except Exception as exc:  # listed with the case's name below
                got = exc
            want = reference(path)
            if got != want:
                failures.append((case["name"], got, want))
    assert failures == []
    assert len(cases) > 1


# -- curl ------------------------------------------------------------------------------

CURL = shutil.which("curl")
needs_curl = pytest.mark.skipif(CURL is None, reason="curl is not on PATH (CI installs it)")


@needs_curl
def test_curl_reads_every_capture_byte_for_byte_and_parse_sse_agrees(tmp_path: Path) -> None:
    """One server with every example and corpus capture; request i gets capture i."""
    paths = sorted(EXAMPLES.glob("*.sse"))
    for case in load_corpus("providers/streams.jsonl"):
        path = tmp_path / f"{case['name']}.sse"
        path.write_bytes(case_input(case))
        paths.append(path)
    received = []
    with serve(*paths, "--no-delay", "--count", str(len(paths))) as server:
        for n, path in enumerate(paths):
            out = tmp_path / f"curl-{n}.out"
            curl = subprocess.run(
                [CURL or "curl", "-sSN", "--fail", f"{server.url}/v1/chat/completions", "-d", "{}"],
                capture_output=True,
                timeout=20,
            )
            assert curl.returncode == 0, (path.name, curl.stderr)
            assert curl.stdout == path.read_bytes(), path.name
            out.write_bytes(curl.stdout)
            received.append(str(out))
        assert server.proc.wait(20) == 0
    # parse-sse reads each FILE as its own stream: one run for each side
    piped = run_ssechat(["parse-sse", *received])
    direct = run_ssechat(["parse-sse", *map(str, paths)])
    assert (piped.returncode, piped.stdout) == (direct.returncode, direct.stdout)


@needs_curl
def test_curl_sees_status_retry_after_and_a_reset() -> None:
    example = EXAMPLES / "openai-text.sse"
    with serve(example, "--fault", "status=503,retry-after=3") as server:
        curl = subprocess.run(
            [CURL or "curl", "-sSi", f"{server.url}/v1/chat/completions", "-d", "{}"],
            capture_output=True,
            timeout=20,
        )
    head = curl.stdout.split(b"\r\n\r\n")[0].lower()
    assert head.startswith(b"http/1.1 503") and b"retry-after: 3" in head
    with serve(example, "--fault", "drop-after=2") as server:
        curl = subprocess.run(
            [CURL or "curl", "-sSN", f"{server.url}/v1/chat/completions", "-d", "{}"],
            capture_output=True,
            timeout=20,
        )
    assert curl.returncode in (18, 56)  # partial file / failure receiving (reset)
    assert curl.stdout.count(b"data:") == 2


# -- openai ----------------------------------------------------------------------------


def openai_chat(server: Served, **client_options: Any) -> Answer:
    openai = sdk("openai")
    text = ""
    calls: dict[int, dict[str, str]] = {}
    with openai.OpenAI(base_url=server.url + "/v1", api_key="test", **client_options) as client:
        stream = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        for chunk in stream:
            for choice in chunk.choices:
                if choice.index != 0:
                    continue
                text += choice.delta.content or ""
                for call in choice.delta.tool_calls or []:
                    entry = calls.setdefault(call.index, {"name": "", "arguments": ""})
                    if call.function is not None:
                        entry["name"] += call.function.name or ""
                        entry["arguments"] += call.function.arguments or ""
    return text, [(c["name"], json.loads(c["arguments"] or "{}")) for _, c in sorted(calls.items())]


CHAT_EXAMPLES = [EXAMPLES / "openai-text.sse", EXAMPLES / "openai-tool-call.sse"]


@pytest.mark.parametrize("path", CHAT_EXAMPLES, ids=lambda p: p.name)
def test_openai_chat_sdk_on_examples(path: Path) -> None:
    with serve(path) as server:
        assert openai_chat(server, max_retries=0) == reference(path)


def test_openai_chat_sdk_on_the_corpus(tmp_path: Path) -> None:
    check_corpus(
        lambda server: openai_chat(server, max_retries=0),
        corpus_cases("openai-chat", "deepseek", "mistral"),
        tmp_path,
    )


def test_openai_sdk_sees_429_and_retries_past_it() -> None:
    openai = sdk("openai")
    path = EXAMPLES / "openai-text.sse"
    with serve(path, "--fault", "status=429,retry-after=0.2") as server:
        with pytest.raises(openai.RateLimitError) as caught:
            openai_chat(server, max_retries=0)
        assert caught.value.response.headers["retry-after"] == "0.2"
        assert caught.value.body["type"] == "rate_limit_error"
    with serve(path, "--fault", "status=429,retry-after=0.2") as server:
        assert openai_chat(server, max_retries=2) == reference(path)
        server.stop()
    assert server.stderr.count(b" -> 429 ") == 1 and server.stderr.count(b" -> 200 ") == 1


def test_openai_sdk_sees_a_drop_and_garbage_as_errors() -> None:
    openai = sdk("openai")
    httpx = sdk("httpx")
    path = EXAMPLES / "openai-text.sse"
    with (
        serve(path, "--fault", "drop-after=3") as server,
        pytest.raises((httpx.RemoteProtocolError, httpx.ReadError, openai.APIConnectionError)),
    ):
        openai_chat(server, max_retries=0)
    with serve(path, "--fault", "garbage-after=2") as server, pytest.raises(ValueError):
        openai_chat(server, max_retries=0)  # the SDK's json.loads of the garbage data line
    assert b"data:" in GARBAGE


def test_openai_sdk_times_out_on_a_stall() -> None:
    openai = sdk("openai")
    httpx = sdk("httpx")
    path = EXAMPLES / "openai-text.sse"
    with serve(path, "--fault", "stall-after=1", "--count", "1") as server:
        with pytest.raises((httpx.ReadTimeout, openai.APITimeoutError)):
            openai_chat(server, max_retries=0, timeout=0.5)
        assert server.proc.wait(10) == 0  # the abandoned stall counts as handled


def openai_responses(server: Served) -> Answer:
    openai = sdk("openai")
    text = ""
    calls: list[tuple[str, Any]] = []
    with openai.OpenAI(base_url=server.url + "/v1", api_key="test", max_retries=0) as client:
        stream = client.responses.create(model="gpt-4.1", input="hi", stream=True)
        for event in stream:
            if event.type == "response.output_text.delta":
                text += event.delta
            elif event.type == "response.output_item.done" and event.item.type == "function_call":
                calls.append((event.item.name, json.loads(event.item.arguments or "{}")))
    return text, calls


def test_openai_responses_sdk_on_the_corpus(tmp_path: Path) -> None:
    check_corpus(openai_responses, corpus_cases("openai-responses"), tmp_path)


# -- anthropic -------------------------------------------------------------------------


def anthropic_stream(server: Served) -> Answer:
    anthropic = sdk("anthropic")
    with (
        anthropic.Anthropic(base_url=server.url, api_key="test", max_retries=0) as client,
        client.messages.stream(
            model="claude-replay-test", max_tokens=256, messages=[{"role": "user", "content": "hi"}]
        ) as stream,
    ):
        for _ in stream:
            pass
        message = stream.get_final_message()
    text = "".join(block.text for block in message.content if block.type == "text")
    calls = [(block.name, block.input) for block in message.content if block.type == "tool_use"]
    return text, calls


def test_anthropic_sdk_on_the_example() -> None:
    path = EXAMPLES / "anthropic-text.sse"
    with serve(path) as server:
        assert anthropic_stream(server) == reference(path)


def test_anthropic_sdk_on_the_corpus(tmp_path: Path) -> None:
    # The SDK raises on an error event mid-stream: that case is checked on its own below.
    check_corpus(anthropic_stream, corpus_cases("anthropic", complete_only=True), tmp_path)


def test_anthropic_sdk_raises_on_an_error_event_mid_stream(tmp_path: Path) -> None:
    anthropic = sdk("anthropic")
    (case,) = [c for c in corpus_cases("anthropic") if c["expected"]["error"]]
    path = tmp_path / "error.sse"
    path.write_bytes(case_input(case))
    with serve(path) as server, pytest.raises(anthropic.APIStatusError, match="Overloaded"):
        anthropic_stream(server)


def test_anthropic_sdk_sees_overloaded_529() -> None:
    anthropic = sdk("anthropic")
    with (
        serve(EXAMPLES / "anthropic-text.sse", "--fault", "status=529") as server,
        pytest.raises(anthropic.APIStatusError) as caught,
    ):
        anthropic_stream(server)
    assert caught.value.status_code == 529
    assert caught.value.body["error"]["type"] == "overloaded_error"


# -- coze ------------------------------------------------------------------------------


def coze_stream(server: Served) -> Answer:
    cozepy = sdk("cozepy")
    text = ""
    calls: list[tuple[str, Any]] = []
    with cozepy.SyncHTTPClient() as http_client:
        coze = cozepy.Coze(
            auth=cozepy.TokenAuth("test"), base_url=server.url, http_client=http_client
        )
        events = list(
            coze.chat.stream(
                bot_id="bot",
                user_id="user",
                additional_messages=[cozepy.Message.build_user_question_text("hi")],
            )
        )
    for event in events:
        if event.event == cozepy.ChatEventType.CONVERSATION_MESSAGE_DELTA:
            if event.message.type == cozepy.MessageType.ANSWER:
                text += event.message.content
        elif event.event == cozepy.ChatEventType.CONVERSATION_MESSAGE_COMPLETED:
            if event.message.type == cozepy.MessageType.FUNCTION_CALL:
                call = json.loads(event.message.content)
                calls.append((call["name"], call["arguments"]))
        elif event.event == cozepy.ChatEventType.CONVERSATION_CHAT_REQUIRES_ACTION:
            action = event.chat.required_action.submit_tool_outputs
            for tool_call in action.tool_calls:
                fn = tool_call.function
                calls.append((fn.name, json.loads(fn.arguments or "{}")))
    return text, calls


def test_cozepy_on_the_example() -> None:
    path = EXAMPLES / "coze-chat.sse"
    with serve(path) as server:
        assert coze_stream(server) == reference(path)


def test_cozepy_on_the_corpus(tmp_path: Path) -> None:
    check_corpus(coze_stream, corpus_cases("coze", complete_only=True), tmp_path)
