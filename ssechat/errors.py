"""The exit statuses of ssechat and the error classes that carry them.

This module is the one source of the exit-status table: the CLI maps every
error to its status here, and the README and man pages render the table from
`ExitStatus`. It imports nothing from the rest of ssechat.
"""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    """What ssechat's exit status means (docs/design.md, "Exit statuses")."""

    OK = 0
    """Success: the stream or document was complete."""
    INTERNAL_ERROR = 1
    """An unexpected internal error (a bug), or output could not be written."""
    USAGE = 2
    """A usage error: a bad option or argument, or a missing API key."""
    BAD_INPUT = 3
    """Bad or incomplete input: a truncated stream, an error event in the
    stream, a body that is not a stream, an event over the size bound, a
    tool call cut off or unrepairable, JSON that cannot be repaired, a JSON
    document that was cut off (repair-json, unless --allow-truncated)."""
    HTTP_ERROR = 4
    """An HTTP error status (not retryable, or retries exhausted)."""
    TIMEOUT = 5
    """A timeout (connect, first event, idle or total) after retries."""
    NETWORK = 6
    """A network error (DNS, connection refused or reset) after retries."""
    INTERRUPTED = 130
    """Interrupted by Ctrl-C (SIGINT) or SIGTERM."""


class SsechatError(Exception):
    """The root of every error ssechat reports; carries its exit status."""

    exit_status: ExitStatus = ExitStatus.INTERNAL_ERROR


class UsageError(SsechatError):
    """The command line asks for something that cannot be done."""

    exit_status = ExitStatus.USAGE


class InputError(SsechatError):
    """The input is bad or incomplete."""

    exit_status = ExitStatus.BAD_INPUT


class EventTooLargeError(InputError):
    """One SSE event grew past the configured bound."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"an event is larger than {limit} bytes (raise the bound with --max-event-bytes)"
        )
        self.limit = limit


class HTTPStatusError(SsechatError):
    """The server answered with an HTTP error status."""

    exit_status = ExitStatus.HTTP_ERROR


class StreamTimeoutError(SsechatError):
    """A connect, first-event, idle or total timeout expired."""

    exit_status = ExitStatus.TIMEOUT


class NetworkError(SsechatError):
    """The connection failed: DNS, refused, reset."""

    exit_status = ExitStatus.NETWORK


class Interrupted(SsechatError):
    """The user or the system asked ssechat to stop (SIGINT, SIGTERM)."""

    exit_status = ExitStatus.INTERRUPTED
