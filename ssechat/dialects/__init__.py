"""The provider dialects: the registry, and detection from the stream itself.

Each dialect is one small module turning one provider's SSE events into the
normalized events of docs/design.md section 3 (see `base.Dialect`).
`detect()` names the dialect an event belongs to, from its event name and
the shape of its JSON, trying the tests of `_BY_NAME` then `_BY_SHAPE` in
order (docs/dialects.md has them as a table); the first event that tells
decides. Events that tell nothing (`[DONE]`, `{}`, keep-alive pings) wait.
Dialects described in files (`register`, `--dialect-file`) are tried
first, and shadow a built-in of the same name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from ssechat.dialects import bedrock, dify, replicate, vercel_ui
from ssechat.dialects.anthropic import Anthropic
from ssechat.dialects.base import Dialect
from ssechat.dialects.bedrock import Bedrock
from ssechat.dialects.cloudflare import Cloudflare
from ssechat.dialects.cohere import Cohere
from ssechat.dialects.coze import Coze
from ssechat.dialects.dashscope import DashScope
from ssechat.dialects.dify import Dify
from ssechat.dialects.gemini import Gemini
from ssechat.dialects.generic import Generic
from ssechat.dialects.llamacpp import LlamaCpp
from ssechat.dialects.ollama import Ollama
from ssechat.dialects.openai_chat import OpenAIChat
from ssechat.dialects.openai_responses import OpenAIResponses
from ssechat.dialects.replicate import Replicate
from ssechat.dialects.tgi import TGI
from ssechat.dialects.vercel_ui import VercelUI
from ssechat.jsonload import loads
from ssechat.sse import Event

if TYPE_CHECKING:  # dialect files are rare: their modules load with the first one
    from ssechat.dialects.described import Described
    from ssechat.dialects.description import Description

__all__ = [
    "DIALECTS",
    "NAMES",
    "Dialect",
    "create",
    "detect",
    "is_neutral",
    "register",
    "unregister",
]

DIALECTS: Final[dict[str, type[Dialect]]] = {
    cls.name: cls
    for cls in (
        OpenAIChat,
        OpenAIResponses,
        Anthropic,
        Coze,
        Gemini,
        Cohere,
        Generic,
        TGI,
        LlamaCpp,
        Ollama,
        Cloudflare,
        Dify,
        DashScope,
        VercelUI,
        Replicate,
        Bedrock,
    )
}
NAMES: Final = tuple(DIALECTS)

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


_DESCRIBED: dict[str, type[Described]] = {}
"""The dialects of the dialect files loaded so far (`register`), by name."""


def register(description: Description) -> str:
    """Make a described dialect known to `create` and `detect`; returns its name."""
    from ssechat.dialects.described import dialect_class

    _DESCRIBED[description.name] = dialect_class(description)
    return description.name


def unregister(name: str) -> None:
    """Forget a described dialect (the built-in of that name, if any, is back)."""
    _DESCRIBED.pop(name, None)


def create(name: str) -> Dialect:
    """A fresh dialect by its name (KeyError for an unknown one)."""
    cls: type[Dialect] = _DESCRIBED.get(name) or DIALECTS[name]
    return cls()


def _payload(data: str) -> Any:
    try:
        return loads(data)
    except ValueError:
        return None


def detect(event: Event) -> str | None:
    """The name of the dialect this event belongs to, or None when it tells nothing."""
    if _DESCRIBED:
        from ssechat.dialects.described import recognizes

        for described in _DESCRIBED.values():
            if recognizes(described.description, event):
                return described.name
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
    return name in bedrock.EVENTS or name.endswith("Exception")


def _replicate(name: str, kind: str, payload: Any) -> bool:
    return name in replicate.EVENTS


def _vercel_ui(name: str, kind: str, payload: Any) -> bool:
    ui = kind in vercel_ui.HANDLERS or kind.startswith("data-")
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
    if payload.get("event") not in dify.HANDLERS:
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
