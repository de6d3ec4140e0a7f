"""What one HTTP attempt's failure is, and what the server's answer says about retrying.

`Failure` is the one base of an attempt's failures: its `reason` (for the
`retry` line), whether a retry may heal it and the wait the server asked for
are set when it is made and never change. Its four kinds (`HTTPFailure`,
`TimeoutFailure`, `NetworkFailure`, `StreamFailure`) also derive from the
`ssechat.errors` class of their exit status. `send_failure` says which one an
exception of requests is; the rest reads the answer: the provider's message
(`error_message`), whether a status is worth a retry (`status_retryable`)
and the wait asked for (`server_delay`). docs/transport.md says more.
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Mapping
from typing import Final

from ssechat import jsonload
from ssechat.errors import (
    HTTPStatusError,
    InputError,
    NetworkError,
    SsechatError,
    StreamTimeoutError,
)

RETRY_STATUSES: Final = frozenset({408, 409, 429, 500, 502, 503, 504, 529})


# -- failures of one attempt ----------------------------------------------------


class Failure(SsechatError):
    """One attempt's failure, with what the retry loop decides on (read-only)."""

    def __init__(
        self, message: str, *, reason: str, retryable: bool, server_delay: float | None = None
    ) -> None:
        super().__init__(message)
        self._reason = reason
        self._retryable = retryable
        self._server_delay = server_delay

    @property
    def reason(self) -> str:
        """Why, in a few words, for the `retry` line and the notice."""
        return self._reason

    @property
    def retryable(self) -> bool:
        """Whether another attempt may heal it."""
        return self._retryable

    @property
    def server_delay(self) -> float | None:
        """The wait the server asked for (seconds), None when it asked for none."""
        return self._server_delay


class HTTPFailure(Failure, HTTPStatusError):
    """An HTTP error status (or an error body instead of a stream)."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        retryable: bool,
        server_delay: float | None = None,
        body: bytes = b"",
    ) -> None:
        super().__init__(
            f"HTTP {status}: {message}" if message else f"HTTP {status}",
            reason=f"http {status}",
            retryable=retryable,
            server_delay=server_delay,
        )
        self.status = status
        self.body = body


class TimeoutFailure(Failure, StreamTimeoutError):
    """kind: connect, first-event, idle or total (the last is never retried)."""

    def __init__(self, kind: str, seconds: float | None, detail: str = "") -> None:
        after = f" after {seconds:g} s" if seconds is not None else ""
        super().__init__(
            f"{kind} timeout{after}{detail}", reason=f"{kind} timeout", retryable=kind != "total"
        )
        self.kind = kind


class NetworkFailure(Failure, NetworkError):
    """DNS, refused, reset, or the connection dropped inside the body."""

    def __init__(self, message: str, *, reason: str, retryable: bool = True) -> None:
        super().__init__(message, reason=reason, retryable=retryable)


class StreamFailure(Failure, InputError):
    """The stream ended without its end marker, or carried an error event."""

    def __init__(self, message: str, *, reason: str, retryable: bool) -> None:
        super().__init__(message, reason=reason, retryable=retryable)


# -- what the server asks for -----------------------------------------------------


def server_delay(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """The wait the server asks for: retry-after-ms, else Retry-After (seconds or a date).

    A value that is not a finite number (nan, inf, 1e999) is ignored, as if absent.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    ms = _finite(lower.get("retry-after-ms"))
    if ms is not None and ms >= 0:
        return ms / 1000.0
    after = lower.get("retry-after")
    if after is None:
        return None
    seconds = _finite(after)
    if seconds is not None:
        return max(seconds, 0.0)
    try:
        when = email.utils.parsedate_to_datetime(after.strip())
    except (TypeError, ValueError, OverflowError):
        return None
    if when is None:
        return None
    return max(when.timestamp() - (time.time() if now is None else now), 0.0)


def _finite(text: str | None) -> float | None:
    try:
        value = float(text) if text is not None else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


def status_retryable(status: int, headers: Mapping[str, str]) -> bool:
    """Whether an error status is worth another try (x-should-retry decides first)."""
    lower = {k.lower(): v for k, v in headers.items()}
    should = lower.get("x-should-retry", "").strip().lower()
    if should == "true":
        return True
    if should == "false":
        return False
    return status in RETRY_STATUSES


