"""Replay: a capture played back to a stream with its timing, or served over HTTP with faults.

Two consumers of `capture.Capture`:

- `replay_to_stream` writes each capture's segments (one event each) to a
  binary stream at their recorded times, or `Timing.delay` apart, scaled by
  `Timing.speed`, flushing after each one. ssechat's annotations are not
  written: the output is the stream as the server sent it, so capturing it
  again gives back the original capture.
- `ssechat.replay_server.ReplayServer` serves captures over HTTP; what it
  shares with the stream is here: the timing, where a `Last-Event-ID`
  resumes a capture (`resume_point`), the faults (`Fault`, `parse_faults`),
  the injected error bodies and the `--log-requests` record.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from http import HTTPStatus
from typing import IO, TYPE_CHECKING, Any, Final

from ssechat.capture import Capture
from ssechat.errors import UsageError
from ssechat.normalized import json_line
from ssechat.redact import redact_header, redact_path
from ssechat.sse import Decoder

if TYPE_CHECKING:
    pass

# -- timing --------------------------------------------------------------------

MAX_WAIT: Final = 1e7  # seconds; a longer wait overflows the clocks (and is a typo)


@dataclass(frozen=True)
class Timing:
    """When segments are written, in seconds after the start of a response.

    `delay=None` uses the recorded times of an annotated capture (0 between
    events of a plain one); a number puts that many seconds between events,
    whatever was recorded. `speed` divides every wait; `no_delay` removes them.
    """

    speed: float = 1.0
    delay: float | None = None
    no_delay: bool = False

    def checked(self, capture: Capture, name: str) -> Capture:
        """`capture`, or UsageError when a recorded time or the delay puts a write too late."""
        last = self.schedule(capture)[-1] if capture.segments else 0.0
        if last > MAX_WAIT:
            raise UsageError(
                f"{name}: replaying it would wait {last:g} s (a `: t=` annotation or "
                f"--delay too large; at most {MAX_WAIT:g} s)"
            )
        return capture

    def schedule(self, capture: Capture) -> list[float]:
        """The write time of each segment of `capture`, non-decreasing."""
        offsets: list[float] = []
        at = 0.0
        seen_event = False
        recorded = self.delay is None and capture.timed
        for segment in capture.segments:
            if self.no_delay:
                pass
            elif recorded:
                if segment.time is not None:
                    at = max(at, segment.time / self.speed)
            elif segment.is_event and seen_event:
                at += (self.delay or 0.0) / self.speed
            seen_event = seen_event or segment.is_event
            offsets.append(at)
        return offsets


def replay_to_stream(
    captures: Iterable[Capture],
    out: IO[bytes],
    timing: Timing,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Write each capture in turn to `out`, timed, flushing after every segment."""
    for capture in captures:
        start = clock()
        for segment, at in zip(capture.segments, timing.schedule(capture), strict=True):
            wait = start + at - clock()
            if wait > 0:
                sleep(wait)
            out.write(segment.data)
            out.flush()


def ids_after(capture: Capture) -> list[str]:
    """The last event id after each segment (what a client would send to resume)."""
    decoder = Decoder()
    ids = []
    for segment in capture.segments:
        decoder.feed(segment.data)
        ids.append(decoder.last_event_id)
    return ids


def resume_point(capture: Capture, ids: Sequence[str], last_event_id: str) -> int:
    """The index of the segment to start from for a request with `Last-Event-ID`.

    0 (the whole capture) when the header is empty or no event carries that id;
    otherwise the segment after the last event that set it.
    """
    if not last_event_id:
        return 0
    for index in range(len(ids) - 1, -1, -1):
        if capture.segments[index].is_event and ids[index] == last_event_id:
            before = ids[index - 1] if index else ""
            if before != last_event_id:  # this event set the id (not merely kept it)
                return index + 1
    return 0


# -- faults --------------------------------------------------------------------

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


def parse_faults(specs: Sequence[str]) -> Fault:
    """Merge `--fault` values (comma-separated KEY=VALUE pairs) into one Fault.

    Raises UsageError for an unknown key, a repeated key, a bad value, or a
    parameter without its fault (`retry-after` without `status`...).
    """
    values: dict[str, str] = {}
    for spec in specs:
        for part in spec.split(","):
            part = part.strip()
            if not part:
                continue
            key, sep, value = part.partition("=")
            key = key.strip().lower()
            if not sep or not value.strip():
                raise UsageError(f"--fault {part!r}: expected KEY=VALUE ({FAULT_SYNTAX})")
            if key in values:
                raise UsageError(f"--fault: {key} given twice")
            values[key] = value.strip()
    known = {"status", "retry-after", "drop-after", "how", "stall-after", "for", "garbage-after"}
    known.add("slow")
    for key in values:
        if key not in known:
            raise UsageError(f"--fault: unknown key {key!r} (expected {FAULT_SYNTAX})")
    for param, owner in (("retry-after", "status"), ("how", "drop-after"), ("for", "stall-after")):
        if param in values and owner not in values:
            raise UsageError(f"--fault: {param} needs {owner}")
    status = None
    if "status" in values:
        status = _count("status", values["status"])
        if not 300 <= status <= 599:
            raise UsageError(f"--fault status={status}: expected a status from 300 to 599")
    how = values.get("how", "reset").lower()
    if how not in ("reset", "eof"):
        raise UsageError(f"--fault how={how}: expected reset or eof")
    slow = None
    if "slow" in values:
        slow = _seconds("slow", values["slow"])
        if slow < 1:
            raise UsageError("--fault slow: expected at least 1 byte per second")
    return Fault(
        status=status,
        retry_after=_number(_seconds("retry-after", values["retry-after"]))
        if "retry-after" in values
        else None,
        drop_after=_count("drop-after", values["drop-after"]) if "drop-after" in values else None,
        drop_how=how,
        stall_after=_count("stall-after", values["stall-after"])
        if "stall-after" in values
        else None,
        stall_for=_seconds("for", values["for"]) if "for" in values else None,
        garbage_after=_count("garbage-after", values["garbage-after"])
        if "garbage-after" in values
        else None,
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


# -- request logs ----------------------------------------------------------------


def request_record(
    number: int, method: str, path: str, headers: Iterable[tuple[str, str]], body: bytes
) -> dict[str, Any]:
    """The `--log-requests` line of one request (header names lower-cased)."""
    merged: dict[str, str] = {}
    for name, value in headers:
        key = name.lower()
        safe = redact_header(name, value)
        merged[key] = f"{merged[key]}, {safe}" if key in merged else safe
    record: dict[str, Any] = {
        "request": number,
        "method": method,
        "path": redact_path(path),
        "headers": merged,
    }
    if body:
        from ssechat import jsonload

        try:
            record["body"] = jsonload.loads(body)
        except ValueError:  # not JSON, or too deep
            record["body"] = body.decode("utf-8", "replace")
    else:
        record["body"] = None
    return record
