"""JSON repair: the one place that turns broken model JSON into valid JSON.

`repair_bytes`/`repair_text` (what `ssechat repair-json` runs) try the
stages in order, cheapest first; `parse_tool_arguments` is what the dialects
call to finish a tool call's arguments. No I/O, no click. The stages, each
in its module (docs/repair.md tells them in full):

1. meaningless input (empty, binary, no JSON in it) is refused: RepairError;
2. valid JSON is parsed as given (`strict`);
3. a document cut off by max_tokens is closed (`complete`);
4. the JSON is taken out of a fence, a JSONP wrapper or prose (`extract`);
5. json_repair fixes the rest, bounded in time (`fallback`).

Every result says what was done (`Repair.changes`) and whether the input
looked cut off (`Repair.truncated`).
"""

from __future__ import annotations

import re
from typing import Any, Final

from ssechat.jsonload import stdlib_loads
from ssechat.repair.complete import close_truncated
from ssechat.repair.result import TRUNCATED, Repair, RepairError, RepairTimeout, checked, preview
from ssechat.repair.strict import INVALID, loads_strict

__all__ = [  # the entry points, and the types of what they return and raise
    "TOOL_ARGUMENTS_REPAIR_SECONDS",
    "Repair",
    "RepairError",
    "RepairTimeout",
    "parse_tool_arguments",
    "repair_bytes",
    "repair_text",
]

_LEADING_SPACE: Final = re.compile(r"\s*")
# Control characters that make input binary (tab, LF, CR, BS and FF are text).
_BINARY: Final = re.compile(r"[\x00-\x07\x0b\x0e-\x1f]")

TOOL_ARGUMENTS_REPAIR_SECONDS: Final = 5.0
"""The bound on json_repair for one tool call's arguments inside a stream."""


def repair_bytes(data: bytes, *, timeout: float | None = None) -> Repair:
    """Repair one document given as bytes (the fast path never decodes it)."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    value = loads_strict(data)
    if value is not INVALID:
        return Repair(value, valid=True)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RepairError(f"input is binary, not UTF-8 text (byte {exc.start})") from None
    return _repair_invalid(text, timeout)


def repair_text(text: str, *, timeout: float | None = None) -> Repair:
    """Repair one document: the stages of the module docstring, in order."""
    text = text.removeprefix("\ufeff")
    value = loads_strict(text)
    if value is not INVALID:
        return Repair(value, valid=True)
    return _repair_invalid(text, timeout)


def _repair_invalid(text: str, timeout: float | None) -> Repair:
    first = _LEADING_SPACE.match(text).end()  # type: ignore[union-attr]
    if first == len(text):
        raise RepairError("input is empty: no JSON to repair")
    if text[first] in "{[":  # cut off by max_tokens, the common case: try it first
        closed = close_truncated(text)
        if closed is not None:
            return Repair(closed[0], valid=False, truncated=True, changes=(TRUNCATED,))
    binary = _BINARY.search(text)
    if binary:
        raise RepairError(
            f"input is binary: control character {binary.group()!r} at offset {binary.start()}"
        )
    from ssechat.repair import extract

    changes: list[str] = []
    text = extract.extract(text, changes)
    value = loads_strict(text)
    if value is not INVALID:
        return checked(Repair(value, valid=False, changes=tuple(changes)), text)
    closed = close_truncated(text)
    if closed is not None:
        return checked(
            Repair(closed[0], valid=False, truncated=True, changes=(*changes, TRUNCATED)), text
        )
    if not extract.has_json(text):
        raise RepairError(f"input holds no JSON: {preview(text)}")
    return _fall_back(text, changes, timeout)


def _fall_back(text: str, changes: list[str], timeout: float | None) -> Repair:
    """The last stage: json_repair, bounded by `timeout` seconds."""
    from ssechat.repair import extract, fallback

    if extract.OPENER.search(text):
        value = fallback.run_bounded(fallback.json_repair, text, timeout)
    else:
        value = fallback.run_bounded(fallback.repair_scalar, text, timeout)
    truncated = fallback.looks_truncated(text)
    changes.extend(fallback.hints(text))
    if truncated:
        changes.append(TRUNCATED)
    return checked(Repair(value, valid=False, truncated=truncated, changes=tuple(changes)), text)


def parse_tool_arguments(raw: str) -> tuple[Any, bool]:
    """Parse a complete tool call's argument string: (value, repaired).

    An empty string is `{}` (a call with no arguments). Valid JSON is parsed
    as given; anything else is repaired (the completer for a cut-off
    document, else json_repair), and a result that is not an object or array
    (prose, a bare string) is refused with RepairError, as is an empty object
    or array made out of something else.
    """
    if not raw.strip():
        return {}, False
    try:
        return stdlib_loads(raw), False
    except ValueError:  # too deep included
        pass
    closed = close_truncated(raw)
    if closed is not None:
        value = closed[0]
    else:
        from ssechat.repair import fallback

        try:
            value = fallback.run_bounded(fallback.json_repair, raw, TOOL_ARGUMENTS_REPAIR_SECONDS)
        except RepairTimeout:
            # A hostile or pathological argument string must not stall a stream.
            raise RepairError(
                f"cannot repair tool-call arguments within {TOOL_ARGUMENTS_REPAIR_SECONDS:g} s"
            ) from None
    if not isinstance(value, (dict, list)) or (
        value in ({}, []) and raw.strip() not in ("{}", "[]")
    ):
        raise RepairError(f"cannot repair tool-call arguments: {raw[:60]!r}")
    return value, True
