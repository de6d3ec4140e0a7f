"""The long-tail dialects (DESIGN.md section 8): the shared corpus, cuts, and hand-made streams.

Every stream of the long-tail corpus folds to its expected text, reasoning,
tool calls, finish reason, usage and error, with the right verdict, in
process and through the installed `ssechat`; every stream cut before its end
marker is truncated (exit 3). The hand-made streams cover what the corpus
does not: tool calls, errors, incremental DashScope, old llama.cpp servers.
"""

# Provider events are written as the wire has them, one per line (E501).
# ruff: noqa: E501

from __future__ import annotations

import itertools
import json
import struct
import zlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssechat import dialects
from ssechat.cli.parse_sse import exit_status
from ssechat.errors import InputError
from ssechat.normalized import TRUNCATED, NormalizedEvent
from ssechat.sse import Event
from tests.conftest import case_input, corpus_params, json_lines, run_ssechat
from tests.test_dialects import fold, normalize, sse, types

# The corpus names a few formats apart that one dialect reads.
DIALECT = {
    "bedrock-eventstream": "bedrock",
    "ollama-ndjson": "ollama",
    "openai-completions": "openai-chat",
    "openrouter": "openai-chat",
    "tgi-openai-chat": "openai-chat",
    "zhipu": "openai-chat",
}
CASES = corpus_params("longtail/streams.jsonl")


def check_fold(got: dict[str, Any], want: dict[str, Any]) -> None:
    assert got["text"] == want.get("text", "")
    assert got["reasoning"] == want.get("reasoning", "")
    assert got["finish_reason"] == want.get("finish_reason")
    assert [(c["name"], c["arguments"]) for c in got["tool_calls"]] == [
        (c["name"], c["arguments"]) for c in want.get("tool_calls") or []
    ]
    if want.get("usage"):
        assert got["usage"] == {k: want["usage"][k] for k in ("input_tokens", "output_tokens")}
    else:
        assert got["usage"] is None
    assert got["error"] == want.get("error")


def complete(case: dict[str, Any]) -> bool:
    return bool(case.get("complete", True)) and not case["expected"].get("error")


@pytest.mark.parametrize("case", CASES)
def test_longtail_corpus(case: dict[str, Any]) -> None:
    events, outcome = normalize(case_input(case))
    check_fold(fold(events), case["expected"])
    assert events[0] == {
        **events[0],
        "type": "start",
        "provider": DIALECT.get(case["dialect"], case["dialect"]),
    }
    assert types(events).count("start") == 1
    if complete(case):
        assert events[-1]["type"] == "done"
        assert exit_status([outcome], allow_truncated=False) == 0
    else:
        assert events[-1]["type"] in ("done", "error")  # done after an error, else the cut
        with pytest.raises(InputError):
            exit_status([outcome], allow_truncated=False)


