"""`ssechat parse-sse` as users run it: the installed command, in a subprocess."""

from __future__ import annotations

import os
import select
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import (
    EXAMPLES,
    case_input,
    corpus_params,
    json_lines,
    run_ssechat,
    ssechat_command,
)

OPENAI = EXAMPLES / "openai-text.sse"
TOOLS = EXAMPLES / "openai-tool-call.sse"
ANTHROPIC = EXAMPLES / "anthropic-text.sse"
COZE = EXAMPLES / "coze-chat.sse"


def answer(events: list[dict[str, object]]) -> str:
    return "".join(str(e["text"]) for e in events if e["type"] == "delta" and "index" not in e)


def test_default_output_is_normalized_events_for_every_example() -> None:
    for path in (OPENAI, TOOLS, ANTHROPIC, COZE):
        proc = run_ssechat(["parse-sse", str(path)])
        assert proc.returncode == 0, (path.name, proc.stderr)
        assert proc.stderr == b""
        events = json_lines(proc.stdout)
        assert events[0]["type"] == "start" and events[-1]["type"] == "done"
        assert all(next(iter(event)) == "type" for event in events)


def test_tool_calls_come_out_parsed_with_the_id_to_echo() -> None:
    events = json_lines(run_ssechat(["parse-sse", str(TOOLS)]).stdout)
    calls = [e for e in events if e["type"] == "tool_call"]
    assert calls and all(isinstance(c["arguments"], dict) and c["id"] for c in calls)
    deltas = "".join(str(e["arguments"]) for e in events if e["type"] == "tool_call_delta")
    assert deltas  # fragments as they came


def test_text_is_the_answer_only() -> None:
    events = json_lines(run_ssechat(["parse-sse", str(ANTHROPIC)]).stdout)
    proc = run_ssechat(["parse-sse", "--text", str(ANTHROPIC)])
    assert proc.returncode == 0 and proc.stderr == b""
    assert proc.stdout.decode() == answer(events) + "\n"


def test_reasoning_goes_to_stderr_with_text() -> None:
    stream = (
        b'data: {"choices":[{"index":0,"delta":{"reasoning_content":"thinking..."}}]}\n\n'
        b'data: {"choices":[{"index":0,"delta":{"content":"42"}}]}\n\n'
        b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'
    )
    proc = run_ssechat(["parse-sse", "--text", "--reasoning"], stream)
    assert proc.returncode == 0
    assert proc.stdout == b"42\n"
    assert proc.stderr == b"thinking...\n"
    assert run_ssechat(["parse-sse", "--text"], stream).stderr == b""


def test_option_combinations_that_make_no_sense_are_usage_errors() -> None:
    for args in (
        ["--events", "--text"],
        ["--events", "--summary"],
        ["--events", "--dialect", "anthropic"],
        ["--text", "--summary"],
        ["--reasoning"],
        ["--dialect", "nosuch"],
    ):
        proc = run_ssechat(["parse-sse", *args], b"")
        assert proc.returncode == 2, args
        assert b"Traceback" not in proc.stderr


def test_events_mode_is_unchanged() -> None:
    events = json_lines(run_ssechat(["parse-sse", "--events", str(OPENAI)]).stdout)
    assert events[-1] == {"event": "message", "data": "[DONE]"}


def test_an_unrecognised_stream_says_so_once_and_writes_plain_events() -> None:
    proc = run_ssechat(["parse-sse"], b"data: hello\n\ndata: world\n\n")
    assert proc.returncode == 0
    assert json_lines(proc.stdout) == [
        {"event": "message", "data": "hello"},
        {"event": "message", "data": "world"},
    ]
    lines = proc.stderr.decode().strip().split("\n")
    assert len(lines) == 1 and "no dialect recognises" in lines[0]


def test_truncated_stream_is_exit_3_unless_allowed() -> None:
    data = OPENAI.read_bytes()
    cut = data[: data.index(b"data: [DONE]")]
    proc = run_ssechat(["parse-sse"], cut)
    assert proc.returncode == 3
    assert json_lines(proc.stdout)[-1]["code"] == "truncated"
    assert len(proc.stderr.decode().strip().split("\n")) == 1
    allowed = run_ssechat(["parse-sse", "--allow-truncated"], cut)
    assert allowed.returncode == 0 and allowed.stdout == proc.stdout


