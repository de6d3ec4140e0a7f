"""The request `send` makes of each provider: URL, headers and body, and its follow-ups.

One table row per provider (`PROVIDERS`): its default base URL and the
variable that overrides it, the variable its key comes from, how the key is
sent, the dialect its stream speaks, its path, and the body builder of
`ssechat.bodies`. `build_request` makes the `Request` (with `--body` sent as
given, streaming forced on); the follow-up requests continue or cancel one
(`anthropic_prefill`, `responses_continuation`, `coze_cancel`). Everything
here is pure (no network, no environment). docs/transport.md lists each
provider's request.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Final, NamedTuple
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from ssechat import __version__, bodies
from ssechat.bodies import JSONObject, Prompt, refuse
from ssechat.errors import UsageError

ANTHROPIC_VERSION: Final = "2023-06-01"
USER_AGENT: Final = f"ssechat/{__version__}"


class Request(NamedTuple):
    """One HTTP request, ready to send; `secret_headers` are never shown."""

    method: str
    url: str
    headers: dict[str, str]
    body: JSONObject
    provider: str
    dialect: str
    secret_headers: tuple[str, ...] = ()

    def body_bytes(self) -> bytes:
        if self.method == "GET":
            return b""
        return json.dumps(self.body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    def with_headers(self, extra: Mapping[str, str]) -> Request:
        return self._replace(headers={**self.headers, **extra})

    def with_body(self, body: JSONObject) -> Request:
        return self._replace(body=body)


class Provider(NamedTuple):
    """One row of the table: where a provider is, how its key is sent, what it speaks."""

    name: str
    dialect: str
    base_url: str
    key_env: str
    default_model: str | None
    path: Callable[[Prompt, str | None], str]
    auth: Callable[[str], dict[str, str]]
    build: Callable[[Prompt, str | None], JSONObject]
    extra_headers: Mapping[str, str] = MappingProxyType({})
    base_url_env: str | None = None


# -- the table --------------------------------------------------------------------


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _coze_path(prompt: Prompt, model: str | None) -> str:
    if prompt.conversation_id:
        return "/v3/chat?" + urlencode({"conversation_id": prompt.conversation_id})
    return "/v3/chat"


def _gemini_path(prompt: Prompt, model: str | None) -> str:
    return f"/models/{quote(model or '', safe='.-_')}:streamGenerateContent?alt=sse"


PROVIDERS: Final[dict[str, Provider]] = {
    p.name: p
    for p in (
        Provider(
            "openai",
            "openai-chat",
            "https://api.openai.com/v1",
            "OPENAI_API_KEY",
            "gpt-4o-mini",
            lambda p, m: "/chat/completions",
            _bearer,
            bodies.openai_chat,
            base_url_env="OPENAI_BASE_URL",
        ),
        Provider(
            "openai-responses",
            "openai-responses",
            "https://api.openai.com/v1",
            "OPENAI_API_KEY",
            "gpt-4o-mini",
            lambda p, m: "/responses",
            _bearer,
            bodies.openai_responses,
            base_url_env="OPENAI_BASE_URL",
        ),
        Provider(
            "anthropic",
            "anthropic",
            "https://api.anthropic.com",
            "ANTHROPIC_API_KEY",
            "claude-sonnet-4-5",
            lambda p, m: "/v1/messages",
            lambda key: {"x-api-key": key},
            bodies.anthropic,
            extra_headers={"anthropic-version": ANTHROPIC_VERSION},
            base_url_env="ANTHROPIC_BASE_URL",
        ),
        Provider(
            "coze",
            "coze",
            "https://api.coze.com",
            "COZE_API_TOKEN",
            None,
            _coze_path,
            _bearer,
            bodies.coze,
            base_url_env="COZE_API_BASE",
        ),
        Provider(
            "gemini",
            "gemini",
            "https://generativelanguage.googleapis.com/v1beta",
            "GEMINI_API_KEY",
            "gemini-2.5-flash",
            _gemini_path,
            lambda key: {"x-goog-api-key": key},
            bodies.gemini,
            base_url_env="GEMINI_BASE_URL",
        ),
    )
}

_NO_STRICT: Final = ("anthropic", "gemini")  # coze refuses --schema itself
SECRET_HEADERS: Final = ("authorization", "x-api-key", "x-goog-api-key", "api-key")


def is_loopback(url: str) -> bool:
    """True when the URL's host is this machine (localhost, 127.0.0.0/8, ::1)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def base_url_for(provider: Provider, given: str | None, environ: Mapping[str, str]) -> str:
    """--base-url, else the provider's variable (COZE_API_BASE...), else the default.

    UsageError (exit 2, at once) for a URL that cannot be requested: no
    http(s) scheme, no host, a bad port, spaces or control characters.
    """
    from_env = environ.get(provider.base_url_env, "") if provider.base_url_env else ""
    url = given or from_env
    where = "--base-url" if given else provider.base_url_env
    if not url:
        return provider.base_url
    if not _requestable(url.strip()):
        from ssechat.redact import redact_path  # a key in the query is not shown

        shown = redact_path(url.strip()[:200]).encode("unicode_escape").decode("ascii")
        raise UsageError(f"{where} {shown!r}: expected an http:// or https:// URL with a host")
    return url.strip().rstrip("/")


def _requestable(url: str) -> bool:
    """Whether `url` is an http(s) URL with a host and a valid port, without spaces."""
    if not url.isprintable() or any(char.isspace() for char in url):
        return False
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:  # a bad port, an unclosed [IPv6
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname) and port_ok