@pytest.mark.parametrize("case", CASES)
def test_longtail_corpus_through_the_installed_command(case: dict[str, Any]) -> None:
    proc = run_ssechat(["parse-sse"], case_input(case))
    check_fold(fold(json_lines(proc.stdout)), case["expected"])
    assert proc.returncode == (0 if complete(case) else 3), proc.stderr
    assert b"Traceback" not in proc.stderr
    # Cut two thirds of the way in (before the end marker of every case here).
    data = case_input(case)
    cut = run_ssechat(["parse-sse"], data[: len(data) * 2 // 3])
    assert cut.returncode == 3 and b"Traceback" not in cut.stderr
    lines = json_lines(cut.stdout)
    assert lines[-1]["type"] == "error" and (
        lines[-1].get("code") == TRUNCATED or not complete(case)
    ), lines[-1]


@pytest.mark.parametrize("case", CASES)
def test_longtail_corpus_with_its_dialect_forced(case: dict[str, Any]) -> None:
    detected, _ = normalize(case_input(case))
    forced, _ = normalize(case_input(case), dialect=DIALECT.get(case["dialect"], case["dialect"]))
    assert forced == detected


@pytest.mark.parametrize("case", CASES)
def test_longtail_stream_cut_before_its_end_is_truncated(case: dict[str, Any]) -> None:
    """Cut anywhere before the end marker: exit 3, and the truncated error is the last line.

    `end` is the shortest prefix that reads as complete with all the text;
    every shorter one that holds a whole event must say truncated. Offsets: a
    stride through the stream and its last 64 bytes. (A cut inside the first
    event, before any dialect is known, is the pipeline's: tests/test_pipeline.py.)
    """
    data = case_input(case)
    if not complete(case):
        events, outcome = normalize(data)
        assert outcome.errors or outcome.truncated
        return
    text = fold(normalize(data)[0])["text"]
    end = next(
        k
        for k in range(len(data) + 1)
        if _done(events := _events_or_error(data[:k])) and fold(events)["text"] == text
    )
    # The first cut that holds a response's start (a shorter one is an error of
    # its own: not SSE, or a frame cut off).
    first = next(
        k for k in range(end) if any(e["type"] == "start" for e in _events_or_error(data[:k]))
    )
    offsets = {*range(first, end, max(1, end // 150)), *range(max(first, end - 64), end)}
    not_truncated = []
    for k in sorted(offsets):
        events, outcome = normalize(data[:k])
        with pytest.raises(InputError):
            exit_status([outcome], allow_truncated=False)
        if events[-1] != {**events[-1], "type": "error", "code": TRUNCATED}:
            not_truncated.append(k)
    assert not not_truncated


def _events_or_error(data: bytes) -> list[NormalizedEvent]:
    """The events of `data`; none when it stops with an error (a frame cut off)."""
    try:
        return normalize(data)[0]
    except InputError:
        return []


def _done(events: list[NormalizedEvent]) -> bool:
    return bool(events) and events[-1]["type"] == "done"


def _sse_cases() -> list[dict[str, Any]]:
    """The complete SSE streams of the corpus, each ending with its blank line."""
    cases = [p.values[0] for p in CASES if p.values[0]]
    return [
        c for c in cases if "input" in c and complete(c) and not c["dialect"].startswith("ollama")
    ]


@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_long_tail_responses_joined_in_one_input_each_come_out(data: st.DataObject) -> None:
    """`cat` of streams of different formats: every response, detected anew, none merged."""
    cases = _sse_cases()
    if not cases:
        pytest.skip("no corpus")
    order = data.draw(st.permutations(cases))
    joined = b"".join(case_input(c).rstrip(b"\n") + b"\n\n" for c in order)
    events, outcome = normalize(joined)
    responses: list[list[NormalizedEvent]] = []
    for event in events:
        if event["type"] == "start":
            responses.append([])
        responses[-1].append(event)
    assert [r[0]["provider"] for r in responses] == [
        DIALECT.get(c["dialect"], c["dialect"]) for c in order
    ]
    for case, response in zip(order, responses, strict=True):
        got = fold(response)
        assert (got["text"], got["finish_reason"]) == (
            case["expected"]["text"],
            case["expected"]["finish_reason"],
        )
        assert response[-1]["type"] == "done"
    assert outcome.truncated == outcome.errors == 0


# The fields the long-tail dialects read, for shapes nobody sends.
_KEYS = st.sampled_from(
    [
        "token",
        "text",
        "special",
        "generated_text",
        "details",
        "finish_reason",
        "content",
        "stop",
        "stop_type",
        "timings",
        "done",
        "message",
        "response",
        "thinking",
        "tool_calls",
        "function",
        "arguments",
        "error",
        "errors",
        "usage",
        "event",
        "answer",
        "data",
        "output",
        "choices",
        "type",
        "delta",
        "toolCallId",
        "input",
        "contentBlockIndex",
        "start",
        "toolUse",
        "tool",
        "tool_input",
        "id",
        "metadata",
        "status",
        "request_id",
        "code",
    ]
)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=4),
    max_leaves=12,
)
_LONG_TAIL = [
    "tgi",
    "llamacpp",
    "ollama",
    "cloudflare",
    "dify",
    "dashscope",
    "vercel-ui",
    "replicate",
    "bedrock",
]


@settings(max_examples=150, deadline=None)
@given(
    name=st.sampled_from(_LONG_TAIL),
    events=st.lists(
        st.tuples(
            st.sampled_from(
                ["message", "error", "output", "done", "contentBlockDelta", "messageStop"]
            ),
            st.dictionaries(_KEYS, _JSON, max_size=5),
        ),
        max_size=6,
    ),
)
def test_shapes_nobody_sends_never_crash_and_responses_stay_whole(
    name: str, events: list[tuple[str, dict[str, Any]]]
) -> None:
    dialect = dialects.create(name)
    out: list[NormalizedEvent] = []
    dialect.feed([Event(kind, json.dumps(data), "") for kind, data in events], out)
    dialect.close(out)
    starts = [n for n, e in enumerate(out) if e["type"] == "start"]
    assert not out or starts[0] == 0  # nothing outside a response
    for begin, end in itertools.pairwise([*starts, len(out)]):
        last = out[end - 1]  # each response ends with done, or its truncation
        assert last["type"] == "done" or last.get("code") == TRUNCATED, out[begin:end]


# -- hand-made streams -------------------------------------------------------------


def ndjson(*lines: dict[str, Any]) -> bytes:
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


def frame(event_type: str, payload: dict[str, Any], message_type: str = "event") -> bytes:
    """One AWS event-stream frame, CRCs included (as Bedrock writes them)."""
    kind = ":exception-type" if message_type == "exception" else ":event-type"
    headers = b""
    for name, value in ((kind, event_type), (":message-type", message_type)):
        headers += (
            bytes([len(name)])
            + name.encode()
            + b"\x07"
            + struct.pack(">H", len(value))
            + value.encode()
        )
    body = json.dumps(payload).encode()
    total = 12 + len(headers) + len(body) + 4
    prelude = struct.pack(">II", total, len(headers))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    message = prelude + headers + body
    return message + struct.pack(">I", zlib.crc32(message))


def test_ollama_chat_thinking_and_tool_calls() -> None:
    data = ndjson(
        {
            "model": "qwen3",
            "message": {"role": "assistant", "content": "", "thinking": "Let me see."},
            "done": False,
        },
        {
            "model": "qwen3",
            "message": {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}
                ],
            },
            "done": False,
        },
        {
            "model": "qwen3",
            "message": {"role": "assistant", "content": ""},
            "done": True,
            "done_reason": "stop",
            "prompt_eval_count": 5,
            "eval_count": 9,
        },
    )
    events, outcome = normalize(data)
    got = fold(events)
    assert got["reasoning"] == "Let me see."
    assert got["tool_calls"] == [
        {"id": None, "name": "get_weather", "arguments": {"city": "Paris"}}
    ]
    assert got["usage"] == {"input_tokens": 5, "output_tokens": 9}
    assert events[0] == {"type": "start", "provider": "ollama", "model": "qwen3"}
    assert events[-1] == {"type": "done", "finish_reason": "stop"}
    assert outcome.errors == outcome.truncated == 0


def test_ollama_line_cut_at_the_end_is_the_cut_not_an_error() -> None:
    data = ndjson({"model": "m", "response": "Hi", "done": False}) + b'{"model":"m","resp'
    events, outcome = normalize(data)
    assert types(events) == ["start", "delta", "error"] and events[-1]["code"] == TRUNCATED
    assert outcome.errors == 0 and outcome.truncated == 1


def test_bedrock_tool_use_usage_and_stop() -> None:
    data = b"".join(
        [
            frame("messageStart", {"role": "assistant"}),
            frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Checking."}}),
            frame("contentBlockStop", {"contentBlockIndex": 0}),
            frame(
                "contentBlockStart",
                {
                    "contentBlockIndex": 1,
                    "start": {"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather"}},
                },
            ),
            frame(
                "contentBlockDelta",
                {"contentBlockIndex": 1, "delta": {"toolUse": {"input": '{"city":'}}},
            ),
            frame(
                "contentBlockDelta",
                {"contentBlockIndex": 1, "delta": {"toolUse": {"input": ' "Paris"}'}}},
            ),
            frame("contentBlockStop", {"contentBlockIndex": 1}),
            frame("messageStop", {"stopReason": "tool_use"}),
            frame(
                "metadata", {"usage": {"inputTokens": 10, "outputTokens": 20, "totalTokens": 30}}
            ),
        ]
    )
    events, outcome = normalize(data)
    got = fold(events)
    assert got["text"] == "Checking."
    assert got["tool_calls"] == [
        {"id": "tooluse_1", "name": "get_weather", "arguments": {"city": "Paris"}}
    ]
    assert got["usage"] == {"input_tokens": 10, "output_tokens": 20}
    assert events[-2:] == [
        {"type": "usage", "input_tokens": 10, "output_tokens": 20},
        {"type": "done", "finish_reason": "tool_use"},
    ]
    # In any chunking, byte by byte included.
    assert normalize(data, chunks=[data[i : i + 1] for i in range(len(data))])[0] == events
    assert outcome.errors == outcome.truncated == 0


