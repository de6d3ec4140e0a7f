"""Detection: which built-in dialect a stream is, from one of its events.

The first event that tells decides: its event name and `type` (`_BY_NAME`,
on any event), then the shape of its JSON (`_BY_SHAPE`, on an object, or
the first of an array). Each test is a few set and dict lookups, and runs
once per input. Events that tell nothing (`[DONE]`, `{}`, keep-alive
pings) wait (`is_neutral`). The table of tests: docs/dialects.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from ssechat.jsonload import loads
from ssechat.sse import Event

_ANTHROPIC: Final = frozenset(
    {
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
        "ping",
    }
)
_COHERE: Final = frozenset(
    {
        "message-start",
        "content-start",
        "content-delta",
        "content-end",
        "tool-plan-delta",
        "tool-call-start",
        "tool-call-delta",
        "tool-call-end",
        "citation-start",
        "citation-end",
        "message-end",
    }
)
_NEUTRAL_DATA: Final = frozenset({"", "[DONE]", "{}", '"[DONE]"'})
_NEUTRAL_EVENTS: Final = frozenset({"ping", "keepalive", "keep-alive", "heartbeat"})
BEDROCK: Final = frozenset(
    {
        "messageStart",
        "contentBlockStart",
        "contentBlockDelta",
        "contentBlockStop",
        "messageStop",
        "metadata",
    }
)
"""ConverseStream frame types (`bedrock`)."""
_REPLICATE: Final = frozenset({"output", "logs"})
VERCEL_UI: Final = frozenset(
    {
        "text-delta",
        "reasoning-delta",
        "tool-input-start",
        "tool-input-delta",
        "tool-input-available",
        "tool-input-error",
        "error",
        "finish",
        "abort",
        "start",
        "start-step",
        "finish-step",
        "text-start",
        "text-end",
        "reasoning-start",
        "reasoning-end",
        "tool-output-available",
        "tool-output-error",
        "source-url",
        "source-document",
        "file",
        "message-metadata",
    }
)
"""Every chunk type of the UI message stream (`vercel_ui.HANDLERS` reads them all)."""
DIFY: Final = frozenset(
    {
        "message",
        "agent_message",
        "text_chunk",
        "message_replace",
        "agent_thought",
        "message_end",
        "workflow_finished",
        "error",
        "workflow_started",
        "node_started",
        "node_finished",
        "iteration_started",
        "iteration_next",
        "iteration_completed",
        "loop_started",
        "loop_next",
        "loop_completed",
        "parallel_branch_started",
        "parallel_branch_finished",
        "node_retry",
        "message_file",
        "tts_message",
        "tts_message_end",
        "agent_log",
        "ping",
    }
)
"""Every Dify event (`dify.HANDLERS` reads them all)."""


def _payload(data: str) -> Any:
    try:
        return loads(data)
    except ValueError:
        return None


def detect_builtin(event: Event) -> str | None:
    """The built-in dialect this event belongs to, or None when it tells nothing."""
    name = event.event
    payload = _payload(event.data)
    kind = payload.get("type") if isinstance(payload, dict) else None
    kind = kind if isinstance(kind, str) else ""
    for dialect, test in _BY_NAME:
        if test(name, kind, payload):
            return dialect
    if isinstance(payload, list) and payload and isinstance(payload[0], dict):
        payload = payload[0]  # Gemini without alt=sse: a JSON array
    if not isinstance(payload, dict):
        return None
    for dialect, test in _BY_SHAPE:
        if test(name, kind, payload):
            return dialect
    return None


# -- the tests of `detect`, in order: (name, kind, payload) -> bool -------------------


def _responses(name: str, kind: str, payload: Any) -> bool:
    return name.startswith("response.") or kind.startswith("response.")


def _anthropic(name: str, kind: str, payload: Any) -> bool:
    return (name in _ANTHROPIC and name != "ping") or kind in _ANTHROPIC


def _cohere(name: str, kind: str, payload: Any) -> bool:
    return name in _COHERE or kind in _COHERE


def _coze(name: str, kind: str, payload: Any) -> bool:
    return name.startswith(("conversation.chat.", "conversation.message."))


def _bedrock(name: str, kind: str, payload: Any) -> bool:
    return name in BEDROCK or name.endswith("Exception")


def _replicate(name: str, kind: str, payload: Any) -> bool:
    return name in _REPLICATE


def _vercel_ui(name: str, kind: str, payload: Any) -> bool:
    ui = kind in VERCEL_UI or kind.startswith("data-")
    return ui and (kind != "error" or "errorText" in payload)


def _anthropic_error(name: str, kind: str, payload: dict[str, Any]) -> bool:
    return kind == "error" and isinstance(payload.get("error"), dict)


def _dashscope_error(name: str, kind: str, payload: dict[str, Any]) -> bool:
    return name == "error" and "request_id" in payload and ("msg" in payload or "code" in payload)


def _coze_error(name: str, kind: str, payload: dict[str, Any]) -> bool:
    return name == "error" and ("msg" in payload or "code" in payload)


def _gemini(name: str, kind: str, payload: dict[str, Any]) -> bool:
    return "candidates" in payload or "promptFeedback" in payload or "usageMetadata" in payload


def _openai_chat(name: str, kind: str, payload: dict[str, Any]) -> bool:
    return "choices" in payload or payload.get("object") == "chat.completion.chunk"


def _tgi(name: str, kind: str, payload: dict[str, Any]) -> bool:
    """Also TGI's imitators (MindIE), whose tokens lack `generated_text`."""
    token = payload.get("token")
    return (isinstance(token, dict) and "text" in token) or "error_type" in payload


