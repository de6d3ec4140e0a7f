"""The provider dialects: the registry, and detection from the stream itself.

Each dialect is one small module turning one provider's SSE events into the
normalized events of DESIGN.md section 3 (see `base.Dialect`). `detect()`
names the dialect an event belongs to, from its event name and the shape of
its JSON, in the order of the table below; the first event that tells
decides. Events that tell nothing (`[DONE]`, `{}`, keep-alive pings) wait.

| dialect          | recognised by                                                  |
|------------------|----------------------------------------------------------------|
| openai-responses | `response.*` event names or `type`                             |
| anthropic        | message_start, content_block_*, message_delta/stop, ping;      |
|                  | `{"type": "error", "error": {...}}`                            |
| cohere           | hyphenated types: message-start, content-delta, tool-call-*... |
| coze             | `conversation.chat.*` / `.message.*` events; `error` + `msg`   |
| gemini           | `candidates`, `promptFeedback` or `usageMetadata` in the JSON  |
| bedrock          | ConverseStream frame types (messageStart...), `...Exception`   |
| replicate        | `event: output` / `event: logs`                                |
| vercel-ui        | `type` of the UI message stream (text-delta, start-step...)    |
| openai-chat      | `choices`, `"object": "chat.completion.chunk"`                 |
| tgi              | a `token` object with `text`; `error` with `error_type`        |
| ollama           | a boolean `done` (NDJSON lines)                                |
| dashscope        | `output` (an object) or `request_id`                           |
| llamacpp         | `content` with a boolean `stop`                                |
| cloudflare       | `response` (a string)                                          |
| dify             | `event` naming a Dify event (message, message_end...)          |
| openai-chat      | `{"error": ...}`                                               |
| generic          | a JSON object with a `content` field                           |

The checks cost a few set and dict lookups, once per input: detection stops
at the first event that tells. Dialects described in files (`register`,
`--dialect-file`) are tried first, and shadow a built-in of the same name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import orjson

from ssechat.dialects import bedrock, dify, replicate, vercel_ui
from ssechat.dialects.anthropic import Anthropic
from ssechat.dialects.base import Dialect, loads
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
    except (ValueError, orjson.JSONDecodeError):
        return None


def detect(event: Event) -> str | None:  # noqa: C901
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
    if name.startswith("response.") or kind.startswith("response."):
        return "openai-responses"
    if (name in _ANTHROPIC and name != "ping") or kind in _ANTHROPIC:
        return "anthropic"
    if name in _COHERE or kind in _COHERE:
        return "cohere"
    if name.startswith(("conversation.chat.", "conversation.message.")):
        return "coze"
    if name in bedrock.EVENTS or name.endswith("Exception"):
        return "bedrock"
    if name in replicate.EVENTS:
        return "replicate"
    if (kind in vercel_ui.HANDLERS or kind.startswith("data-")) and (
        kind != "error" or "errorText" in payload
    ):
        return "vercel-ui"
    if isinstance(payload, list) and payload and isinstance(payload[0], dict):
        payload = payload[0]  # Gemini without alt=sse: a JSON array
    if not isinstance(payload, dict):
        return None
    if kind == "error" and isinstance(payload.get("error"), dict):
        return "anthropic"
    if name == "error" and ("msg" in payload or "code" in payload):
        return "dashscope" if "request_id" in payload else "coze"
    if "candidates" in payload or "promptFeedback" in payload or "usageMetadata" in payload:
        return "gemini"
    if "choices" in payload or payload.get("object") == "chat.completion.chunk":
        return "openai-chat"
    return _long_tail(payload)


def _long_tail(payload: dict[str, Any]) -> str | None:
    """The JSON shapes of the long tail (DESIGN.md section 8), then the simplest servers."""
    token = payload.get("token")
    if (isinstance(token, dict) and "text" in token) or "error_type" in payload:
        return "tgi"  # also TGI's imitators (MindIE), whose tokens lack `generated_text`
    if type(payload.get("done")) is bool:
        return "ollama"
    if isinstance(payload.get("output"), dict) or "request_id" in payload:
        return "dashscope"
    if type(payload.get("stop")) is bool and "content" in payload:
        return "llamacpp"
    if isinstance(payload.get("response"), str):
        return "cloudflare"
    if payload.get("event") in dify.HANDLERS and (
        payload["event"] not in ("message", "error", "ping")
        or "conversation_id" in payload
        or "task_id" in payload
        or "message_id" in payload
    ):
        return "dify"
    if isinstance(payload.get("error"), (dict, str)):
        return "openai-chat"
    if "content" in payload:
        return "generic"
    return None


def is_neutral(event: Event) -> bool:
    """An event that tells nothing either way (detection waits for the next one)."""
    return event.data.strip() in _NEUTRAL_DATA or event.event in _NEUTRAL_EVENTS