def test_bedrock_exception_frame_is_an_error() -> None:
    data = frame("messageStart", {"role": "assistant"}) + frame(
        "throttlingException", {"message": "Too many requests"}, "exception"
    )
    events, outcome = normalize(data)
    assert events[-2] == {
        "type": "error",
        "message": "Too many requests",
        "code": "throttlingException",
    }
    assert events[-1] == {"type": "done", "finish_reason": None}
    assert outcome.errors == 1


def test_bedrock_corrupt_frame_stops_with_exit_3() -> None:
    good = frame("messageStart", {"role": "assistant"})
    bad = bytearray(frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "x"}}))
    bad[-6] ^= 0xFF  # a payload byte: the message CRC no longer matches
    proc = run_ssechat(["parse-sse"], good + bytes(bad))
    assert proc.returncode == 3
    assert b"message CRC" in proc.stderr and b"Traceback" not in proc.stderr


def test_bedrock_cut_inside_its_first_frame_is_exit_3() -> None:
    data = frame("messageStart", {"role": "assistant"})
    proc = run_ssechat(["parse-sse"], data[:-5])
    assert proc.returncode == 3 and b"first frame (truncated)" in proc.stderr


def test_tgi_details_give_the_finish_reason_and_usage() -> None:
    token = '{"index":%d,"token":{"id":1,"text":"%s","logprob":-0.1,"special":%s},"generated_text":%s,"details":%s}'
    data = sse(
        (None, token % (1, "Hello", "false", "null", "null")),
        (
            None,
            token
            % (
                2,
                "</s>",
                "true",
                '"Hello"',
                '{"finish_reason":"eos_token","generated_tokens":2,"seed":null,"input_length":7}',
            ),
        ),
    )
    events, _ = normalize(data)
    assert fold(events) == {
        "text": "Hello",
        "reasoning": "",
        "tool_calls": [],
        "finish_reason": "eos_token",
        "usage": {"input_tokens": 7, "output_tokens": 2},
        "error": None,
    }


