"""The provider dialects: the registry, and detection from the stream itself.

Each dialect is one small module turning one provider's SSE events into the
normalized events of docs/design.md ("Normalized events"; see `base.Dialect`).
A dialect's module loads when a stream needs it (`create`): start-up.
`detect()` names the dialect an event belongs to (`detection`); dialects
described in files (`register`, `--dialect-file`) are tried first, and
shadow a built-in of the same name.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Final

from ssechat.dialects.base import Dialect
from ssechat.dialects.detection import detect_builtin, is_neutral
from ssechat.sse import Event

if TYPE_CHECKING:  # dialect files are rare: their modules load with the first one
    from ssechat.dialects.described import Described
    from ssechat.dialects.description import Description

__all__ = [
    "CLASSES",
    "NAMES",
    "Dialect",
    "create",
    "detect",
    "is_neutral",
    "register",
    "unregister",
]

CLASSES: Final[dict[str, tuple[str, str]]] = {
    "openai-chat": ("openai_chat", "OpenAIChat"),
    "openai-responses": ("openai_responses", "OpenAIResponses"),
    "anthropic": ("anthropic", "Anthropic"),
    "coze": ("coze", "Coze"),
    "gemini": ("gemini", "Gemini"),
    "cohere": ("cohere", "Cohere"),
    "generic": ("generic", "Generic"),
    "tgi": ("tgi", "TGI"),
    "llamacpp": ("llamacpp", "LlamaCpp"),
    "ollama": ("ollama", "Ollama"),
    "cloudflare": ("cloudflare", "Cloudflare"),
    "dify": ("dify", "Dify"),
    "dashscope": ("dashscope", "DashScope"),
    "vercel-ui": ("vercel_ui", "VercelUI"),
    "replicate": ("replicate", "Replicate"),
    "bedrock": ("bedrock", "Bedrock"),
}
"""The built-in dialects: name -> (module in ssechat.dialects, class)."""
NAMES: Final = tuple(CLASSES)

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
    described = _DESCRIBED.get(name)
    if described is not None:
        return described()
    module, class_name = CLASSES[name]
    cls: type[Dialect] = getattr(import_module(f"ssechat.dialects.{module}"), class_name)
    return cls()


def detect(event: Event) -> str | None:
    """The name of the dialect this event belongs to, or None when it tells nothing."""
    if _DESCRIBED:
        from ssechat.dialects.described import recognizes

        for described in _DESCRIBED.values():
            if recognizes(described.description, event):
                return described.name
    return detect_builtin(event)
