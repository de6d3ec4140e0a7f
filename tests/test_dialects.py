"""The dialects: every provider stream of the shared corpus, then small hand-made streams.

The corpus test folds the normalized events the way the shared conformance
tool does (text, reasoning, tool calls, finish reason, usage, error) and
compares with each case's expected values. The hand-made streams cover every
event kind each dialect reads, one assertion per behaviour.
"""

# The provider events below are written as the wire has them, one per line:
# long JSON literals (E501), filled in with %-formatting, which keeps their
# braces readable (UP031).
# ruff: noqa: E501, UP031

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssechat import dialects
from ssechat.dialects.anthropic import Anthropic
from ssechat.dialects.calls import INCOMPLETE
from ssechat.dialects.openai_chat import OpenAIChat
from ssechat.errors import InputError
from ssechat.normalized import TRUNCATED, NormalizedEvent, Sink
from ssechat.pipeline import Outcome, Pipeline
from ssechat.sse import Decoder, Event
from tests.conftest import case_input, corpus_params


class ListSink(Sink):
    """A pipeline sink that keeps everything, for assertions."""

    def __init__(self) -> None:
        self.events: list[NormalizedEvent] = []
        self.lines: list[bytes] = []

    def write(self, events: list[NormalizedEvent]) -> None:
        self.events.extend(events)

    def raw(self, lines: list[bytes]) -> None:
        self.lines.extend(lines)

    def close(self) -> None:
        pass


def normalize(
    data: bytes, *, dialect: str | None = None, chunks: list[bytes] | None = None
) -> tuple[list[NormalizedEvent], Outcome]:
    sink = ListSink()
    pipeline = Pipeline(sink, dialect=dialect)
    for chunk in chunks if chunks is not None else [data]:
        pipeline.feed(chunk)
    outcome = pipeline.close()
    return sink.events, outcome


def fold(events: list[NormalizedEvent]) -> dict[str, Any]:
    """The summary the provider corpus is written in (as the shared conformance tool folds)."""
    text: list[str] = []
    reasoning: list[str] = []
    calls: list[dict[str, Any]] = []
    finish = usage = error = None
    for event in events:
        kind = event["type"]
        if kind == "delta" and not event.get("index"):
            text.append(event["text"])
        elif kind == "reasoning":
            reasoning.append(event["text"])
        elif kind == "tool_call":
            calls.append({k: event.get(k) for k in ("id", "name", "arguments")})
        elif kind == "done":
            finish = event["finish_reason"]
        elif kind == "usage":
            usage = {k: event.get(k) for k in ("input_tokens", "output_tokens")}
        elif kind == "error" and event.get("code") != TRUNCATED:
            error = event["message"]
    return {
        "text": "".join(text),
        "reasoning": "".join(reasoning),
        "tool_calls": calls,
        "finish_reason": finish,
        "usage": usage,
        "error": error,
    }


def types(events: list[NormalizedEvent]) -> list[str]:
    return [event["type"] for event in events]


def sse(*events: tuple[str | None, str]) -> bytes:
    """An SSE stream from (event name or None, data) pairs."""
    parts = []
    for name, data in events:
        parts.append((f"event: {name}\n" if name else "") + f"data: {data}\n\n")
    return "".join(parts).encode()


# -- the shared corpus -----------------------------------------------------------


@pytest.mark.parametrize("case", corpus_params("providers/streams.jsonl"))
def test_provider_corpus(case: dict[str, Any]) -> None:
    events, outcome = normalize(case_input(case))
    got = fold(events)
    want = case["expected"]
    assert got["text"] == want.get("text", "")
    assert got["reasoning"] == want.get("reasoning", "")
    assert got["finish_reason"] == want.get("finish_reason")
    want_calls = want.get("tool_calls") or []
    assert [{"name": c["name"], "arguments": c["arguments"]} for c in got["tool_calls"]] == [
        {"name": c["name"], "arguments": c["arguments"]} for c in want_calls
    ]
    for got_call, want_call in zip(got["tool_calls"], want_calls, strict=True):
        if want_call.get("id"):
            assert got_call["id"] == want_call["id"]
    if want.get("usage"):
        assert got["usage"] == {k: want["usage"].get(k) for k in ("input_tokens", "output_tokens")}
    assert bool(got["error"]) == bool(want.get("error"))
    # The stream's own shape: one start first, one done or truncation last.
    assert events[0]["type"] == "start"
    assert events[0]["provider"] == dialects_for(case)
    assert types(events).count("start") == 1
    complete = case.get("complete", True) and not want.get("error")
    from ssechat.cli.parse_sse import exit_status

    if complete:
        assert events[-1]["type"] == "done"
        assert exit_status([outcome], allow_truncated=False) == 0
    else:
        with pytest.raises(InputError):
            exit_status([outcome], allow_truncated=False)


def dialects_for(case: dict[str, Any]) -> str:
    """The corpus names some OpenAI-compatible servers apart; they are openai-chat."""
    return {"deepseek": "openai-chat", "mistral": "openai-chat"}.get(
        case["dialect"], case["dialect"]
    )


@pytest.mark.parametrize("case", corpus_params("providers/streams.jsonl"))
def test_provider_corpus_with_its_dialect_forced(case: dict[str, Any]) -> None:
    detected, _ = normalize(case_input(case))
    forced, _ = normalize(case_input(case), dialect=dialects_for(case))
    assert forced == detected


