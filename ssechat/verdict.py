"""The verdict on normalized input: the one place that turns `Outcome`s into exit 3.

`parse-sse` and the library's `ssechat.parse` both end here, so that the
same bytes get the same answer from the command and from Python: a stream
that reported an error, was cut off before its end marker, or holds a tool
call whose arguments are cut off or unrepairable raises `InputError`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ssechat.errors import InputError

if TYPE_CHECKING:
    from ssechat.pipeline import Outcome


class TruncatedStreamError(InputError):
    """The input ended before the dialect's end marker (exit 3)."""


def check(outcomes: Iterable[Outcome], *, allow_truncated: bool = False) -> None:
    """Raise InputError (exit 3) with the first problem in one line; else return."""
    outcomes = list(outcomes)
    for outcome in outcomes:
        if outcome.errors:
            raise InputError(f"the stream reported an error: {outcome.first_error}")
    for outcome in outcomes:
        if outcome.truncated and not allow_truncated:
            raise TruncatedStreamError(
                "the stream ended without its end marker (truncated); "
                "--allow-truncated accepts logs known to be cut"
            )
    for outcome in outcomes:
        if outcome.bad_calls:
            raise InputError(
                f"{outcome.bad_calls} tool call(s) with arguments that are cut off or "
                "cannot be repaired (see their `error`)"
            )
