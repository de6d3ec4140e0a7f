"""The fault language of `replay --serve --fault`, and the error bodies it injects.

`parse_faults` merges `--fault` values (`status=CODE[,retry-after=S]`,
`drop-after=N[,how=reset|eof]`, `stall-after=N[,for=S]`, `garbage-after=N`,
`slow=BYTES_PER_S`) into one `Fault`; `error_body` is the provider-shaped
JSON body of an injected status; `GARBAGE` is what `garbage-after` writes.
See docs/replay.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from http import HTTPStatus
from typing import Final, TypeVar

from ssechat.errors import UsageError
from ssechat.lines import json_line

T = TypeVar("T")

FAULT_SYNTAX: Final = (
    "status=CODE[,retry-after=S] | drop-after=N[,how=reset|eof] | "
    "stall-after=N[,for=S] | garbage-after=N | slow=BYTES_PER_S"
)

GARBAGE: Final = (
    b"\x00\x9f\xff\xfe<html><body><h1>502 Bad Gateway</h1></body></html>\xc3\x28\r\n"
    b'data: {"choices": [{"delta": {"content": "cut\x00\xff\n\n'
)
"""What `garbage-after` writes: binary, invalid UTF-8, HTML, and a data line that is not JSON."""


@dataclass(frozen=True)
class Fault:
    """What to do to a faulted request; the fields combine (status wins over the rest)."""

    status: int | None = None
    retry_after: str | None = None
    drop_after: int | None = None
    drop_how: str = "reset"
    stall_after: int | None = None
    stall_for: float | None = None  # None: until the client goes away
    garbage_after: int | None = None
    slow: float | None = None  # bytes per second

    @property
    def active(self) -> bool:
        return any(
            getattr(self, f.name) is not None
            for f in fields(self)
            if f.name not in ("drop_how", "retry_after", "stall_for")
        )

    def describe(self) -> str:
        parts: list[str] = []
        if self.status is not None:
            parts.append(f"status={self.status}")
            if self.retry_after is not None:
                parts.append(f"retry-after={self.retry_after}")
        if self.drop_after is not None:
            parts.append(f"drop-after={self.drop_after},how={self.drop_how}")
        if self.stall_after is not None:
            parts.append(f"stall-after={self.stall_after}")
            parts.append(f"for={_number(self.stall_for)}" if self.stall_for is not None else "")
        if self.garbage_after is not None:
            parts.append(f"garbage-after={self.garbage_after}")
        if self.slow is not None:
            parts.append(f"slow={_number(self.slow)}")
        return ",".join(p for p in parts if p)


def _number(value: float) -> str:
    return f"{value:g}"


def _count(key: str, value: str) -> int:
    if not re.fullmatch(r"\d+", value):
        raise UsageError(f"--fault {key}={value}: expected a whole number of events")
    return int(value)


def _seconds(key: str, value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0 or seconds == float("inf"):
        raise UsageError(f"--fault {key}={value}: expected a number of seconds")
    return seconds


_KNOWN_KEYS: Final = frozenset(
    {"status", "retry-after", "drop-after", "how", "stall-after", "for", "garbage-after", "slow"}
)
_OWNERS: Final = (("retry-after", "status"), ("how", "drop-after"), ("for", "stall-after"))


def _pairs(specs: Sequence[str]) -> dict[str, str]:
    """The KEY=VALUE pairs of every spec, keys lower-cased; each key at most once."""
    values: dict[str, str] = {}
    for part in (p.strip() for spec in specs for p in spec.split(",")):
        if not part:
            continue
        key, sep, value = part.partition("=")
        key = key.strip().lower()
        if not sep or not value.strip():
            raise UsageError(f"--fault {part!r}: expected KEY=VALUE ({FAULT_SYNTAX})")
        if key in values:
            raise UsageError(f"--fault: {key} given twice")
        values[key] = value.strip()
    return values


def _check_keys(values: dict[str, str]) -> None:
    """UsageError for an unknown key, or a parameter given without its fault."""
    for key in values:
        if key not in _KNOWN_KEYS:
            raise UsageError(f"--fault: unknown key {key!r} (expected {FAULT_SYNTAX})")
    for param, owner in _OWNERS:
        if param in values and owner not in values:
            raise UsageError(f"--fault: {param} needs {owner}")


def _status(key: str, value: str) -> int:
    status = _count(key, value)
    if not 300 <= status <= 599:
        raise UsageError(f"--fault status={status}: expected a status from 300 to 599")
    return status


def _how(value: str) -> str:
    how = value.lower()
    if how not in ("reset", "eof"):
        raise UsageError(f"--fault how={how}: expected reset or eof")
    return how


def _slow(key: str, value: str) -> float:
    slow = _seconds(key, value)
    if slow < 1:
        raise UsageError("--fault slow: expected at least 1 byte per second")
    return slow


def _retry_after(key: str, value: str) -> str:
    return _number(_seconds(key, value))


def _parsed(values: dict[str, str], key: str, parse: Callable[[str, str], T]) -> T | None:
    return parse(key, values[key]) if key in values else None


def parse_faults(specs: Sequence[str]) -> Fault:
    """Merge `--fault` values (comma-separated KEY=VALUE pairs) into one Fault.

    Raises UsageError for an unknown key, a repeated key, a bad value, or a
    parameter without its fault (`retry-after` without `status`...).
    """
    values = _pairs(specs)
    _check_keys(values)
    status = _parsed(values, "status", _status)
    how = _how(values.get("how", "reset"))
    slow = _parsed(values, "slow", _slow)
    return Fault(
        status=status,
        retry_after=_parsed(values, "retry-after", _retry_after),
        drop_after=_parsed(values, "drop-after", _count),
        drop_how=how,
        stall_after=_parsed(values, "stall-after", _count),
        stall_for=_parsed(values, "for", _seconds),
        garbage_after=_parsed(values, "garbage-after", _count),
        slow=slow,
    )


_ERROR_KINDS: Final = {
    400: ("invalid_request_error", "invalid_request"),
    401: ("authentication_error", "invalid_api_key"),
    403: ("permission_error", "permission_denied"),
    404: ("not_found_error", "not_found"),
    408: ("timeout_error", "request_timeout"),
    409: ("conflict_error", "conflict"),
    413: ("request_too_large", "request_too_large"),
    422: ("invalid_request_error", "unprocessable_entity"),
    429: ("rate_limit_error", "rate_limit_exceeded"),
    500: ("api_error", "internal_server_error"),
    502: ("api_error", "bad_gateway"),
    503: ("overloaded_error", "service_unavailable"),
    504: ("timeout_error", "gateway_timeout"),
    529: ("overloaded_error", "overloaded"),
}


def reason_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Overloaded" if status == 529 else "Error"


def error_body(status: int) -> bytes:
    """A provider-shaped JSON error body: OpenAI's `error{message,type,code}`,
    plus Anthropic's top-level `"type": "error"`, so either SDK reads it."""
    kind, code = _ERROR_KINDS.get(
        status, ("api_error" if status >= 500 else "invalid_request_error", f"http_{status}")
    )
    message = f"ssechat replay: injected fault: {status} {reason_phrase(status)}"
    return json_line(
        {"type": "error", "error": {"message": message, "type": kind, "code": code, "param": None}}
    )