def _ollama(name: str, kind: str, payload: dict[str, Any]) -> bool:
    return type(payload.get("done")) is bool


def _dashscope(name: str, kind: str, payload: dict[str, Any]) -> bool:
    return isinstance(payload.get("output"), dict) or "request_id" in payload


def _llamacpp(name: str, kind: str, payload: dict[str, Any]) -> bool:
    return type(payload.get("stop")) is bool and "content" in payload


def _cloudflare(name: str, kind: str, payload: dict[str, Any]) -> bool:
    return isinstance(payload.get("response"), str)


def _dify(name: str, kind: str, payload: dict[str, Any]) -> bool:
    """A Dify event name under `event`; the ones other APIs share need a Dify id with them."""
    if payload.get("event") not in DIFY:
        return False
    shared = payload["event"] in ("message", "error", "ping")
    return not shared or any(key in payload for key in _DIFY_IDS)


def _error_object(name: str, kind: str, payload: dict[str, Any]) -> bool:
    return isinstance(payload.get("error"), (dict, str))


def _generic(name: str, kind: str, payload: dict[str, Any]) -> bool:
    return "content" in payload


_DIFY_IDS: Final = ("conversation_id", "task_id", "message_id")
_Test = Callable[[str, str, Any], bool]
_BY_NAME: Final[tuple[tuple[str, _Test], ...]] = (
    ("openai-responses", _responses),
    ("anthropic", _anthropic),
    ("cohere", _cohere),
    ("coze", _coze),
    ("bedrock", _bedrock),
    ("replicate", _replicate),
    ("vercel-ui", _vercel_ui),
)
"""Event names and `type`s: checked on any event."""
_BY_SHAPE: Final[tuple[tuple[str, _Test], ...]] = (
    ("anthropic", _anthropic_error),
    ("dashscope", _dashscope_error),
    ("coze", _coze_error),
    ("gemini", _gemini),
    ("openai-chat", _openai_chat),
    ("tgi", _tgi),  # the long tail (docs/dialects.md), then the simplest servers
    ("ollama", _ollama),
    ("dashscope", _dashscope),
    ("llamacpp", _llamacpp),
    ("cloudflare", _cloudflare),
    ("dify", _dify),
    ("openai-chat", _error_object),
    ("generic", _generic),
)
"""The shape of a JSON object (the first of an array): checked in order."""


def is_neutral(event: Event) -> bool:
    """An event that tells nothing either way (detection waits for the next one)."""
    return event.data.strip() in _NEUTRAL_DATA or event.event in _NEUTRAL_EVENTS