def test_tgi_imitators_without_generated_text_on_each_token() -> None:
    """MindIE's TGI-style stream: no `generated_text` key until the last event."""
    data = sse(
        (None, '{"prefill_time":null,"decode_time":16.80,"token":{"id":[29871],"text":"am"}}'),
        (None, '{"prefill_time":null,"decode_time":16.80,"token":{"id":[29896],"text":" here"}}'),
        (
            None,
            '{"prefill_time":null,"generated_text":"am here","details":{"finish_reason":"length","generated_tokens":2,"seed":1},"token":{"id":[29945],"text":null}}',
        ),
    )
    events, outcome = normalize(data)
    assert events[0]["provider"] == "tgi" and fold(events)["text"] == "am here"
    assert events[-1] == {"type": "done", "finish_reason": "length"} and outcome.truncated == 0


def test_dashscope_multimodal_content_parts_cumulative() -> None:
    result = '{"output":{"choices":[{"message":{"content":[{"text":"%s"}],"role":"assistant"},"finish_reason":"%s"}]},"usage":{"input_tokens":92,"output_tokens":%d},"request_id":"e2"}'
    events, _ = normalize(
        sse(
            ("result", result % ("Hello", "null", 1)),
            ("result", result % ("Hello! How can I help?", "stop", 10)),
        )
    )
    assert [e["text"] for e in events if e["type"] == "delta"] == ["Hello", "! How can I help?"]
    assert fold(events)["usage"] == {"input_tokens": 92, "output_tokens": 10}


