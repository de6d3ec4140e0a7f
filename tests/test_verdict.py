"""One verdict: the same bytes through `parse-sse` and through `send` say the same thing.

`send` is the HTTP transport in front of the pipeline, writers, fold and
verdict of `parse-sse` (DESIGN.md sections 1 and 4). Each stream here, whole
and cut, is served by a real local server (`ssechat replay --serve`) and read
by the installed command both ways, in every output mode: the same lines,
text, summary (but for the timing and the HTTP status that only `send`
knows) and exit status. `send.Session` is also driven in-process, against a
fake stream, for the cases a server cannot make in milliseconds.
"""

from __future__ import annotations

import io
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from ssechat import send as send_module
from ssechat.errors import InputError
from ssechat.providers import Request
from ssechat.send_output import Mode
from ssechat.transport.failures import StreamFailure
from tests.conftest import EXAMPLES, json_lines, run_ssechat, ssechat_command

KEYS = {"OPENAI_API_KEY": "sk-test-verdict", "ANTHROPIC_API_KEY": "sk-test-verdict"}
LIVE = ("ttft_ms", "duration_ms", "max_gap_ms", "events_per_s", "http_status")

LENGTH_CALL = (
    b'data: {"id":"c1","model":"m","choices":[{"index":0,"delta":{"role":"assistant",'
    b'"content":""},"finish_reason":null}]}\n\n'
    b'data: {"id":"c1","model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,'
    b'"id":"a","function":{"name":"f","arguments":"{\\"x\\": \\"unf"}}]},'
    b'"finish_reason":null}]}\n\n'
    b'data: {"id":"c1","model":"m","choices":[{"index":0,"delta":{},"finish_reason":"length"}]}\n\n'
    b"data: [DONE]\n\n"
)