def test_cuts_inside_events_through_the_installed_command() -> None:
    """A sample of the in-process cut property (tests/test_pipeline.py), as a user runs it."""
    from tests.test_pipeline import CUTTABLE, cut_range

    for name, data in CUTTABLE[:: max(1, len(CUTTABLE) // 8)]:
        first, end = cut_range(data)
        for offset in (first + 1, (first + end) // 2, end - 1):
            proc = run_ssechat(["parse-sse"], data[:offset])
            lines = json_lines(proc.stdout)
            assert proc.returncode == 3, (name, offset, proc.stderr)
            assert lines[-1]["code"] == "truncated", (name, offset)
            assert all(line["type"] != "done" for line in lines), (name, offset)
            assert b"truncated" in proc.stderr and b"Traceback" not in proc.stderr
            allowed = run_ssechat(["parse-sse", "--allow-truncated"], data[:offset])
            assert allowed.returncode == 0 and allowed.stdout == proc.stdout
    # The example: a tool call cut inside an event is not a repaired call.
    proc = run_ssechat(["parse-sse"], TOOLS.read_bytes()[:1500])
    call = [line for line in json_lines(proc.stdout) if line["type"] == "tool_call"][-1]
    assert call["error"] == "incomplete" and "repaired" not in call
    assert proc.returncode == 3 and json_lines(proc.stdout)[-1]["code"] == "truncated"


def test_mixed_examples_on_stdin_keep_every_response() -> None:
    """`cat examples/*.sse | ssechat parse-sse`: each response, in every output mode."""
    data = b"".join(path.read_bytes() for path in sorted(EXAMPLES.glob("*.sse")))
    lines = json_lines(run_ssechat(["parse-sse"], data).stdout)
    starts = [line["provider"] for line in lines if line["type"] == "start"]
    assert starts == ["anthropic", "coze", "openai-chat", "openai-chat"]
    assert [line["type"] for line in lines].count("done") == 4
    summary = run_ssechat(["parse-sse", "--summary"], data)
    records = json_lines(summary.stdout)
    assert summary.returncode == 0 and [r["dialect"] for r in records] == starts
    alone = [
        json_lines(run_ssechat(["parse-sse", "--summary", str(p)]).stdout)[0]
        for p in sorted(EXAMPLES.glob("*.sse"))
    ]
    assert [r["events"] for r in records] == [r["events"] for r in alone]
    text = run_ssechat(["parse-sse", "--text"], data).stdout
    paths = sorted(EXAMPLES.glob("*.sse"))
    assert text == b"".join(run_ssechat(["parse-sse", "--text", str(p)]).stdout for p in paths)


def test_error_event_in_the_stream_is_exit_3_with_the_events_kept() -> None:
    data = ANTHROPIC.read_bytes()
    cut = data[: data.index(b"event: content_block_stop")]
    error = b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'
    failing = cut + b"event: error\ndata: " + error + b"\n\n"
    proc = run_ssechat(["parse-sse"], failing)
    assert proc.returncode == 3
    events = json_lines(proc.stdout)
    assert {"type": "error", "message": "Overloaded", "code": "overloaded_error"} in events
    assert answer(events)
    assert b"Overloaded" in proc.stderr


def test_json_error_body_after_curl_i_headers() -> None:
    data = (
        b"HTTP/2 401 \r\ncontent-type: application/json\r\n\r\n"
        b'{"error":{"message":"Incorrect API key provided","type":"invalid_request_error",'
        b'"code":"invalid_api_key"}}\n'
    )
    proc = run_ssechat(["parse-sse"], data)
    assert proc.returncode == 3
    assert json_lines(proc.stdout) == [
        {"type": "error", "message": "Incorrect API key provided", "code": "invalid_api_key"}
    ]
    assert b"401" in proc.stderr


def test_curl_i_with_crlf_and_keep_alive_comments() -> None:
    body = (
        OPENAI.read_bytes()
        .replace(b"\n", b"\r\n")
        .replace(b"data: [DONE]", b": keep-alive\r\n\r\ndata: [DONE]")
    )
    proc = run_ssechat(
        ["parse-sse"], b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n" + body
    )
    plain = run_ssechat(["parse-sse", str(OPENAI)])
    assert proc.returncode == 0 and proc.stderr == b""
    assert proc.stdout == plain.stdout


def test_each_file_is_its_own_stream_and_responses_back_to_back_each_get_start_done(
    tmp_path: Path,
) -> None:
    both = tmp_path / "both.sse"
    both.write_bytes(OPENAI.read_bytes() + OPENAI.read_bytes())
    proc = run_ssechat(["parse-sse", str(both), str(ANTHROPIC)])
    kinds = [e["type"] for e in json_lines(proc.stdout)]
    assert kinds.count("start") == kinds.count("done") == 3
    providers = [e["provider"] for e in json_lines(proc.stdout) if e["type"] == "start"]
    assert providers == ["openai-chat", "openai-chat", "anthropic"]


def test_forcing_a_dialect() -> None:
    detected = run_ssechat(["parse-sse", str(COZE)])
    forced = run_ssechat(["parse-sse", "--dialect", "coze", str(COZE)])
    assert forced.stdout == detected.stdout
    wrong = run_ssechat(["parse-sse", "--dialect", "anthropic", str(OPENAI)])
    assert wrong.stdout == b"" and wrong.returncode == 0  # nothing of it is Anthropic


def test_summary_is_one_line_per_response_for_ci_checks(tmp_path: Path) -> None:
    capture = tmp_path / "cap.sse"
    capture.write_bytes(
        b": ssechat-capture status=200 content-type=text/event-stream\n"
        + OPENAI.read_bytes().replace(b"data: ", b": t=0.250\ndata: ")
    )
    proc = run_ssechat(["parse-sse", "--summary", str(capture)])
    assert proc.returncode == 0
    (record,) = json_lines(proc.stdout)
    assert record["finish_reason"] == "stop" and record["dialect"] == "openai-chat"
    assert record["ttft_ms"] == 250.0 and record["http_status"] == 200
    data = OPENAI.read_bytes()
    cut = run_ssechat(["parse-sse", "--summary"], data[: data.index(b"data: [DONE]")])
    assert cut.returncode == 3 and json_lines(cut.stdout)[0]["truncated"] is True


def test_summary_on_live_input_measures_time() -> None:
    proc = run_ssechat(["parse-sse", "--summary"], OPENAI.read_bytes())
    (record,) = json_lines(proc.stdout)
    assert isinstance(record["ttft_ms"], float) and record["ttft_ms"] >= 0


def test_text_on_a_pipe_arrives_before_the_end_of_input() -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    with subprocess.Popen(
        [*ssechat_command(), "parse-sse", "--text"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    ) as proc:
        assert proc.stdin and proc.stdout
        for word in ("one", "two"):
            proc.stdin.write(b'data: {"content": "%s"}\n\n' % word.encode())
            proc.stdin.flush()
            ready, _, _ = select.select([proc.stdout], [], [], 10)
            assert ready, "no output arrived: a missing flush?"
            assert os.read(proc.stdout.fileno(), 100) == word.encode()
        proc.stdin.write(b"data: [DONE]\n\n")
        proc.stdin.close()
        assert proc.wait(10) == 0
        assert proc.stdout.read() == b"\n"


def test_help_documents_every_option_and_shows_jq_recipes() -> None:
    out = run_ssechat(["parse-sse", "--help"]).stdout.decode()
    for option in (
        "--text",
        "--reasoning",
        "--summary",
        "--events",
        "--dialect",
        "--allow-truncated",
        "--eof",
        "--max-event-bytes",
        "--flush",
    ):
        assert option in out
    assert "stderr" in out.split("--reasoning")[1].split("--summary")[0]
    assert "jq" in out.split("Examples:")[1]


@pytest.mark.parametrize("case", corpus_params("sse/cases.jsonl"))
def test_sse_conformance_through_the_installed_command(case: dict[str, Any]) -> None:
    """The WHATWG corpus as a user runs it: `parse-sse --events --eof discard`."""
    proc = run_ssechat(["parse-sse", "--events", "--eof", "discard"], case_input(case))
    assert proc.returncode == 0, proc.stderr
    assert json_lines(proc.stdout) == case["expected"]


@pytest.mark.parametrize("case", corpus_params("providers/streams.jsonl"))
def test_provider_corpus_through_the_installed_command(case: dict[str, Any]) -> None:
    """Each real provider stream, as a user pipes it in: answer, calls, end, exit status."""
    proc = run_ssechat(["parse-sse"], case_input(case))
    events = json_lines(proc.stdout)
    want = case["expected"]
    assert answer(events) == want.get("text", "")
    reasoning = "".join(str(e["text"]) for e in events if e["type"] == "reasoning")
    assert reasoning == want.get("reasoning", "")
    calls = [
        {"name": e["name"], "arguments": e["arguments"]} for e in events if e["type"] == "tool_call"
    ]
    want_calls = [
        {"name": c["name"], "arguments": c["arguments"]} for c in want.get("tool_calls") or []
    ]
    assert calls == want_calls
    finishes = [e["finish_reason"] for e in events if e["type"] == "done"]
    assert (finishes[-1] if finishes else None) == want.get("finish_reason")
    complete = case.get("complete", True) and not want.get("error")
    assert (proc.returncode == 0) == complete, proc.stderr


def test_the_cli_names_every_dialect() -> None:
    from ssechat import dialects
    from ssechat.cli.parse_sse import DIALECT_NAMES

    assert DIALECT_NAMES == dialects.NAMES


def test_a_saved_http_error_is_exit_3_when_parsed_again(tmp_path: Path) -> None:
    """`send --save` of a 429, then `parse-sse` of the capture: the error, not silence."""
    from tests.test_replay import serve

    capture = tmp_path / "cap.sse"
    with serve(OPENAI, "--no-delay", "--fault", "status=429") as served:
        base = ["send", "--base-url", served.url + "/v1", "--retries", "0", "--no-auth"]
        sent = run_ssechat([*base, "--save", str(capture), "hi"])
    assert sent.returncode == 4
    parsed = run_ssechat(["parse-sse", str(capture)])
    assert parsed.returncode == 3
    (error,) = json_lines(parsed.stdout)
    assert error["type"] == "error" and "429" in error["message"]