# -- detection ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stream", "name"),
    [
        (sse((None, '{"choices":[{"index":0,"delta":{"content":"a"}}]}')), "openai-chat"),
        (
            sse(("response.created", '{"type":"response.created","response":{}}')),
            "openai-responses",
        ),
        (sse(("message_start", '{"type":"message_start","message":{}}')), "anthropic"),
        (sse(("conversation.chat.created", '{"id":"1","status":"created"}')), "coze"),
        (sse((None, '{"candidates":[{"content":{"parts":[{"text":"a"}]}}]}')), "gemini"),
        (sse(("message-start", '{"type":"message-start","id":"x"}')), "cohere"),
        (sse((None, '{"content":"a"}')), "generic"),
        # Keep-alives and markers tell nothing: the next event decides.
        (sse(("ping", "{}"), (None, '{"content":"a"}')), "generic"),
    ],
)
def test_detection(stream: bytes, name: str) -> None:
    events, outcome = normalize(stream)
    assert outcome.dialect == name
    assert events[0] == {"type": "start", "provider": name} or events[0]["provider"] == name


def test_registry_lists_the_dialects_of_the_contract() -> None:
    assert set(dialects.NAMES) == {
        "openai-chat",
        "openai-responses",
        "anthropic",
        "coze",
        "gemini",
        "cohere",
        "generic",
        # The long tail (DESIGN.md section 8; tests/test_longtail.py).
        "tgi",
        "llamacpp",
        "ollama",
        "cloudflare",
        "dify",
        "dashscope",
        "vercel-ui",
        "replicate",
        "bedrock",
    }
    for name in dialects.NAMES:
        assert dialects.create(name).name == name


# -- openai-chat -------------------------------------------------------------------

CHUNK = '{{"id":"c1","model":"m","choices":[{{"index":{index},"delta":{delta},"finish_reason":{finish}}}]{more}}}'


def chunk(
    delta: str = "{}", finish: str = "null", index: int = 0, more: str = ""
) -> tuple[None, str]:
    return (None, CHUNK.format(delta=delta, finish=finish, index=index, more=more))


def test_openai_chat_text_reasoning_refusal_usage_done() -> None:
    events, outcome = normalize(
        sse(
            chunk('{"role":"assistant","content":""}'),
            chunk('{"reasoning_content":"think"}'),
            chunk('{"content":"Hel"}'),
            chunk('{"content":"lo"}'),
            chunk('{"refusal":"no"}'),
            chunk(finish='"stop"'),
            (
                None,
                '{"id":"c1","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}',
            ),
            (None, "[DONE]"),
        )
    )
    assert events == [
        {"type": "start", "provider": "openai-chat", "model": "m", "id": "c1"},
        {"type": "reasoning", "text": "think"},
        {"type": "delta", "text": "Hel"},
        {"type": "delta", "text": "lo"},
        {"type": "refusal", "text": "no"},
        {"type": "usage", "input_tokens": 3, "output_tokens": 2, "total_tokens": 5},
        {"type": "done", "finish_reason": "stop"},
    ]
    assert outcome.errors == outcome.truncated == 0


def test_openai_chat_parallel_tool_calls_complete_when_the_next_starts() -> None:
    events, _ = normalize(
        sse(
            chunk(
                '{"tool_calls":[{"index":0,"id":"a","type":"function","function":{"name":"f","arguments":""}}]}'
            ),
            chunk('{"tool_calls":[{"index":0,"function":{"arguments":"{\\"x\\": 1}"}}]}'),
            chunk('{"tool_calls":[{"index":1,"id":"b","function":{"name":"g","arguments":"{}"}}]}'),
            chunk(finish='"tool_calls"'),
            (None, "[DONE]"),
        )
    )
    assert types(events) == [
        "start",
        "tool_call_delta",
        "tool_call_delta",
        "tool_call",  # call 0 is complete as soon as call 1 starts
        "tool_call_delta",
        "tool_call",
        "done",
    ]
    assert events[1] == {
        "type": "tool_call_delta",
        "index": 0,
        "id": "a",
        "name": "f",
        "arguments": "",
    }
    assert events[2] == {"type": "tool_call_delta", "index": 0, "arguments": '{"x": 1}'}
    assert events[3] == {
        "type": "tool_call",
        "index": 0,
        "id": "a",
        "name": "f",
        "arguments": {"x": 1},
    }
    assert events[5] == {"type": "tool_call", "index": 1, "id": "b", "name": "g", "arguments": {}}


def test_openai_chat_broken_arguments_are_repaired_and_say_so() -> None:
    events, outcome = normalize(
        sse(
            chunk(
                '{"tool_calls":[{"index":0,"id":"a","function":{"name":"f","arguments":"{\'x\': 1,}"}}]}'
            ),
            chunk(finish='"tool_calls"'),
            (None, "[DONE]"),
        )
    )
    call = next(e for e in events if e["type"] == "tool_call")
    assert call["arguments"] == {"x": 1} and call["repaired"] is True
    assert outcome.bad_calls == 0


def test_openai_chat_unrepairable_arguments_keep_the_raw_string_and_an_error() -> None:
    events, outcome = normalize(
        sse(
            chunk(
                '{"tool_calls":[{"index":0,"id":"a","function":{"name":"f","arguments":"just prose"}}]}'
            ),
            chunk(finish='"tool_calls"'),
            (None, "[DONE]"),
        )
    )
    call = next(e for e in events if e["type"] == "tool_call")
    assert call["arguments"] == "just prose" and call["error"]
    assert outcome.bad_calls == 1


def test_openai_chat_call_cut_by_length_is_incomplete_never_repaired() -> None:
    events, outcome = normalize(
        sse(
            chunk(
                '{"tool_calls":[{"index":0,"id":"a","function":{"name":"f","arguments":"{\\"x\\": \\"unfin"}}]}'
            ),
            chunk(finish='"length"'),
            (None, "[DONE]"),
        )
    )
    call = next(e for e in events if e["type"] == "tool_call")
    assert call["arguments"] == '{"x": "unfin'
    assert call["error"] == INCOMPLETE
    assert "repaired" not in call
    assert events[-1] == {"type": "done", "finish_reason": "length"}
    assert outcome.bad_calls == 1