def test_llamacpp_old_server_has_no_reason_string() -> None:
    data = sse(
        (None, '{"content":"Hi","stop":false,"slot_id":0,"multimodal":false}'),
        (
            None,
            '{"content":"","stop":true,"stopped_eos":false,"stopped_limit":true,"stopped_word":false,"tokens_evaluated":3,"tokens_predicted":1}',
        ),
    )
    events, _ = normalize(data)
    assert events[-1] == {"type": "done", "finish_reason": None}  # booleans are not a reason
    assert fold(events)["usage"] == {"input_tokens": 3, "output_tokens": 1}


def test_dashscope_incremental_output_and_an_error_event() -> None:
    result = '{"output":{"choices":[{"message":{"content":"%s","role":"assistant"},"finish_reason":"%s"}]},"request_id":"r1"}'
    data = sse(
        ("result", result % ("Hel", "null")),
        ("result", result % ("lo", "null")),
        ("result", result % ("", "stop")),
    )
    events, _ = normalize(data)
    assert fold(events)["text"] == "Hello" and events[-1]["finish_reason"] == "stop"
    error = sse(
        (
            "error",
            '{"code":"InvalidParameter","message":"Range of input length should be [1, 30720]","request_id":"r2"}',
        )
    )
    events, outcome = normalize(error)
    assert events[0]["provider"] == "dashscope"
    assert (
        fold(events)["error"] == "Range of input length should be [1, 30720]"
        and outcome.errors == 1
    )


def test_dashscope_cumulative_reasoning_and_tool_arguments_become_deltas() -> None:
    chunk = '{"output":{"choices":[{"message":{"role":"assistant","content":"","reasoning_content":"%s","tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":"%s"}}]},"finish_reason":"%s"}]},"request_id":"r"}'
    data = sse(
        ("result", chunk % ("Think", '{\\"a\\"', "null")),
        ("result", chunk % ("Thinking", '{\\"a\\": 1}', "tool_calls")),
    )
    events, _ = normalize(data)
    got = fold(events)
    assert got["reasoning"] == "Thinking"
    assert got["tool_calls"] == [{"id": "call_1", "name": "f", "arguments": {"a": 1}}]


def test_vercel_ui_tool_input_and_reasoning() -> None:
    data = sse(
        (None, '{"type":"start","messageId":"m1"}'),
        (None, '{"type":"reasoning-delta","id":"r","delta":"Hmm."}'),
        (None, '{"type":"tool-input-start","toolCallId":"c1","toolName":"weather"}'),
        (None, '{"type":"tool-input-delta","toolCallId":"c1","inputTextDelta":"{\\"city\\":"}'),
        (
            None,
            '{"type":"tool-input-available","toolCallId":"c1","toolName":"weather","input":{"city":"Oslo"}}',
        ),
        (None, '{"type":"finish","finishReason":"tool-calls"}'),
        (None, "[DONE]"),
    )
    events, outcome = normalize(data)
    got = fold(events)
    assert got["reasoning"] == "Hmm." and got["finish_reason"] == "tool-calls"
    assert got["tool_calls"] == [{"id": "c1", "name": "weather", "arguments": {"city": "Oslo"}}]
    assert events[0] == {"type": "start", "provider": "vercel-ui", "id": "m1"}
    assert outcome.errors == outcome.bad_calls == 0


