"""The fallback: json_repair for every damage the earlier stages do not fix, bounded in time.

json_repair (imported on first use: only repairs should pay its start-up)
fixes quotes, comments, commas, Python literals and unquoted keys. Its time
grows faster than linearly and some inputs run for minutes, so `run_bounded`
stops it after a number of seconds. `hints` guesses, from the input, what it
fixed, for `Repair.changes`.
"""

from __future__ import annotations

import re
import signal
from collections.abc import Callable
from types import FrameType
from typing import Any, Final, TypeVar

from ssechat.repair.extract import WORD_VALUES
from ssechat.repair.result import (
    COMMAS,
    COMMENTS,
    KEYS,
    LITERALS,
    QUOTES,
    SYNTAX,
    RepairError,
    RepairTimeout,
    preview,
)

T = TypeVar("T")

# A complete double-quoted JSON string (unrolled: linear, no backtracking).
_STRING: Final = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET: Final = re.compile(r"[^\[\]{}]+")
# Hints for what json_repair fixed, looked for outside double-quoted strings.
_HINTS: Final = (
    (re.compile(r"['`\u2018\u2019\u201c\u201d]"), QUOTES),
    (re.compile(r"//|/\*|#"), COMMENTS),
    (re.compile(r"\b(?:True|False|None|undefined|NaN|Infinity)\b"), LITERALS),
    (re.compile(r"[{,]\s*[A-Za-z_$][\w$-]*\s*:|[\[,:]\s*[A-Za-z_]\w*\s*[,}\]]"), KEYS),
    (re.compile(r",\s*[}\]]|,\s*,|[}\]\u00a7]\s*[\[{\u00a7]|\d\s+[\[{\u00a7\d]"), COMMAS),
)


def json_repair(text: str) -> Any:
    """json_repair's repair of `text`; its own failures become RepairError."""
    import json_repair

    try:
        return json_repair.loads(text)
    except (AssertionError, LookupError, TypeError, ValueError, RecursionError) as exc:
        # json_repair's own bugs on hostile input (found by fuzzing: an
        # AssertionError in its parser) mean "cannot repair", not a crash.
        raise RepairError(f"cannot repair: {preview(text)} ({type(exc).__name__})") from None


def repair_scalar(text: str) -> Any:
    """A damaged scalar with no bracket around it ('abc, True, 1,2,3).

    json_repair only repairs values inside a container (a bare scalar comes
    back as ""), so the text is repaired as the only item of an array; a
    comma-separated list of values stays a list.
    """
    word = text.strip()
    if word in WORD_VALUES:
        return WORD_VALUES[word]
    items = json_repair(f"[{text}]")
    if isinstance(items, list) and len(items) == 1:
        return items[0]
    if isinstance(items, list) and items and "," in _STRING.sub("", text):
        return items
    raise RepairError(f"cannot repair: {preview(text)}")


def looks_truncated(text: str) -> bool:
    """Damaged input that also ends inside a string or with brackets open."""
    outside = _STRING.sub("", text)
    if '"' in outside:
        return True
    seq = _NOT_BRACKET.sub("", outside)
    return seq.count("[") + seq.count("{") > seq.count("]") + seq.count("}")


def hints(text: str) -> list[str]:
    """What json_repair probably fixed, from the input (a best guess)."""
    outside = _STRING.sub("\u00a7", text)  # each string becomes one placeholder
    found = [name for pattern, name in _HINTS if pattern.search(outside)]
    return found or [SYNTAX]


class _Expired(BaseException):
    """Raised by the alarm inside json_repair; a BaseException, so that no
    `except Exception` in the library can swallow it."""


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise _Expired()


def run_bounded(func: Callable[[str], T], text: str, seconds: float | None) -> T:
    """Run func(text), stopping it after `seconds` (RepairTimeout).

    An interval timer (SIGALRM) raises inside the running code, within a
    bytecode or two of the deadline (docs/repair.md, "The time bound"). Only
    the main thread receives signals: elsewhere, or with no SIGALRM on the
    platform, or with no bound, the call runs unbounded.
    """
    if seconds is None or not (seconds > 0) or not hasattr(signal, "setitimer"):
        return func(text)
    try:
        previous = signal.signal(signal.SIGALRM, _alarm)
    except ValueError:  # not the main thread: no signal would reach this call
        return func(text)
    try:
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            return func(text)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except _Expired:
        raise RepairTimeout(
            f"json_repair did not finish within {seconds:g} s on {len(text)} characters "
            "(raise the bound with --timeout)"
        ) from None
    finally:
        signal.signal(signal.SIGALRM, previous)
