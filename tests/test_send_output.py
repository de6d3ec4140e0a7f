"""send's writers: parse-sse's sinks for each mode, --final from the fold, send's own lines."""

from __future__ import annotations

import io
from typing import Any

from ssechat.send_output import Mode, Output
from tests.conftest import json_lines

START = {"type": "start", "provider": "openai-chat"}
HELLO = {"type": "delta", "text": "Hello"}
DONE = {"type": "done", "finish_reason": "stop"}
RETRY = {"type": "retry", "attempt": 1, "reason": "x", "delay": 0.1, "resume": "restart"}


def output(mode: Mode, final: bool = False) -> tuple[Output, io.BytesIO]:
    out = io.BytesIO()
    return Output(out, mode, final=final, flush_each=False), out


def feed(made: Output, *events: dict[str, Any]) -> None:
    for event in events:
        made.events([event], None, True)


def test_each_mode_writes_what_parse_sse_writes() -> None:
    made, out = output(Mode.JSON)
    feed(made, START, HELLO, DONE)
    made.retry(RETRY)
    made.finish()
    assert json_lines(out.getvalue()) == [START, HELLO, DONE, RETRY] and made.begun
    made, out = output(Mode.TEXT)
    feed(made, START, HELLO, DONE)
    made.retry(RETRY)  # never in text
    made.close()
    assert out.getvalue() == b"Hello\n"
    made, out = output(Mode.SUMMARY)
    feed(made, START, HELLO, DONE)
    made.close()
    record = json_lines(out.getvalue())[0]
    assert (
        record["events"] == 3 and record["answer_chars"] == 5 and record["finish_reason"] == "stop"
    )


def test_final_writes_the_answer_of_a_complete_response_only() -> None:
    made, out = output(Mode.JSON, final=True)
    feed(made, START, HELLO)
    made.finish()
    assert out.getvalue() == b"" and not made.begun
    feed(made, DONE)
    made.finish()
    assert json_lines(out.getvalue()) == [
        {"text": "Hello", "tool_calls": [], "finish_reason": "stop", "usage": None}
    ]
    made, out = output(Mode.TEXT, final=True)
    feed(made, START, HELLO, DONE)
    made.finish()
    assert out.getvalue() == b"Hello\n"


def test_a_restart_forgets_the_summary_and_the_answer_so_far() -> None:
    made, out = output(Mode.SUMMARY)
    feed(made, START, HELLO)
    made.new_response()
    feed(made, START, DONE)
    made.close()
    records = json_lines(out.getvalue())
    assert len(records) == 1 and records[0]["answer_chars"] == 0
    made, out = output(Mode.JSON, final=True)
    feed(made, START, HELLO)
    made.new_response()
    feed(made, START, DONE)
    made.finish()
    assert json_lines(out.getvalue())[0]["text"] == ""


def test_raw_and_events_modes_write_sends_own_lines() -> None:
    made, out = output(Mode.RAW)
    made.body(b"data: x\n\n")
    feed(made, START)  # normalized events are not written in --raw
    assert out.getvalue() == b"data: x\n\n" and made.begun
    made, out = output(Mode.EVENTS)
    from ssechat.sse import Event

    made.event_lines([Event("message", "x", "")])
    made.retry(RETRY)
    made.finish()
    assert json_lines(out.getvalue()) == [{"event": "message", "data": "x"}, RETRY]