def test_dify_agent_and_workflow_streams() -> None:
    agent = sse(
        (
            None,
            '{"event": "agent_thought", "id": "t1", "position": 1, "thought": "", "tool": "", "tool_input": ""}',
        ),
        (
            None,
            '{"event": "agent_thought", "id": "t1", "position": 1, "thought": "", "tool": "search;dalle3", "tool_input": "{\\"search\\": {\\"q\\": \\"x\\"}, \\"dalle3\\": {\\"prompt\\": \\"cat\\"}}"}',
        ),
        (
            None,
            '{"event": "agent_thought", "id": "t1", "position": 1, "thought": "", "tool": "search;dalle3", "tool_input": "{}", "observation": "done"}',
        ),
        (None, '{"event": "agent_message", "answer": "Found it."}'),
        (
            None,
            '{"event": "message_end", "metadata": {"usage": {"prompt_tokens": 3, "completion_tokens": 4}}}',
        ),
        (None, '{"event": "tts_message_end", "audio": ""}'),
    )
    events, outcome = normalize(agent)
    assert fold(events)["tool_calls"] == [
        {"id": None, "name": "search", "arguments": {"q": "x"}},
        {"id": None, "name": "dalle3", "arguments": {"prompt": "cat"}},
    ]
    assert fold(events)["text"] == "Found it." and types(events).count("start") == 1
    workflow = sse(
        (None, '{"event": "workflow_started", "data": {}}'),
        (None, '{"event": "text_chunk", "data": {"text": "Done"}}'),
        (None, '{"event": "workflow_finished", "data": {"status": "succeeded"}}'),
    )
    events, outcome = normalize(workflow)
    assert fold(events)["text"] == "Done" and events[-1] == {
        "type": "done",
        "finish_reason": "succeeded",
    }
    failed = sse(
        (
            None,
            '{"event": "error", "task_id": "t9", "message_id": "m9", "status": 400, "code": "invalid_param", "message": "bad input"}',
        )
    )
    events, outcome = normalize(failed)
    assert fold(events)["error"] == "bad input" and outcome.errors == 1


def test_cloudflare_replicate_error_events() -> None:
    events, outcome = normalize(
        sse(
            ("output", "Once"),
            ("error", '{"detail": "out of memory"}'),
            ("done", '{"reason": "error"}'),
        )
    )
    assert fold(events)["error"] == "out of memory" and events[-1]["finish_reason"] == "error"
    events, outcome = normalize(
        sse(
            (None, '{"response":"Hi"}'),
            (None, '{"response":"","errors":[{"message":"capacity","code":3040}]}'),
        )
    )
    assert events[-1] == {"type": "done", "finish_reason": None} and outcome.errors == 1


def test_tgi_chat_without_done_needs_the_finish_chunk() -> None:
    chunk = '{"id":"","object":"text_completion","model":"m","system_fingerprint":"2.0.1-sha-2d0a717","choices":[{"index":0,"delta":{"role":"assistant","content":"%s"},"finish_reason":%s}]}'
    whole = sse((None, chunk % ("Hi", "null")), (None, chunk % ("</s>", '"eos_token"')))
    assert normalize(whole)[0][-1] == {"type": "done", "finish_reason": "eos_token"}
    cut = sse((None, chunk % ("Hi", "null")))
    assert normalize(cut)[0][-1]["code"] == TRUNCATED
    # A newer TGI labels its chunks right; its fingerprint still tells.
    newer = whole.replace(b'"text_completion"', b'"chat.completion.chunk"').replace(
        b"2.0.1", b"2.1.1"
    )
    assert normalize(newer)[0][-1] == {"type": "done", "finish_reason": "eos_token"}
    # OpenAI itself still needs [DONE] after the finish chunk.
    openai = whole.replace(b'"text_completion"', b'"chat.completion.chunk"').replace(
        b'"2.0.1-sha-2d0a717"', b'"fp_1"'
    )
    assert normalize(openai)[0][-1]["code"] == TRUNCATED
