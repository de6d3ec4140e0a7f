"""Request shapes per provider (providers.py, bodies.py), as sent by the transport (`responses`)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import responses

from ssechat.bodies import ANTHROPIC_MAX_TOKENS, Prompt, Tool, parse_tools
from ssechat.errors import UsageError
from ssechat.providers import (
    ANTHROPIC_VERSION,
    PROVIDERS,
    Request,
    anthropic_prefill,
    base_url_for,
    build_request,
    is_background,
    parse_header,
    responses_continuation,
)
from ssechat.transport.session import new_session
from ssechat.transport.stream import Timeouts, open_stream

KEY = "sk-test-FAKEKEY-0123456789abcdef"
WEATHER = Tool(
    "get_weather",
    "The weather in a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}


def sent(request: Request) -> tuple[str, dict[str, str], dict[str, Any]]:
    """Send `request` through the real transport to a `responses` mock; what went out."""
    with responses.RequestsMock() as mock:
        mock.add(
            responses.POST,
            request.url,
            body=b"data: [DONE]\n\n",
            content_type="text/event-stream",
        )
        stream = open_stream(new_session(), request, Timeouts(), deadline=None)
        assert b"".join(stream.chunks()) == b"data: [DONE]\n\n"
        stream.close()
        call = mock.calls[0].request
    body = call.body
    assert isinstance(body, bytes)
    return str(call.url), dict(call.headers), json.loads(body)


def test_openai_chat_shape() -> None:
    prompt = Prompt("Hello", system="Be brief", model="gpt-test", tools=(WEATHER,), max_tokens=9)
    url, headers, body = sent(build_request("openai", prompt, KEY, base_url="https://x.test/v1"))
    assert url == "https://x.test/v1/chat/completions"
    assert headers["Authorization"] == f"Bearer {KEY}"
    assert headers["Accept"] == "text/event-stream"
    assert headers["Content-Type"] == "application/json"
    assert body["model"] == "gpt-test"
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["max_tokens"] == 9
    assert body["messages"] == [
        {"role": "system", "content": "Be brief"},
        {"role": "user", "content": "Hello"},
    ]
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": WEATHER.name,
                "description": WEATHER.description,
                "parameters": WEATHER.parameters,
            },
        }
    ]


def test_openai_json_modes() -> None:
    base = "https://x.test/v1"
    _, _, body = sent(build_request("openai", Prompt("hi", json_mode=True), KEY, base_url=base))
    assert body["response_format"] == {"type": "json_object"}
    _, _, body = sent(build_request("openai", Prompt("hi", schema=SCHEMA), KEY, base_url=base))
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"] == SCHEMA


def test_openai_responses_shape() -> None:
    prompt = Prompt("Hello", system="Be brief", tools=(WEATHER,), schema=SCHEMA)
    url, headers, body = sent(
        build_request("openai-responses", prompt, KEY, base_url="https://x.test/v1")
    )
    assert url == "https://x.test/v1/responses"
    assert headers["Authorization"] == f"Bearer {KEY}"
    assert body["model"] == PROVIDERS["openai-responses"].default_model
    assert body["stream"] is True
    assert body["instructions"] == "Be brief"
    assert body["input"] == [{"role": "user", "content": "Hello"}]
    assert body["tools"][0] == {
        "type": "function",
        "name": WEATHER.name,
        "description": WEATHER.description,
        "parameters": WEATHER.parameters,
    }
    assert body["text"]["format"]["type"] == "json_schema"
    assert body["text"]["format"]["schema"] == SCHEMA


def test_anthropic_shape() -> None:
    prompt = Prompt("Hello", system="Be brief", tools=(WEATHER,), schema=SCHEMA)
    url, headers, body = sent(
        build_request("anthropic", prompt, KEY, base_url="https://api.anthropic.test")
    )
    assert url == "https://api.anthropic.test/v1/messages"
    assert headers["x-api-key"] == KEY
    assert "Authorization" not in headers
    assert headers["anthropic-version"] == ANTHROPIC_VERSION
    assert body["max_tokens"] == ANTHROPIC_MAX_TOKENS
    assert body["system"] == "Be brief"
    assert body["messages"] == [{"role": "user", "content": "Hello"}]
    assert body["stream"] is True
    assert body["tools"] == [
        {
            "name": WEATHER.name,
            "description": WEATHER.description,
            "input_schema": WEATHER.parameters,
        }
    ]
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": SCHEMA}}


def test_anthropic_has_no_json_object_mode() -> None:
    with pytest.raises(UsageError, match="--schema"):
        build_request("anthropic", Prompt("hi", json_mode=True), KEY, base_url="https://a.test")


def test_coze_shape() -> None:
    prompt = Prompt("Hello", bot_id="7350", user_id="u1", conversation_id="c9")
    url, headers, body = sent(build_request("coze", prompt, KEY, base_url="https://api.coze.test"))
    assert url == "https://api.coze.test/v3/chat?conversation_id=c9"
    assert headers["Authorization"] == f"Bearer {KEY}"
    assert body == {
        "bot_id": "7350",
        "user_id": "u1",
        "stream": True,
        "auto_save_history": True,
        "additional_messages": [{"role": "user", "content": "Hello", "content_type": "text"}],
    }


def test_coze_needs_a_bot_and_refuses_what_bots_configure() -> None:
    with pytest.raises(UsageError, match="--bot-id"):
        build_request("coze", Prompt("hi"), KEY, base_url="https://c.test")
    with pytest.raises(UsageError, match="--system"):
        build_request("coze", Prompt("hi", system="x", bot_id="1"), KEY, base_url="https://c.test")


def test_coze_base_url_from_environment() -> None:
    coze = PROVIDERS["coze"]
    assert base_url_for(coze, None, {}) == "https://api.coze.com"
    assert base_url_for(coze, None, {"COZE_API_BASE": "https://api.coze.cn/"}) == (
        "https://api.coze.cn"
    )
    assert base_url_for(coze, "https://given.test", {"COZE_API_BASE": "x"}) == "https://given.test"


def test_gemini_shape() -> None:
    prompt = Prompt(
        "Hello", system="Be brief", model="gemini-test", tools=(WEATHER,), json_mode=True
    )
    url, headers, body = sent(
        build_request("gemini", prompt, KEY, base_url="https://g.test/v1beta")
    )
    assert url == "https://g.test/v1beta/models/gemini-test:streamGenerateContent?alt=sse"
    assert headers["x-goog-api-key"] == KEY
    assert body["contents"] == [{"role": "user", "parts": [{"text": "Hello"}]}]
    assert body["systemInstruction"] == {"parts": [{"text": "Be brief"}]}
    assert body["tools"][0]["functionDeclarations"][0]["name"] == "get_weather"
    assert body["generationConfig"] == {"responseMimeType": "application/json"}


def test_body_is_sent_as_given_with_streaming_forced() -> None:
    given = {"model": "m1", "messages": [{"role": "user", "content": "x"}], "stream": False, "n": 2}
    _, _, body = sent(build_request("openai", Prompt(body=given), KEY, base_url="https://x.test"))
    assert body == {**given, "stream": True}


def test_extra_headers_replace_defaults_case_insensitively() -> None:
    request = build_request(
        "openai",
        Prompt("hi"),
        KEY,
        base_url="https://x.test",
        headers=(parse_header("X-Access-Code: abc 123"), parse_header("accept: */*")),
    )
    _, headers, _ = sent(request)
    assert headers["X-Access-Code"] == "abc 123"
    assert headers["accept"] == "*/*"
    assert "Accept" not in request.headers


@pytest.mark.parametrize("bad", ["no colon", ": value", "Bad Name: v"])
def test_bad_headers(bad: str) -> None:
    with pytest.raises(UsageError):
        parse_header(bad)


@pytest.mark.parametrize(
    "document",
    [
        [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
        [{"name": "f", "parameters": {"type": "object"}}],
        [{"name": "f", "input_schema": {"type": "object"}}],
        {"tools": [{"name": "f", "parameters": {"type": "object"}}]},
    ],
)
def test_tool_shapes_accepted(document: Any) -> None:
    assert parse_tools(document) == (Tool("f", "", {"type": "object"}),)


def test_tools_need_names() -> None:
    with pytest.raises(UsageError):
        parse_tools([{"description": "nameless"}])


def test_secret_headers_are_marked() -> None:
    for name in PROVIDERS:
        prompt = Prompt("hi", bot_id="1", model="m")
        request = build_request(name, prompt, KEY, base_url="https://x.test")
        marked = {request.headers[h] for h in request.secret_headers}
        assert any(KEY in value for value in marked), name


def test_anthropic_prefill_continues_the_partial_answer() -> None:
    request = build_request("anthropic", Prompt("Count"), KEY, base_url="https://a.test")
    follow = anthropic_prefill(request, "One, two, ")
    assert follow is not None
    assert follow.body["messages"][-1] == {"role": "assistant", "content": "One, two,"}
    assert anthropic_prefill(request, "   ") is None


def test_anthropic_prefill_adds_to_the_users_own_prefill() -> None:
    body = {
        "model": "m",
        "max_tokens": 9,
        "messages": [
            {"role": "user", "content": "Count"},
            {"role": "assistant", "content": "One,"},
        ],
    }
    request = build_request("anthropic", Prompt(body=body), KEY, base_url="https://a.test")
    follow = anthropic_prefill(request, " two, ")
    assert follow is not None
    assert follow.body["messages"] == [
        {"role": "user", "content": "Count"},
        {"role": "assistant", "content": "One, two,"},
    ]
    blocks = {
        **body,
        "messages": [
            body["messages"][0],
            {"role": "assistant", "content": [{"type": "text", "text": "One,"}]},
        ],
    }
    request = build_request("anthropic", Prompt(body=blocks), KEY, base_url="https://a.test")
    follow = anthropic_prefill(request, " two\n")
    assert follow is not None
    assert follow.body["messages"][-1]["content"] == [{"type": "text", "text": "One, two"}]
    no_messages = build_request("anthropic", Prompt(body={"x": 1}), KEY, base_url="https://a.test")
    assert anthropic_prefill(no_messages, "text") is None


def test_background_mode_and_its_continuation() -> None:
    prompt = Prompt("hi", background=True)
    request = build_request("openai-responses", prompt, KEY, base_url="https://x.test/v1")
    assert request.body["background"] is True and is_background(request)
    assert not is_background(build_request("openai-responses", Prompt("hi"), KEY, base_url="u"))
    with pytest.raises(UsageError, match="--background"):
        build_request("openai", prompt, KEY, base_url="https://x.test/v1")
    follow = responses_continuation(request, "resp/1", 41)
    assert follow.method == "GET"
    assert follow.url == "https://x.test/v1/responses/resp%2F1?stream=true&starting_after=41"
    assert follow.headers["Authorization"] == f"Bearer {KEY}"
    assert "Content-Type" not in follow.headers
    assert follow.body_bytes() == b""
    # A query on the URL (a gateway's api-version) is kept.
    gateway = Request(
        "POST", "https://g.test/v1/responses?api-version=1", {}, {}, "openai-responses", "x"
    )
    follow = responses_continuation(gateway, "r", 0)
    assert follow.url == "https://g.test/v1/responses/r?api-version=1&stream=true&starting_after=0"