# In-stream error codes that mean "try again" (Anthropic, OpenAI, Coze wording).
RETRYABLE_STREAM_ERRORS: Final = frozenset(
    {
        "overloaded_error",
        "overloaded",
        "server_overloaded",
        "server_is_overloaded",
        "rate_limit_error",
        "rate_limit_exceeded",
        "api_error",
        "server_error",
        "internal_server_error",
        "service_unavailable",
        # Not the provider's: an event whose data is not JSON, as when a proxy
        # cuts the stream and sends its own error page. A new attempt heals it.
        "invalid_json",
    }
)


def stream_error_retryable(code: str, message: str) -> bool:
    """Whether an error event inside a stream is worth another try (an overload and the like)."""
    return code in RETRYABLE_STREAM_ERRORS or "overloaded" in message.lower()


def error_message(body: bytes, content_type: str = "") -> str:
    """The provider's own message from an error body (OpenAI, Anthropic, Coze, Gemini)."""
    text = body.decode("utf-8", "replace").strip()
    try:
        doc = jsonload.loads(text)
    except ValueError:  # too deep included
        return " ".join(text.split())[:500]
    if isinstance(doc, list) and doc:
        doc = doc[0]  # Gemini sometimes wraps the error in a list
    if isinstance(doc, dict):
        err = doc.get("error", doc)
        if isinstance(err, dict):
            msg = err.get("message") or err.get("msg")
            code = err.get("type") or err.get("code") or err.get("status")
            if msg:
                return f"{msg} ({code})" if code else str(msg)
        elif isinstance(err, str):
            return err
    return " ".join(text.split())[:500]


def short_reason(exc: BaseException) -> str:
    """The innermost reason, without urllib3's object reprs."""
    while exc.__context__ is not None and str(exc) == "":
        exc = exc.__context__
    args = getattr(exc, "args", ())
    for arg in args:
        if isinstance(arg, BaseException):
            return short_reason(arg)
    reason = getattr(exc, "reason", None)
    if isinstance(reason, BaseException):
        return short_reason(reason)
    text = str(exc)
    if "Connection refused" in text or isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if "Name or service not known" in text or "nodename nor servname" in text:
        return "name not known"
    return text.split(": ", 1)[-1][:200] if text else type(exc).__name__


def send_failure(
    exc: Exception,
    url: str,
    connect: float,
    wait_headers: float,
    kind: str,
    waited: float,
    total: float | None,
) -> Exception:
    """What a failure before the response's head means (the proxy named when one is in the way)."""
    import requests

    proxy = _proxy_for(url)
    via = f" (through the proxy {proxy})" if proxy else ""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        if kind == "total" and connect >= wait_headers:
            return TimeoutFailure("total", total)
        return TimeoutFailure("connect", connect, via)
    if isinstance(exc, requests.exceptions.ReadTimeout):
        if proxy and url.startswith("https:") and waited < wait_headers:
            # The CONNECT is read with the connect timeout: the proxy never answered it.
            return TimeoutFailure(
                "connect", connect, f" (the proxy {proxy} did not answer CONNECT)"
            )
        return TimeoutFailure(kind, total if kind == "total" else wait_headers)
    if isinstance(exc, requests.exceptions.SSLError):
        # A bad certificate does not heal in a second.
        return NetworkFailure(f"TLS error{via}: {short_reason(exc)}", reason="tls", retryable=False)
    if isinstance(exc, requests.exceptions.ProxyError):
        return NetworkFailure(
            f"cannot connect to the proxy {proxy}: {short_reason(exc)}", reason="proxy"
        )
    if isinstance(
        exc, (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError)
    ):
        return NetworkFailure(f"cannot connect{via}: {short_reason(exc)}", reason="connect")
    if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema)):
        return NetworkFailure(f"invalid URL: {exc}", reason="url", retryable=False)
    return exc


def _proxy_for(url: str) -> str | None:
    """The proxy the environment puts in the way to `url`, shown without its credentials."""
    from urllib.parse import urlsplit

    from requests.utils import get_environ_proxies, select_proxy

    proxy = select_proxy(url, get_environ_proxies(url))
    if not proxy:
        return None
    parts = urlsplit(proxy if "://" in proxy else "http://" + proxy)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}"