def test_openai_chat_truncated_input_cuts_the_open_call_and_ends_with_truncated() -> None:
    events, outcome = normalize(
        sse(
            chunk(
                '{"tool_calls":[{"index":0,"id":"a","function":{"name":"f","arguments":"{\\"x\\""}}]}'
            )
        )
    )
    assert types(events)[-2:] == ["tool_call", "error"]
    assert events[-2]["error"] == INCOMPLETE and events[-2]["arguments"] == '{"x"'
    assert events[-1]["code"] == TRUNCATED
    assert outcome.truncated == 1 and outcome.bad_calls == 0  # forgiven with the truncation


def test_openai_chat_other_choices_carry_their_index() -> None:
    events, _ = normalize(
        sse(
            chunk('{"content":"a"}'),
            chunk('{"content":"b"}', index=1),
            chunk(finish='"stop"'),
            (None, "[DONE]"),
        )
    )
    assert {"type": "delta", "text": "b", "index": 1} in events
    assert fold(events)["text"] == "a"


def test_openai_chat_error_object_in_the_stream() -> None:
    events, outcome = normalize(
        sse((None, '{"error":{"message":"quota","type":"insufficient_quota"}}'))
    )
    assert events[1] == {"type": "error", "message": "quota", "code": "insufficient_quota"}
    assert events[-1] == {"type": "done", "finish_reason": None}
    assert outcome.errors == 1 and outcome.truncated == 0


def test_openai_chat_mistral_content_parts_and_azure_filter_chunk() -> None:
    events, _ = normalize(
        sse(
            (None, '{"id":"","model":"","choices":[],"prompt_filter_results":[]}'),
            chunk('{"content":[{"type":"thinking","thinking":[{"type":"text","text":"hmm"}]}]}'),
            chunk('{"content":[{"type":"text","text":"ok"}]}'),
            chunk(finish='"stop"'),
            (None, "[DONE]"),
        )
    )
    assert events[0]["id"] == "c1"  # the filter chunk says nothing, not even a start
    assert fold(events)["reasoning"] == "hmm" and fold(events)["text"] == "ok"


def test_openai_chat_responses_back_to_back() -> None:
    one = sse(chunk('{"content":"a"}'), chunk(finish='"stop"'), (None, "[DONE]"))
    events, outcome = normalize(one + one.replace(b"c1", b"c2"))
    assert types(events) == ["start", "delta", "done", "start", "delta", "done"]
    assert outcome.responses == 2


def test_openai_chat_data_that_is_not_json_is_an_error() -> None:
    events, outcome = normalize(sse(chunk('{"content":"a"}'), (None, "garbage{")))
    assert {
        "type": "error",
        "message": "an event's data is not JSON: 'garbage{'",
        "code": "invalid_json",
    } in events
    assert outcome.errors == 1


