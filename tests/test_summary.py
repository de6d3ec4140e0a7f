"""`--summary`: one object per response, with timing from annotations or a live clock."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

from ssechat.pipeline import Pipeline
from ssechat.summary import Summary
from tests.conftest import EXAMPLES

OPENAI = (EXAMPLES / "openai-text.sse").read_bytes()
TOOLS = (EXAMPLES / "openai-tool-call.sse").read_bytes()


def summarize(
    *inputs: bytes, clock: Callable[[], float] | None = None, chunks: int = 0
) -> list[dict[str, Any]]:
    out = io.BytesIO()
    summary = Summary(out)
    for data in inputs:
        pipeline = Pipeline(summary, clock=clock)
        pieces = [data[i : i + chunks] for i in range(0, len(data), chunks)] if chunks else [data]
        for piece in pieces:
            pipeline.feed(piece)
        pipeline.close()
    summary.close()
    return [json.loads(line) for line in out.getvalue().decode().split("\n") if line]


def annotated(times: list[float], texts: list[str]) -> bytes:
    """A capture: a header, then one `: t=` annotation before each event."""
    parts = [b": ssechat-capture status=200 content-type=text/event-stream\n"]
    chunk = '{"id":"c1","model":"m","choices":[{"index":0,"delta":%s,"finish_reason":%s}]}'
    events = [chunk % ('{"role":"assistant"}', "null")]
    events += [chunk % (json.dumps({"content": text}), "null") for text in texts]
    events += [chunk % ("{}", '"stop"'), "[DONE]"]
    assert len(events) == len(times)
    for seconds, data in zip(times, events, strict=True):
        parts.append(f": t={seconds:.3f}\ndata: {data}\n\n".encode())
    return b"".join(parts)


def test_a_plain_file_has_no_timing() -> None:
    (record,) = summarize(OPENAI)
    assert record["dialect"] == "openai-chat"
    assert record["finish_reason"] == "stop"
    assert record["truncated"] is False and record["errors"] == []
    assert record["events"] == OPENAI.count(b"data:")
    assert record["answer_chars"] > 0
    for key in ("ttft_ms", "duration_ms", "max_gap_ms", "events_per_s"):
        assert record[key] is None


def test_annotations_give_the_timing() -> None:
    data = annotated([0.1, 0.5, 0.6, 1.4, 1.5, 1.5], ["Hel", "lo", "!"])
    (record,) = summarize(data)
    assert record["answer_chars"] == len("Hello!")
    assert record["ttft_ms"] == 500.0  # the first text, not the role chunk
    assert record["duration_ms"] == 1500.0
    assert record["max_gap_ms"] == 800.0
    assert record["events"] == 6
    assert record["events_per_s"] == round(6 / 1.4, 1)
    assert record["http_status"] == 200
    # The same in any chunking.
    assert summarize(data, chunks=7) == [record]


def test_live_input_is_timed_by_the_clock() -> None:
    ticks = iter([0.2, 0.9, 1.0, 5.0])
    data = [b'data: {"content":"a"}\n\n', b'data: {"content":"b"}\n\n', b"", b"data: [DONE]\n\n"]
    out = io.BytesIO()
    summary = Summary(out)
    pipeline = Pipeline(summary, clock=lambda: next(ticks))
    for piece in data:
        pipeline.feed(piece)
    pipeline.close()
    summary.close()
    record = json.loads(out.getvalue())
    assert record["dialect"] == "generic"
    assert record["ttft_ms"] == 200.0
    assert record["duration_ms"] == 5000.0
    assert record["max_gap_ms"] == 4100.0


def test_one_line_per_response_with_tool_names_usage_and_truncation() -> None:
    cut = OPENAI[: OPENAI.index(b"data: [DONE]")]
    records = summarize(TOOLS + cut)
    assert len(records) == 2
    first, second = records
    assert first["tool_calls"] and all(isinstance(name, str) for name in first["tool_calls"])
    assert first["finish_reason"] == "tool_calls" and first["truncated"] is False
    assert second["truncated"] is True and second["finish_reason"] is None
    assert second["usage"] is None or set(second["usage"]) >= {"input_tokens", "output_tokens"}


def test_times_that_start_again_belong_to_the_next_capture() -> None:
    one = annotated([0.1, 0.2, 0.3, 0.4], ["a"])
    two = annotated([0.05, 1.05, 1.1, 1.2], ["b"])
    first, second = summarize(one + two)
    assert first["ttft_ms"] == 200.0
    assert second["ttft_ms"] == 1050.0  # measured from its own request, not the first


def test_errors_and_unrecognised_streams_still_give_a_line() -> None:
    (error,) = summarize(b'{"error": {"message": "bad key", "code": "invalid_api_key"}}')
    assert error["dialect"] is None and error["errors"] == ["bad key"]
    (unknown,) = summarize(b"data: hello\n\ndata: world\n\n")
    assert unknown["dialect"] is None and unknown["events"] == 2
    (overloaded,) = summarize(
        b'event: message_start\ndata: {"type":"message_start","message":{"id":"m","model":"c"}}\n\n'
        b"event: error\n"
        b'data: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n'
    )
    assert overloaded["dialect"] == "anthropic" and overloaded["model"] == "c"
    assert overloaded["errors"] == ["Overloaded"] and overloaded["truncated"] is False


def test_what_comes_after_a_response_ended_is_not_folded_into_it() -> None:
    """`parse-sse --summary a.sse bad-gateway.html`: the error body is a row of its own."""
    tools, html = summarize(TOOLS, b"<html><body>502 Bad Gateway</body></html>\n")
    assert tools["errors"] == [] and tools["finish_reason"] == "tool_calls"
    assert html["dialect"] is None and "not an SSE stream" in html["errors"][0]
    cut = TOOLS[: TOOLS.index(b"data: [DONE]")]
    first, second = summarize(cut, b'{"error": {"message": "bad key"}}')
    assert first["truncated"] is True and first["errors"] == []
    assert second["errors"] == ["bad key"]


def test_the_http_status_of_one_capture_is_not_the_next_ones() -> None:
    error = (
        b': ssechat-capture status=429 content-type=application/json\n{"error": {"message": "x"}}'
    )
    ok = b": ssechat-capture status=200 content-type=text/event-stream\n" + OPENAI
    rows = summarize(error, OPENAI, ok)
    assert [row["http_status"] for row in rows] == [429, None, 200]
    assert rows[0]["errors"] == ["x"] and rows[1]["finish_reason"] == "stop"