def parse_header(text: str) -> tuple[str, str]:
    """One -H 'Name: value' option."""
    name, sep, value = text.partition(":")
    if not sep or not name.strip() or any(c in name for c in " \t\r\n"):
        raise UsageError(f"-H {text!r}: expected 'Name: value'")
    if "\r" in value or "\n" in value:
        raise UsageError("-H: a header value cannot contain a line break")
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        raise UsageError(
            f"-H {name.strip()}: the value has characters a header cannot carry"
        ) from None
    return name.strip(), value.strip()


def build_request(
    provider_name: str,
    prompt: Prompt,
    key: str | None,
    *,
    base_url: str,
    headers: tuple[tuple[str, str], ...] = (),
) -> Request:
    """The request for this provider and prompt (UsageError for what it cannot do).

    `key` None sends no credentials (`send --no-auth`, a key-less local server).
    """
    provider = PROVIDERS[provider_name]
    body, model = _body(provider, prompt)
    if prompt.schema is not None and not prompt.schema_strict and provider.name in _NO_STRICT:
        raise refuse(provider.name, "--no-schema-strict", "its JSON schemas have no strict switch")
    if prompt.background:
        if provider.name != "openai-responses":
            raise refuse(provider.name, "--background", "it is the Responses API's mode")
        body["background"] = True
    if provider.name == "gemini" and not prompt.body and not model:
        raise UsageError("gemini needs --model")
    all_headers = _headers(provider, key, headers)
    secret = tuple(k for k in all_headers if k.lower() in SECRET_HEADERS)
    return Request(
        "POST",
        base_url + provider.path(prompt, model),
        all_headers,
        body,
        provider.name,
        provider.dialect,
        secret,
    )


def _body(provider: Provider, prompt: Prompt) -> tuple[JSONObject, str | None]:
    """The body, built or as given with `--body` (streaming forced on), and the model."""
    model = prompt.model or provider.default_model
    if prompt.body is None:
        return provider.build(prompt, model), model
    body = dict(prompt.body)
    if prompt.model:
        body["model"] = prompt.model
    if provider.name == "gemini":  # the model is in the URL, and so is streaming
        model = prompt.model or str(body.pop("model", "") or provider.default_model)
        return body, model
    return {**body, "stream": True}, model


def _headers(
    provider: Provider, key: str | None, extra: tuple[tuple[str, str], ...]
) -> dict[str, str]:
    """The request's headers: the defaults, the provider's and its key's, then -H."""
    headers = {
        "Content-Type": "application/json",
        "Accept": "text/event-stream",
        # Compression makes servers and proxies buffer a stream.
        "Accept-Encoding": "identity",
        "User-Agent": USER_AGENT,
        **provider.extra_headers,
        **(provider.auth(key) if key is not None else {}),
    }
    for name, value in extra:
        # -H replaces a default header of the same name, whatever its case.
        for existing in [k for k in headers if k.lower() == name.lower()]:
            del headers[existing]
        headers[name] = value
    return headers


def anthropic_prefill(request: Request, partial_text: str) -> Request | None:
    """The request that continues an Anthropic answer cut off after `partial_text`.

    The partial answer goes in as the last assistant turn (a prefill), so the
    model continues it; when the body already ends with an assistant turn of
    text (the user's own prefill, which the answer continues), the partial
    answer is added to it. The API refuses trailing whitespace there, so it
    is stripped: the caller drops it again from the continuation's first
    text. None when there is nothing to prefill or no turn to add it to.
    """
    messages = request.body.get("messages")
    if not partial_text.strip() or not isinstance(messages, list) or not messages:
        return None
    last = messages[-1]
    if not isinstance(last, dict):
        return None
    if last.get("role") == "user":
        turn: JSONObject = {"role": "assistant", "content": partial_text.rstrip()}
        return request.with_body({**request.body, "messages": [*messages, turn]})
    if last.get("role") != "assistant":
        return None
    content = last.get("content")
    if isinstance(content, str):
        content = (content + partial_text).rstrip()
    elif (
        isinstance(content, list)
        and content
        and isinstance(content[-1], dict)
        and content[-1].get("type") == "text"
        and isinstance(content[-1].get("text"), str)
    ):
        block = {**content[-1], "text": (content[-1]["text"] + partial_text).rstrip()}
        content = [*content[:-1], block]
    else:
        return None
    turn = {**last, "content": content}
    return request.with_body({**request.body, "messages": [*messages[:-1], turn]})


def is_background(request: Request) -> bool:
    """A Responses API request in background mode, whose stream can be read again by id."""
    return request.provider == "openai-responses" and request.body.get("background") is True


def responses_continuation(request: Request, response_id: str, after: int) -> Request:
    """GET {base}/responses/{id}?stream=true&starting_after=N: the rest of a background stream.

    Built from the original request's URL ({base}/responses, its query kept)
    and headers (the key, -H), without a body.
    """
    parts = urlsplit(request.url)
    path = parts.path.rstrip("/") + "/" + quote(response_id, safe="")
    query = [*parse_qsl(parts.query), ("stream", "true"), ("starting_after", str(after))]
    headers = {k: v for k, v in request.headers.items() if k.lower() != "content-type"}
    return Request(
        "GET",
        urlunsplit(parts._replace(path=path, query=urlencode(query))),
        headers,
        {},
        request.provider,
        request.dialect,
        request.secret_headers,
    )


def coze_cancel(request: Request, chat_id: str, conversation_id: str) -> Request:
    """POST {base}/v3/chat/cancel for a chat the user interrupted, with the chat's key.

    Without it a Coze bot with `auto_save_history` keeps running (and billing)
    after the client has gone.
    """
    parts = urlsplit(request.url)
    path = parts.path.rstrip("/") + "/cancel"
    return Request(
        "POST",
        urlunsplit(parts._replace(path=path, query="")),
        request.headers,
        {"chat_id": chat_id, "conversation_id": conversation_id},
        request.provider,
        request.dialect,
        request.secret_headers,
    )