def test_a_dialect_module_loads_when_a_stream_needs_it() -> None:
    """Start-up: detecting and reading openai-chat loads none of the other dialects."""
    code = (
        "import sys; from ssechat import dialects; from ssechat.sse import Event; "
        "name = dialects.detect(Event('message', '{\"choices\": []}', '')); "
        "dialects.create(name); "
        "print(name, sorted(m for m in sys.modules if m.startswith('ssechat.dialects.')))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    name, _, loaded = proc.stdout.partition(" ")
    assert name == "openai-chat"
    assert "ssechat.dialects.openai_chat" in loaded
    for other in ("anthropic", "gemini", "dify", "vercel_ui", "bedrock", "replicate"):
        assert f"ssechat.dialects.{other}'" not in loaded


def test_detection_knows_every_type_the_handler_tables_read() -> None:
    from ssechat.dialects import bedrock, detection, dify, vercel_ui

    assert set(vercel_ui.HANDLERS) == detection.VERCEL_UI
    assert set(dify.HANDLERS) == detection.DIFY
    assert set(bedrock.HANDLERS) == detection.BEDROCK


_JSON_DIALECTS = [name for name in dialects.NAMES if name != "replicate"]  # replicate: text


@pytest.mark.parametrize("name", _JSON_DIALECTS)
def test_data_that_is_not_json_is_the_same_error_in_every_dialect(name: str) -> None:
    """The preamble is written once (`Dialect.translate`): never dropped in silence."""
    events, outcome = normalize(sse((None, "garbage{")), dialect=name)
    assert types(events) == ["start", "error", "done"]  # the error is why it ended
    assert events[1] == {
        "type": "error",
        "message": "an event's data is not JSON: 'garbage{'",
        "code": "invalid_json",
    }
    assert outcome.errors == 1


@pytest.mark.parametrize("name", _JSON_DIALECTS)
def test_an_error_event_of_text_is_that_error_in_every_dialect(name: str) -> None:
    events, outcome = normalize(sse(("error", "upstream overloaded")), dialect=name)
    errors = [e for e in events if e["type"] == "error" and e.get("code") != TRUNCATED]
    assert [e["message"] for e in errors] == ["upstream overloaded"]
    assert outcome.errors == 1


def test_answer_text_is_a_non_empty_string_and_choice_0_has_no_index() -> None:
    from ssechat.dialects.fields import emit_text, is_text

    assert [is_text(v) for v in ("a", "", None, 1, ["a"])] == [True, False, False, False, False]
    out: list[NormalizedEvent] = []
    for value, index in (("a", 0), ("b", 1), ("", 1), (5, 0)):
        emit_text(out, "delta", value, index)
    assert out == [{"type": "delta", "text": "a"}, {"type": "delta", "text": "b", "index": 1}]


def test_a_chunk_of_an_unexpected_shape_is_an_error_not_a_crash() -> None:
    events, outcome = normalize(
        sse(chunk('{"content":"a"}'), (None, '{"choices":[{"delta":"x"}]}'))
    )
    assert any(e["type"] == "error" and e.get("code") == "malformed" for e in events)
    assert outcome.errors == 1


# -- openai-responses --------------------------------------------------------------


def responses_stream(*events: tuple[str, str]) -> bytes:
    return sse(*[(name, '{"type":"%s",%s}' % (name, body)) for name, body in events])


RESP = '"response":{"id":"r1","model":"gpt","status":"%s","usage":{"input_tokens":5,"output_tokens":7}}'


def test_openai_responses_text_reasoning_calls_custom_tools_usage() -> None:
    events, _ = normalize(
        responses_stream(
            ("response.created", RESP % "in_progress"),
            ("response.reasoning_summary_text.delta", '"delta":"plan"'),
            ("response.output_text.delta", '"delta":"Hi"'),
            ("response.output_text.done", '"text":"Hi"'),
            (
                "response.output_item.added",
                '"output_index":1,"item":{"id":"fc1","type":"function_call","call_id":"call_1","name":"f","arguments":""}',
            ),
            (
                "response.function_call_arguments.delta",
                '"item_id":"fc1","output_index":1,"delta":"{\\"a\\":"',
            ),
            (
                "response.function_call_arguments.delta",
                '"item_id":"fc1","output_index":1,"delta":"1}"',
            ),
            (
                "response.function_call_arguments.done",
                '"item_id":"fc1","output_index":1,"arguments":"{\\"a\\":1}"',
            ),
            (
                "response.output_item.added",
                '"output_index":2,"item":{"id":"ct1","type":"custom_tool_call","call_id":"call_2","name":"sh","input":""}',
            ),
            (
                "response.custom_tool_call_input.delta",
                '"item_id":"ct1","output_index":2,"delta":"ls -l"',
            ),
            (
                "response.output_item.done",
                '"output_index":2,"item":{"id":"ct1","type":"custom_tool_call","call_id":"call_2","name":"sh","input":"ls -l"}',
            ),
            ("response.completed", RESP % "completed"),
        )
    )
    assert fold(events)["text"] == "Hi" and fold(events)["reasoning"] == "plan"
    calls = [e for e in events if e["type"] == "tool_call"]
    assert calls == [
        {"type": "tool_call", "index": 1, "id": "call_1", "name": "f", "arguments": {"a": 1}},
        {"type": "tool_call", "index": 2, "id": "call_2", "name": "sh", "arguments": "ls -l"},
    ]
    assert events[-2:] == [
        {"type": "usage", "input_tokens": 5, "output_tokens": 7},
        {"type": "done", "finish_reason": "completed"},
    ]


def test_openai_responses_error_then_failed_reports_one_error() -> None:
    events, outcome = normalize(
        responses_stream(
            ("response.created", RESP % "in_progress"),
            (
                "error",
                '"error":{"type":"insufficient_quota","code":"insufficient_quota","message":"no quota"}',
            ),
            (
                "response.failed",
                '"response":{"id":"r1","status":"failed","error":{"code":"insufficient_quota","message":"no quota"}}',
            ),
        )
    )
    assert [e for e in events if e["type"] == "error"] == [
        {"type": "error", "message": "no quota", "code": "insufficient_quota"}
    ]
    assert events[-1] == {"type": "done", "finish_reason": "failed"}
    assert outcome.errors == 1


def test_openai_responses_incomplete_cuts_the_open_call() -> None:
    events, _ = normalize(
        responses_stream(
            ("response.created", RESP % "in_progress"),
            (
                "response.output_item.added",
                '"output_index":0,"item":{"id":"fc1","type":"function_call","call_id":"c","name":"f","arguments":""}',
            ),
            (
                "response.function_call_arguments.delta",
                '"item_id":"fc1","output_index":0,"delta":"{\\"a"',
            ),
            (
                "response.incomplete",
                '"response":{"id":"r1","status":"incomplete","incomplete_details":{"reason":"max_output_tokens"}}',
            ),
        )
    )
    call = next(e for e in events if e["type"] == "tool_call")
    assert call["error"] == INCOMPLETE and call["arguments"] == '{"a'
    assert events[-1] == {"type": "done", "finish_reason": "incomplete"}


# -- anthropic ---------------------------------------------------------------------


def anthropic_stream(*events: str) -> bytes:
    import json

    return sse(*[(json.loads(e)["type"], e) for e in events])


START = '{"type":"message_start","message":{"id":"m1","model":"claude","usage":{"input_tokens":4,"output_tokens":1}}}'


def test_anthropic_text_thinking_tool_use_usage_done() -> None:
    events, _ = normalize(
        anthropic_stream(
            START,
            '{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}}',
            '{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"hm"}}',
            '{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"xyz"}}',
            '{"type":"content_block_stop","index":0}',
            '{"type":"ping"}',
            '{"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}',
            '{"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"Hi"}}',
            '{"type":"content_block_stop","index":1}',
            '{"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"t1","name":"f","input":{}}}',
            '{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":""}}',
            '{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\\"q\\": 1}"}}',
            '{"type":"content_block_stop","index":2}',
            '{"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":9}}',
            '{"type":"message_stop"}',
        )
    )
    assert events == [
        {"type": "start", "provider": "anthropic", "model": "claude", "id": "m1"},
        {"type": "reasoning", "text": "hm"},
        {"type": "delta", "text": "Hi"},
        {"type": "tool_call_delta", "index": 2, "id": "t1", "name": "f", "arguments": ""},
        {"type": "tool_call_delta", "index": 2, "arguments": '{"q": 1}'},
        {"type": "tool_call", "index": 2, "id": "t1", "name": "f", "arguments": {"q": 1}},
        {"type": "usage", "input_tokens": 4, "output_tokens": 9},
        {"type": "done", "finish_reason": "tool_use"},
    ]


def test_anthropic_tool_with_no_input_is_an_empty_object() -> None:
    events, _ = normalize(
        anthropic_stream(
            START,
            '{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"t1","name":"f","input":{}}}',
            '{"type":"content_block_stop","index":0}',
            '{"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":2}}',
            '{"type":"message_stop"}',
        )
    )
    assert next(e for e in events if e["type"] == "tool_call")["arguments"] == {}


def test_anthropic_max_tokens_mid_call_is_incomplete() -> None:
    events, outcome = normalize(
        anthropic_stream(
            START,
            '{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"t1","name":"f","input":{}}}',
            '{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\\"q\\": \\"ab"}}',
            '{"type":"message_delta","delta":{"stop_reason":"max_tokens"},"usage":{"output_tokens":2}}',
            '{"type":"message_stop"}',
        )
    )
    call = next(e for e in events if e["type"] == "tool_call")
    assert call["error"] == INCOMPLETE and call["arguments"] == '{"q": "ab'
    assert events[-1] == {"type": "done", "finish_reason": "max_tokens"}
    assert outcome.bad_calls == 1


def test_anthropic_server_tool_use_is_not_a_client_call() -> None:
    events, _ = normalize(
        anthropic_stream(
            START,
            '{"type":"content_block_start","index":0,"content_block":{"type":"server_tool_use","id":"s","name":"web_search","input":{}}}',
            '{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{}"}}',
            '{"type":"content_block_stop","index":0}',
            '{"type":"message_stop"}',
        )
    )
    assert "tool_call" not in types(events) and "tool_call_delta" not in types(events)


def test_anthropic_error_event_ends_the_response_with_an_error() -> None:
    events, outcome = normalize(
        anthropic_stream(
            START,
            '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}',
        )
    )
    assert {"type": "error", "message": "Overloaded", "code": "overloaded_error"} in events
    assert events[-1] == {"type": "done", "finish_reason": None}
    assert outcome.errors == 1 and outcome.truncated == 0


def test_anthropic_repeated_message_start_is_one_response() -> None:
    events, _ = normalize(anthropic_stream(START, START, '{"type":"message_stop"}'))
    assert types(events) == ["start", "usage", "done"]


# -- coze --------------------------------------------------------------------------


def coze_message(event: str, mtype: str, content: str, extra: str = "") -> tuple[str, str]:
    import json

    return (
        event,
        '{"chat_id":"c1","role":"assistant","type":"%s","content":%s%s}'
        % (mtype, json.dumps(content), extra),
    )


CHAT = '{"id":"c1","status":"%s","usage":{"token_count":9,"output_count":4,"input_count":5},"last_error":{"code":0,"msg":""}}'


def test_coze_answer_deltas_follow_up_function_call_usage_done() -> None:
    events, _ = normalize(
        sse(
            ("conversation.chat.created", CHAT % "created"),
            coze_message("conversation.message.delta", "answer", "Hel"),
            coze_message("conversation.message.delta", "answer", "lo", ',"reasoning_content":"r"'),
            coze_message(
                "conversation.message.completed", "answer", "Hello, completed differently"
            ),
            coze_message(
                "conversation.message.completed",
                "function_call",
                '{"name":"img","arguments":{"n":1},"plugin_id":12345678901234567890}',
            ),
            coze_message("conversation.message.completed", "tool_response", "ok"),
            coze_message("conversation.message.completed", "follow_up", "And then?"),
            coze_message(
                "conversation.message.completed", "verbose", '{"msg_type":"generate_answer_finish"}'
            ),
            ("conversation.chat.completed", CHAT % "completed"),
            ("done", '"[DONE]"'),
        )
    )
    assert fold(events)["text"] == "Hello"  # never the completed snapshot
    assert fold(events)["reasoning"] == "r"
    assert {"type": "follow_up", "text": "And then?"} in events
    assert {
        "type": "tool_call",
        "index": 0,
        "id": None,
        "name": "img",
        "arguments": {"n": 1},
    } in events
    assert events[-2:] == [
        {"type": "usage", "input_tokens": 5, "output_tokens": 4, "total_tokens": 9},
        {"type": "done", "finish_reason": "completed"},
    ]


def test_coze_requires_action_gives_the_calls_to_run() -> None:
    action = (
        '{"id":"c1","status":"requires_action","required_action":{"type":"submit_tool_outputs",'
        '"submit_tool_outputs":{"tool_calls":[{"id":"call_9","type":"function",'
        '"function":{"name":"weather","arguments":"{\\"city\\":\\"Paris\\"}"}}]}}}'
    )
    events, _ = normalize(
        sse(
            ("conversation.chat.created", CHAT % "created"),
            ("conversation.chat.requires_action", action),
            ("done", "[DONE]"),
        )
    )
    assert {
        "type": "tool_call",
        "index": 0,
        "id": "call_9",
        "name": "weather",
        "arguments": {"city": "Paris"},
    } in events
    assert events[-1] == {"type": "done", "finish_reason": "requires_action"}


def test_coze_failed_and_error_events() -> None:
    failed = '{"id":"c1","status":"failed","last_error":{"code":5000,"msg":"boom"},"usage":{"input_count":0,"output_count":0}}'
    events, outcome = normalize(sse(("conversation.chat.failed", failed)))
    assert {"type": "error", "message": "boom", "code": 5000} in events
    assert events[-1] == {"type": "done", "finish_reason": "failed"}
    events, outcome = normalize(
        sse(("conversation.chat.created", CHAT % "created"), ("error", '{"code":4000,"msg":"bad"}'))
    )
    assert {"type": "error", "message": "bad", "code": 4000} in events
    assert outcome.errors == 1


def test_coze_without_done_is_truncated() -> None:
    events, outcome = normalize(
        sse(
            ("conversation.chat.created", CHAT % "created"),
            coze_message("conversation.message.delta", "answer", "x"),
        )
    )
    assert events[-1]["code"] == TRUNCATED and outcome.truncated == 1


# -- gemini ------------------------------------------------------------------------


def gemini(parts: str, finish: str = "", more: str = "") -> tuple[None, str]:
    finish_field = f',"finishReason":"{finish}"' if finish else ""
    return (None, '{"candidates":[{"content":{"parts":%s}%s}]%s}' % (parts, finish_field, more))


def test_gemini_text_thoughts_calls_usage_and_end_at_eof() -> None:
    usage = ',"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":4,"totalTokenCount":9,"thoughtsTokenCount":2},"modelVersion":"gemini-x","responseId":"r1"'
    events, outcome = normalize(
        sse(
            gemini('[{"text":"plan","thought":true}]', more=usage),
            gemini('[{"text":"Hi"}]', more=usage),
            gemini('[{"functionCall":{"name":"f","args":{"a":1}}}]', more=usage),
            gemini('[{"text":""}]', finish="STOP", more=usage),
        )
    )
    assert events[0] == {"type": "start", "provider": "gemini", "model": "gemini-x", "id": "r1"}
    assert fold(events)["text"] == "Hi" and fold(events)["reasoning"] == "plan"
    assert {
        "type": "tool_call",
        "index": 0,
        "id": None,
        "name": "f",
        "arguments": {"a": 1},
    } in events
    assert events[-2] == {
        "type": "usage",
        "input_tokens": 3,
        "output_tokens": 4,
        "total_tokens": 9,
        "reasoning_tokens": 2,
    }
    assert events[-1] == {"type": "done", "finish_reason": "STOP"}
    assert outcome.truncated == 0


def test_gemini_without_a_finish_reason_is_truncated() -> None:
    events, _ = normalize(sse(gemini('[{"text":"Hi"}]')))
    assert events[-1]["code"] == TRUNCATED


def test_gemini_blocked_prompt_is_an_error() -> None:
    events, outcome = normalize(sse((None, '{"promptFeedback":{"blockReason":"SAFETY"}}')))
    assert {
        "type": "error",
        "message": "the prompt was blocked (SAFETY)",
        "code": "SAFETY",
    } in events
    assert outcome.errors == 1


def test_gemini_vertex_streamed_arguments_are_assembled_by_path() -> None:
    def call(body: str) -> tuple[None, str]:
        return gemini('[{"functionCall":%s}]' % body)

    events, _ = normalize(
        sse(
            call('{"name":"cook","willContinue":true}'),
            call(
                '{"partialArgs":[{"jsonPath":"$.recipe.items[0].name","stringValue":"No","willContinue":true}],"willContinue":true}'
            ),
            call(
                '{"partialArgs":[{"jsonPath":"$.recipe.items[0].name","stringValue":"odles"}],"willContinue":true}'
            ),
            call(
                '{"partialArgs":[{"jsonPath":"$.recipe.items[0].grams","numberValue":250}],"willContinue":true}'
            ),
            call("{}"),
            gemini('[{"text":""}]', finish="STOP"),
        )
    )
    tool = next(e for e in events if e["type"] == "tool_call")
    assert tool["name"] == "cook"
    assert tool["arguments"] == {"recipe": {"items": [{"name": "Noodles", "grams": 250}]}}


def test_gemini_responses_are_told_apart_by_response_id() -> None:
    events, _ = normalize(
        sse(
            gemini('[{"text":"a"}]', finish="STOP", more=',"responseId":"r1"'),
            gemini('[{"text":"b"}]', finish="STOP", more=',"responseId":"r2"'),
        )
    )
    assert types(events) == ["start", "delta", "done", "start", "delta", "done"]


# -- cohere ------------------------------------------------------------------------


def cohere_stream(*events: str) -> bytes:
    import json

    return sse(*[(json.loads(e)["type"], e) for e in events])


def test_cohere_text_thinking_plan_calls_usage_done() -> None:
    events, _ = normalize(
        cohere_stream(
            '{"type":"message-start","id":"m1","delta":{"message":{"role":"assistant"}}}',
            '{"type":"content-delta","index":0,"delta":{"message":{"content":{"thinking":"t"}}}}',
            '{"type":"content-delta","index":1,"delta":{"message":{"content":{"text":"Hi"}}}}',
            '{"type":"tool-plan-delta","delta":{"message":{"tool_plan":"I will call f"}}}',
            '{"type":"tool-call-start","index":0,"delta":{"message":{"tool_calls":{"id":"f_1","type":"function","function":{"name":"f","arguments":""}}}}}',
            '{"type":"tool-call-delta","index":0,"delta":{"message":{"tool_calls":{"function":{"arguments":"{\\"a\\": 2}"}}}}}',
            '{"type":"tool-call-end","index":0}',
            '{"type":"message-end","delta":{"finish_reason":"TOOL_CALL","usage":{"tokens":{"input_tokens":5,"output_tokens":6}}}}',
        )
    )
    assert fold(events)["text"] == "Hi" and fold(events)["reasoning"] == "t"
    assert {"type": "tool_plan", "text": "I will call f"} in events
    assert {
        "type": "tool_call",
        "index": 0,
        "id": "f_1",
        "name": "f",
        "arguments": {"a": 2},
    } in events
    assert events[-2:] == [
        {"type": "usage", "input_tokens": 5, "output_tokens": 6},
        {"type": "done", "finish_reason": "TOOL_CALL"},
    ]


# -- generic -----------------------------------------------------------------------


def test_generic_content_and_both_end_markers() -> None:
    for end in ((None, "[DONE]"), ("done", "{}")):
        events, outcome = normalize(
            sse((None, '{"content":"a","model":"tiny"}'), (None, '{"content":"b"}'), end)
        )
        assert events == [
            {"type": "start", "provider": "generic", "model": "tiny"},
            {"type": "delta", "text": "a"},
            {"type": "delta", "text": "b"},
            {"type": "done", "finish_reason": None},
        ]
    events, outcome = normalize(sse((None, '{"content":"a"}')))
    assert events[-1]["code"] == TRUNCATED and outcome.truncated == 1


def test_json_only_the_standard_library_reads_is_not_lost() -> None:
    events, outcome = normalize(
        sse(
            chunk('{"content":"a\\ud800b"}', more=',"seed":123456789012345678901234567890'),
            chunk(finish='"stop"'),
            (None, "[DONE]"),
        )
    )
    assert fold(events)["text"] == "a\ud800b"
    assert outcome.errors == 0


# -- openai-chat's template fast path (feed) ---------------------------------------

_MIDDLES = st.one_of(
    st.text(max_size=12).map(lambda text: json.dumps(text)),
    st.text(max_size=12).map(lambda text: json.dumps(text, ensure_ascii=False)),
    st.sampled_from(
        [
            "null",
            "1",
            '""',
            ' "a" ',
            '"a","refusal":"b"',
            '"a"},"x":{"y":"b"',
            '"a\\"',
            '"\\ud800"',
            '"a"}]}',
            "",
            '"},"logprobs":null,"finish_reason":"stop"}]} {"',
        ]
    ),
)


@settings(max_examples=200, deadline=None)
@given(
    contents=st.lists(_MIDDLES, max_size=12),
    arguments=st.lists(_MIDDLES, max_size=12),
    cut=st.integers(min_value=1, max_value=400),
)
def test_openai_chat_template_fast_path_changes_nothing(
    contents: list[str], arguments: list[str], cut: int
) -> None:
    """The learnt-template path gives what parsing every chunk gives, whatever the middles."""
    call = '{"tool_calls":[{"index":0,"id":"c1","function":{"name":"f","arguments":""}}]}'
    events = [chunk('{"role":"assistant","content":""}')]
    events += [chunk('{"content":%s}' % middle) for middle in contents]
    events += [chunk(call)]
    events += [
        chunk('{"tool_calls":[{"index":0,"function":{"arguments":%s}}]}' % middle)
        for middle in arguments
    ]
    events += [chunk(finish='"tool_calls"'), (None, "[DONE]")]
    data = sse(*events) * 2
    fast, _ = normalize(
        data, dialect="openai-chat", chunks=[data[i : i + cut] for i in range(0, len(data), cut)]
    )
    reference = dialects.create("openai-chat")
    slow: list[NormalizedEvent] = []
    for item in Decoder().feed(data):
        if type(item) is Event:
            reference.read(item, slow)
    reference.close(slow)
    assert fast == slow


def test_openai_chat_template_serves_the_common_chunks() -> None:
    """The fast path is taken: one template per response shape, not one parse per chunk."""
    words = [chunk('{"content":%s}' % json.dumps(f' w{i} \\ " é')) for i in range(200)]
    data = sse(chunk('{"role":"assistant","content":""}'), *words, (None, "[DONE]"))
    sink = ListSink()
    pipeline = Pipeline(sink, dialect="openai-chat")
    pipeline.feed(data)
    pipeline.close()
    dialect = pipeline.dialect
    assert isinstance(dialect, OpenAIChat)
    assert dialect.template_learns == 1
    assert dialect.template_hits == 199
    assert "".join(e["text"] for e in sink.events if e["type"] == "delta") == "".join(
        f' w{i} \\ " é' for i in range(200)
    )


# -- anthropic's template fast path (feed) -----------------------------------------


def reference_events(data: bytes, dialect: str) -> list[NormalizedEvent]:
    """What parsing every event one at a time (`read`, the plain path) gives."""
    reference = dialects.create(dialect)
    slow: list[NormalizedEvent] = []
    for item in Decoder().feed(data):
        if type(item) is Event:
            reference.read(item, slow)
    reference.close(slow)
    return slow


_ANTHROPIC_KINDS = st.sampled_from(["text", "thinking", "json", "ping", "other index"])


@settings(max_examples=200, deadline=None)
@given(
    deltas=st.lists(st.tuples(_ANTHROPIC_KINDS, _MIDDLES), max_size=16),
    cut=st.integers(min_value=1, max_value=600),
    named=st.booleans(),
)
def test_anthropic_template_fast_path_changes_nothing(
    deltas: list[tuple[str, str]], cut: int, named: bool
) -> None:
    """Templates and whole-read matching give what parsing every event gives.

    The deltas go to a thinking block (0), a text block (1) and a tool-use
    block (2), all open at once, so that every template is learnt and then
    offered every adversarial middle; also with and without `event:` lines.
    """
    shapes = {
        "text": '{"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":%s}}',
        "thinking": '{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":%s}}',
        "json": '{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":%s}}',
        "ping": '{"type":"ping"}%.0s',
        "other index": '{"type":"content_block_delta","index":3,"delta":{"type":"text_delta","text":%s}}',
    }
    payloads = [
        START,
        '{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}}',
        '{"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}',
        '{"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"t1","name":"f","input":{}}}',
    ]
    common = [("text", '"a"'), ("thinking", '"b"'), ("json", '"{}"')] * 3  # learnt here
    payloads += [shapes[kind] % middle for kind, middle in common + deltas + common]
    payloads += [
        '{"type":"content_block_stop","index":2}',
        '{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":9}}',
        '{"type":"message_stop"}',
    ]
    data = sse(*[("content_block_delta" if named else None, p) for p in payloads]) * 2
    fast, _ = normalize(
        data, dialect="anthropic", chunks=[data[i : i + cut] for i in range(0, len(data), cut)]
    )
    assert fast == reference_events(data, "anthropic")


def test_anthropic_template_serves_the_common_deltas() -> None:
    """The fast path is taken, in whole reads too (pings between the deltas)."""
    words = [
        '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":%s}}'
        % json.dumps(f' w{i} \\ " é')
        for i in range(300)
    ]
    words[150:150] = ['{"type":"ping"}']
    data = anthropic_stream(
        START,
        '{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}',
        *words,
        '{"type":"content_block_stop","index":0}',
        '{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":9}}',
        '{"type":"message_stop"}',
    )
    # w0 gives the response its content, w1 its template; then a whole read
    # of deltas and the ping, then the end.
    cuts = [0, data.index(b"w3 "), data.index(b"event: content_block_stop"), len(data)]
    sink = ListSink()
    pipeline = Pipeline(sink, dialect="anthropic")
    for start, end in itertools.pairwise(cuts):
        pipeline.feed(data[start:end])
    pipeline.close()
    dialect = pipeline.dialect
    assert isinstance(dialect, Anthropic)
    assert dialect.template_learns == 1
    assert dialect.template_hits == 298
    assert fold(sink.events)["text"] == "".join(f' w{i} \\ " é' for i in range(300))
    assert sink.events == reference_events(data, "anthropic")


# -- tool calls never pass as executable when cut (DESIGN.md section 3) -----------

TOOL_START = '{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"t1","name":"write","input":{}}}'


def test_anthropic_max_tokens_after_content_block_stop_is_incomplete() -> None:
    """The order the API uses: the block stops, then message_delta says max_tokens."""
    events, outcome = normalize(
        anthropic_stream(
            START,
            TOOL_START,
            '{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta",'
            '"partial_json":"{\\"path\\":\\"notes.txt\\",\\"content\\":\\"abc"}}',
            '{"type":"content_block_stop","index":0}',
            '{"type":"message_delta","delta":{"stop_reason":"max_tokens"},"usage":{"output_tokens":2}}',
            '{"type":"message_stop"}',
        )
    )
    call = next(e for e in events if e["type"] == "tool_call")
    assert call["arguments"] == '{"path":"notes.txt","content":"abc'
    assert call["error"] == INCOMPLETE and "repaired" not in call
    assert events[-1] == {"type": "done", "finish_reason": "max_tokens"}
    assert outcome.bad_calls == 1


def test_arguments_that_do_not_parse_wait_for_the_finish_then_are_repaired() -> None:
    events, outcome = normalize(
        anthropic_stream(
            START,
            TOOL_START,
            '{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta",'
            "\"partial_json\":\"{'path': 'a.txt',}\"}}",
            '{"type":"content_block_stop","index":0}',
            '{"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":2}}',
            '{"type":"message_stop"}',
        )
    )
    call = next(e for e in events if e["type"] == "tool_call")
    assert call["arguments"] == {"path": "a.txt"} and call["repaired"] is True
    assert types(events)[-3:] == ["tool_call", "usage", "done"]  # held to the end
    assert outcome.bad_calls == 0


def test_an_error_event_inside_a_call_makes_it_incomplete_not_repaired() -> None:
    events, outcome = normalize(
        anthropic_stream(
            START,
            TOOL_START,
            '{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta",'
            '"partial_json":"{\\"path\\":\\"no"}}',
            '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}',
        )
    )
    call = next(e for e in events if e["type"] == "tool_call")
    assert call["error"] == INCOMPLETE and "repaired" not in call
    assert outcome.errors == 1


def test_a_call_completed_before_the_cut_keeps_its_arguments() -> None:
    stream = sse(
        chunk('{"tool_calls":[{"index":0,"id":"a","function":{"name":"f","arguments":"{}"}}]}'),
        chunk('{"tool_calls":[{"index":1,"id":"b","function":{"name":"g","arguments":"{\\"q"}}]}'),
    )
    events, outcome = normalize(stream)
    calls = [e for e in events if e["type"] == "tool_call"]
    assert calls[0] == {"type": "tool_call", "index": 0, "id": "a", "name": "f", "arguments": {}}
    assert calls[1]["error"] == INCOMPLETE and calls[1]["arguments"] == '{"q'
    assert events[-1]["code"] == TRUNCATED and outcome.truncated == 1


def test_two_calls_labelled_index_0_get_distinct_indexes() -> None:
    events, _ = normalize(
        sse(
            chunk('{"tool_calls":[{"index":0,"id":"a","function":{"name":"f","arguments":""}}]}'),
            chunk('{"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]}'),
            chunk('{"tool_calls":[{"index":0,"id":"b","function":{"name":"g","arguments":""}}]}'),
            chunk('{"tool_calls":[{"index":0,"function":{"arguments":"{\\"x\\":1}"}}]}'),
            chunk(finish='"tool_calls"'),
            (None, "[DONE]"),
        )
    )
    by_kind = [(e["type"], e["index"]) for e in events if e["type"].startswith("tool_call")]
    assert by_kind == [
        ("tool_call_delta", 0),
        ("tool_call_delta", 0),
        ("tool_call", 0),
        ("tool_call_delta", 1),
        ("tool_call_delta", 1),
        ("tool_call", 1),
    ]
    calls = [e for e in events if e["type"] == "tool_call"]
    assert [(c["id"], c["arguments"]) for c in calls] == [("a", {}), ("b", {"x": 1})]


def test_responses_custom_tool_input_cut_off_is_incomplete() -> None:
    stream = responses_stream(
        ("response.created", RESP % "in_progress"),
        (
            "response.output_item.added",
            '"output_index":0,"item":{"id":"ct1","type":"custom_tool_call","call_id":"c","name":"sh","input":""}',
        ),
        (
            "response.custom_tool_call_input.delta",
            '"item_id":"ct1","output_index":0,"delta":"rm -rf /va"',
        ),
    )
    events, outcome = normalize(stream)
    call = next(e for e in events if e["type"] == "tool_call")
    assert call["arguments"] == "rm -rf /va" and call["error"] == INCOMPLETE
    assert events[-1]["code"] == TRUNCATED and outcome.truncated == 1
    # Stopped by max_output_tokens (status incomplete) before the input was done.
    events, outcome = normalize(
        stream + responses_stream(("response.incomplete", RESP % "incomplete"))
    )
    call = next(e for e in events if e["type"] == "tool_call")
    assert call["error"] == INCOMPLETE and events[-1]["type"] == "done"
    assert outcome.bad_calls == 1