def _streams() -> list[tuple[str, str, bytes]]:
    """(name, send provider, bytes): whole, cut at an event boundary, cut mid-event."""
    cases = [
        ("length-call", "openai", LENGTH_CALL),
        ("html-page", "openai", b"<html><body><h1>502 Bad Gateway</h1></body></html>\n"),
        ("error-only", "openai", b"event:error\ndata:{}\n\n"),
    ]
    for path, provider in (
        (EXAMPLES / "openai-text.sse", "openai"),
        (EXAMPLES / "openai-tool-call.sse", "openai"),
        (EXAMPLES / "anthropic-text.sse", "anthropic"),
    ):
        data = path.read_bytes()
        boundary = data.index(b"\n\n", len(data) // 2) + 2
        cases += [
            (path.stem, provider, data),
            (path.stem + "-cut-between", provider, data[:boundary]),
            (path.stem + "-cut-inside", provider, data[: boundary + 25]),
        ]
    return cases


STREAMS = _streams()


@contextmanager
def serving(capture: Path) -> Iterator[str]:
    args = [*ssechat_command(), "replay", str(capture), "--serve", "127.0.0.1:0", "--no-delay"]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().decode().strip()
        assert url.startswith("http://127.0.0.1:"), url
        yield url
    finally:
        process.terminate()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


def _final(lines: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The --final answer a consumer folds from parse-sse's lines; None: not complete."""
    if not lines or lines[-1]["type"] != "done":
        return None
    calls = [{k: v for k, v in e.items() if k != "type"} for e in lines if e["type"] == "tool_call"]
    usage = [{k: v for k, v in e.items() if k != "type"} for e in lines if e["type"] == "usage"]
    return {
        "text": "".join(e["text"] for e in lines if e["type"] == "delta" and "index" not in e),
        "tool_calls": calls,
        "finish_reason": lines[-1]["finish_reason"],
        "usage": usage[-1] if usage else None,
    }


@pytest.mark.parametrize(("name", "provider", "data"), STREAMS, ids=[s[0] for s in STREAMS])
def test_send_and_parse_sse_agree_in_every_mode(
    tmp_path: Path, name: str, provider: str, data: bytes
) -> None:
    capture = tmp_path / f"{name}.sse"
    capture.write_bytes(data)
    parsed = {
        mode: run_ssechat(["parse-sse", *mode], data) for mode in ((), ("--text",), ("--summary",))
    }
    with serving(capture) as url:

        def send(*mode: str) -> subprocess.CompletedProcess[bytes]:
            args = ["send", "-p", provider, "--base-url", url, "--retries", "0", *mode, "hi"]
            return run_ssechat(args, env=KEYS)

        sent = {mode: send(*mode) for mode in ((), ("--text",), ("--summary",))}
        final, final_text = send("--final"), send("--final", "--text")
    status = parsed[()].returncode
    assert status in (0, 3)
    for mode, proc in sent.items():
        assert proc.returncode == status, (mode, proc.stderr)
        assert b"Traceback" not in proc.stderr
    assert sent[()].stdout == parsed[()].stdout
    assert sent[("--text",)].stdout == parsed[("--text",)].stdout
    summaries = [json_lines(p.stdout) for p in (sent[("--summary",)], parsed[("--summary",)])]
    for summary in summaries:
        for record in summary:
            for key in LIVE:
                record.pop(key)
    assert summaries[0] == summaries[1]
    answer = _final(json_lines(parsed[()].stdout))
    assert final.returncode == final_text.returncode == status
    if answer is None:  # nothing complete: --final prints nothing
        assert final.stdout == final_text.stdout == b""
    else:
        assert json_lines(final.stdout) == [answer]
        text = answer["text"]
        assert final_text.stdout.decode() == (text if text.endswith("\n") else text + "\n")


# -- send.Session in-process, against a fake stream ---------------------------------


class FakeStream:
    def __init__(self, body: bytes, content_type: str = "text/event-stream") -> None:
        self.status = 200
        self.content_type = content_type
        self.headers = {"content-type": content_type}
        self.body = body

    def read_body(self) -> bytes:
        return self.body


def session(mode: Mode = Mode.JSON, **options: Any) -> Any:
    request = Request("POST", "http://127.0.0.1:9/v1/chat", {}, {}, "openai", "openai-chat")
    out = io.BytesIO()
    notices: list[str] = []
    made = send_module.Session(
        request, send_module.Options(mode=mode, **options), out, notices.append, ["sk-x"]
    )
    return made, out, notices


def attempt(made: Any, body: bytes, reads: int = 7) -> BaseException | None:
    """One attempt with no retry: the body in a few reads, then the end (as transport.Loop)."""
    try:
        made.on_open(FakeStream(body))
        step = max(1, len(body) // reads)
        for at in range(0, len(body), step):
            made.on_chunk(body[at : at + step], 0.0)
        made.on_end()
    except (StreamFailure, InputError) as failure:
        if isinstance(failure, StreamFailure):
            made.give_up(failure)
        return failure
    finally:
        made.close()
    return None


def test_session_in_process_matches_parse_sse_on_every_example() -> None:
    for path in sorted(EXAMPLES.glob("*.sse")):
        data = path.read_bytes()
        for body in (data, data[: len(data) // 2]):
            made, out, _ = session()
            failure = attempt(made, body)
            parsed = run_ssechat(["parse-sse"], body)
            assert out.getvalue() == parsed.stdout, path.name
            assert (failure is None) == (parsed.returncode == 0), path.name


def test_session_length_cut_call_is_exit_3_and_final_still_prints_the_answer() -> None:
    made, out, _ = session(final=True)
    failure = attempt(made, LENGTH_CALL)
    assert isinstance(failure, InputError) and "tool call" in str(failure)
    answer = json_lines(out.getvalue())
    assert answer[0]["finish_reason"] == "length"
    assert answer[0]["tool_calls"][0]["error"] == "incomplete"


def test_session_final_prints_nothing_without_a_complete_response() -> None:
    data = (EXAMPLES / "openai-text.sse").read_bytes()
    made, out, _ = session(final=True)
    failure = attempt(made, data[: len(data) // 2])
    assert isinstance(failure, StreamFailure) and out.getvalue() == b""


def test_session_summary_counts_sse_events_as_parse_sse() -> None:
    data = (EXAMPLES / "anthropic-text.sse").read_bytes()  # pings and stops say nothing
    made, out, _ = session(Mode.SUMMARY)
    assert attempt(made, data) is None
    parsed = json_lines(run_ssechat(["parse-sse", "--summary"], data).stdout)
    assert json_lines(out.getvalue())[0]["events"] == parsed[0]["events"]
