"""JSON repair: the one place that turns broken model JSON into valid JSON.

`repair_bytes`/`repair_text` are what `ssechat repair-json` runs, in stages,
cheapest first; `parse_tool_arguments` is what the dialects call to finish a
tool call's arguments. This module owns no I/O and imports no click.

The stages:

1. Meaningless input is refused (RepairError, exit 3), never turned into a
   silent `""` or `{}`: input that is empty or only whitespace; binary input
   (not UTF-8, or holding control characters other than tab, newline,
   carriage return, backspace and form feed); input with no JSON in it, that
   is with no `{` or `[` anywhere and not one JSON-like scalar on its own (a
   quoted string, a number-like word, true/false/null or a prefix of one,
   Python's True/False/None); and a repair that comes out as an empty string.
2. Fast path: valid JSON is parsed as given (orjson, then the standard
   library for integers past 64 bits) and costs no repair.
3. Extraction: the first ```-fenced block (closed or cut off) when the text
   starts with a fence or has one before any bracket; a JSONP wrapper
   `name(...)`; and for JSON inside prose, the LARGEST top-level object or
   array (ties: the first), so that a citation such as "[1]" in the prose
   does not win over the answer. Leading JSON followed by other text keeps
   the leading value when it is valid.
4. Completion (`close_truncated`): the commonest damage is a valid document
   cut off by max_tokens. One linear pass finds the open brackets and the
   open string (C-speed regular expressions, no per-character Python), cuts
   back to the last complete value (dropping a dangling key, comma or partial
   escape; keeping a partial string or number; completing a partial
   true/false/null) and closes what is open; the standard parser then
   checks the result. 5 MB takes well under a second.
5. Fallback: json_repair (imported lazily: it costs start-up time that only
   repairs should pay) for every other damage: quotes, comments, missing or
   trailing commas, Python literals, unquoted keys. Its time grows about as
   size^1.7 and some inputs run for minutes, so `timeout` bounds it (see
   `_run_bounded` for how).

Every result says what was done (`Repair.changes`), and `Repair.truncated`
says when the input looked cut off, so a closed-up document is never passed
off as a complete one.
"""

from __future__ import annotations

import json
import re
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, Final, TypeVar

import orjson

from ssechat.errors import InputError
from ssechat.jsonload import stdlib_loads

T = TypeVar("T")

# What a repair can say it did (the vocabulary of stderr notes and --report).
FENCE: Final = "fence stripped"
PROSE: Final = "prose stripped"
TRAILING: Final = "trailing text dropped"
JSONP: Final = "JSONP wrapper stripped"
TRUNCATED: Final = "input truncated and closed"
QUOTES: Final = "quotes fixed"
COMMENTS: Final = "comments removed"
LITERALS: Final = "Python/JS literals fixed"
KEYS: Final = "unquoted keys or words quoted"
COMMAS: Final = "commas fixed"
SYNTAX: Final = "syntax fixed"

_WS: Final = " \t\n\r"
_PAIRS: Final = {"[": "]", "{": "}"}
# A complete double-quoted JSON string (unrolled: linear, no backtracking).
_STRING: Final = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
# A string (closed or running to the end of the text) or a bracket.
_STRING_OR_BRACKET: Final = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*(")?|[\[\]{}]', re.DOTALL)
_NOT_BRACKET: Final = re.compile(r"[^\[\]{}]+")
_ALL_BUT_BRACKETS: Final = bytes(b for b in range(256) if b not in b"[]{}")
_DIGITS_TO_ZERO: Final = bytes.maketrans(b"123456789", b"000000000")
_LONG_DIGITS: Final = b"0" * 19
_OPENER: Final = re.compile(r"[\[{]")
_LEADING_SPACE: Final = re.compile(r"\s*")
_NUMBER: Final = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_PARTIAL_ESCAPE: Final = re.compile(r"\\u[0-9a-fA-F]{0,3}\Z")
_HIGH_SURROGATE: Final = re.compile(r"\\u[dD][89abAB][0-9a-fA-F]{2}\Z")
_LITERALS: Final = ("true", "false", "null")
_WORD_VALUES: Final = {"True": True, "False": False, "None": None, "undefined": None}
_QUOTES: Final = "\"'`\u201c\u201d\u2018\u2019\u00b4"
_NUMBER_START: Final = "0123456789-+."
# Control characters that make input binary (tab, LF, CR, BS and FF are text).
_BINARY: Final = re.compile(r"[\x00-\x07\x0b\x0e-\x1f]")
_FENCE_OPEN: Final = re.compile(r"```[ \t]*[A-Za-z0-9_+.-]*[ \t]*\n?")
_FENCE_CLOSE: Final = re.compile(r"\n?[ \t]*```")
_JSONP: Final = re.compile(
    r"\s*(?:/\*.*?\*/\s*)*[A-Za-z_$][\w$.]*\s*\((?P<inner>.*)\)\s*;?\s*\Z", re.DOTALL
)
# Hints for what json_repair fixed, looked for outside double-quoted strings.
_HINTS: Final = (
    (re.compile(r"['`\u2018\u2019\u201c\u201d]"), QUOTES),
    (re.compile(r"//|/\*|#"), COMMENTS),
    (re.compile(r"\b(?:True|False|None|undefined|NaN|Infinity)\b"), LITERALS),
    (re.compile(r"[{,]\s*[A-Za-z_$][\w$-]*\s*:|[\[,:]\s*[A-Za-z_]\w*\s*[,}\]]"), KEYS),
    (re.compile(r",\s*[}\]]|,\s*,|[}\]\u00a7]\s*[\[{\u00a7]|\d\s+[\[{\u00a7\d]"), COMMAS),
)


class RepairError(InputError):
    """The input holds no JSON that can be recovered."""


class RepairTimeout(RepairError):
    """The json_repair fallback ran past its time bound."""


@dataclass(frozen=True)
class Repair:
    """The outcome of a repair: the value and what it took to get it."""

    value: Any
    valid: bool
    """The input was valid JSON as given (no repair at all)."""
    truncated: bool = False
    """The input looked cut off (open brackets or string) and was closed."""
    changes: tuple[str, ...] = field(default=())

    @property
    def repaired(self) -> bool:
        return not self.valid


# ---------------------------------------------------------------- entry points


def repair_bytes(data: bytes, *, timeout: float | None = None) -> Repair:
    """Repair one document given as bytes (the fast path never decodes it)."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    value = _loads_strict(data)
    if value is not _INVALID:
        return Repair(value, valid=True)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RepairError(f"input is binary, not UTF-8 text (byte {exc.start})") from None
    return _repair_invalid(text, timeout)


def repair_text(text: str, *, timeout: float | None = None) -> Repair:
    """Repair one document: the stages of the module docstring, in order."""
    text = text.removeprefix("\ufeff")
    value = _loads_strict(text)
    if value is not _INVALID:
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
    changes: list[str] = []
    text = _extract(text, changes)
    value = _loads_strict(text)
    if value is not _INVALID:
        return _checked(Repair(value, valid=False, changes=tuple(changes)), text)
    closed = close_truncated(text)
    if closed is not None:
        return _checked(
            Repair(closed[0], valid=False, truncated=True, changes=(*changes, TRUNCATED)), text
        )
    if not _has_json(text):
        raise RepairError(f"input holds no JSON: {_preview(text)}")
    if _OPENER.search(text):
        value = _run_bounded(_json_repair, text, timeout)
    else:
        value = _run_bounded(_repair_scalar, text, timeout)
    truncated = _looks_truncated(text)
    changes.extend(_hints(text))
    if truncated:
        changes.append(TRUNCATED)
    return _checked(Repair(value, valid=False, truncated=truncated, changes=tuple(changes)), text)


TOOL_ARGUMENTS_REPAIR_SECONDS: Final = 5.0
"""The bound on json_repair for one tool call's arguments inside a stream."""


def parse_tool_arguments(raw: str) -> tuple[Any, bool]:
    """Parse a complete tool call's argument string: (value, repaired).

    An empty string is `{}` (a call with no arguments). Valid JSON is parsed
    as given; anything else is repaired (the linear completion pass for a
    cut-off document, else json_repair), and a result that is not an object
    or array (prose, a bare string) is refused with RepairError, as is an
    empty object or array made out of something else.
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
        try:
            value = _run_bounded(_json_repair, raw, TOOL_ARGUMENTS_REPAIR_SECONDS)
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


def dumps(value: Any, *, indent: int | None = None, ensure_ascii: bool = False) -> bytes:
    """The repaired value as UTF-8 JSON text, compact unless `indent` is given."""
    if indent is None and not ensure_ascii:
        try:
            return orjson.dumps(value)
        except TypeError:
            pass  # integers past 64 bits, lone surrogates: the standard library below
    separators = (",", ": ") if indent is not None else (",", ":")
    try:
        text = json.dumps(
            value, indent=indent, ensure_ascii=ensure_ascii, separators=separators, allow_nan=False
        )
    except ValueError as exc:  # a number out of float range (1e400) has no JSON form
        raise RepairError(f"cannot write the result as JSON: {exc}") from None
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a "\ud800" escape: keep it escaped
        return json.dumps(value, indent=indent, separators=separators).encode("ascii")


# ------------------------------------------------------------------ the stages

_INVALID: Final = object()


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _loads_strict(text: str | bytes) -> Any:
    """The parsed value of valid JSON (no NaN/Infinity), else `_INVALID`.

    orjson first (fast); the standard library only where orjson differs:
    integers past 64 bits (orjson makes them floats, losing digits), escaped
    lone surrogates and nesting past orjson's depth limit, which are valid.
    """
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        if not any(word in str(exc) for word in ("surrogate", "depth")):
            return _INVALID
    else:
        data = text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
        if data.translate(_DIGITS_TO_ZERO).find(_LONG_DIGITS) < 0:  # no 19-digit run
            return value
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return _INVALID


def _preview(text: str) -> str:
    line = " ".join(text.split())
    return repr(line[:60] + ("..." if len(line) > 60 else ""))


def _extract(text: str, changes: list[str]) -> str:
    """Strip a fence, a JSONP wrapper or surrounding prose; note what went."""
    stripped = text.lstrip()
    fence = _FENCE_OPEN.search(text)
    if fence and (stripped.startswith("```") or not _OPENER.search(text, 0, fence.start())):
        start = fence.end()
        close = _FENCE_CLOSE.search(text, start)
        text = text[start : close.start() if close else len(text)]
        changes.append(FENCE)
        stripped = text.lstrip()
    if not stripped or stripped[0] in "{[":
        return _keep_leading(text, changes)
    if stripped[0] in _QUOTES or stripped[0] in _NUMBER_START:
        return text
    jsonp = _JSONP.match(text)
    if jsonp and jsonp.group("inner").strip():
        changes.append(JSONP)
        return jsonp.group("inner")
    spans = _top_level_spans(text)
    if not spans:
        return text
    start, end = max(spans, key=lambda span: span[1] - span[0])
    changes.append(PROSE)
    return text[start:end]


def _keep_leading(text: str, changes: list[str]) -> str:
    """Leading JSON followed by prose: the leading value, when it is valid.

    Trailing text with brackets or quotes is more JSON (several documents, a
    misplaced brace), which json_repair merges better than a cut would.
    """
    spans = _top_level_spans(text, first_only=True)
    if not spans:
        return text
    start, end = spans[0]
    rest = text[end:]
    if (
        rest.strip()
        and not any(ch in rest for ch in '[{"')
        and _loads_strict(text[start:end]) is not _INVALID
    ):
        changes.append(TRAILING)
        return text[start:end]
    return text


def _top_level_spans(text: str, *, first_only: bool = False) -> list[tuple[int, int]]:
    """Where each top-level bracketed region starts and ends (strings respected).

    Outside the regions the text is prose, so its quotes are not strings; a
    region still open at the end runs to the end (a truncated document).
    """
    spans: list[tuple[int, int]] = []
    opener = _OPENER.search(text)
    while opener:
        start, depth, end = opener.start(), 0, len(text)
        for token in _STRING_OR_BRACKET.finditer(text, start):
            ch = text[token.start()]
            if ch == '"':
                if token.group(1) is None:  # the string runs to the end
                    break
            elif ch in "[{":
                depth += 1
            else:
                depth -= 1
                if depth == 0:
                    end = token.end()
                    break
        spans.append((start, end))
        if first_only or end == len(text):
            break
        opener = _OPENER.search(text, end)
    return spans


def _has_json(text: str) -> bool:
    """The meaningless-input rule: an opener anywhere, or one JSON-like scalar."""
    if _OPENER.search(text):
        return True
    word = text.strip()
    if not word:  # nothing left once a fence or wrapper is stripped ("```")
        return False
    if word[0] in _QUOTES:
        return True
    if any(ch in _WS for ch in word):
        return False
    return (
        word[0] in _NUMBER_START
        or word in _WORD_VALUES
        or any(literal.startswith(word) for literal in _LITERALS)
    )


def _checked(result: Repair, text: str) -> Repair:
    if result.value == "" and text.strip() != '""':
        raise RepairError(f"the repair comes out as an empty string: {_preview(text)}")
    return result


def _looks_truncated(text: str) -> bool:
    """Damaged input that also ends inside a string or with brackets open."""
    outside = _STRING.sub("", text)
    if '"' in outside:
        return True
    seq = _NOT_BRACKET.sub("", outside)
    return seq.count("[") + seq.count("{") > seq.count("]") + seq.count("}")


def _hints(text: str) -> list[str]:
    """What json_repair probably fixed, from the input (a best guess)."""
    outside = _STRING.sub("\u00a7", text)  # each string becomes one placeholder
    found = [name for pattern, name in _HINTS if pattern.search(outside)]
    return found or [SYNTAX]


def _json_repair(text: str) -> Any:
    import json_repair

    try:
        return json_repair.loads(text)
    except (AssertionError, LookupError, TypeError, ValueError, RecursionError) as exc:
        # json_repair's own bugs on hostile input (found by fuzzing: an
        # AssertionError in its parser) mean "cannot repair", not a crash.
        raise RepairError(f"cannot repair: {_preview(text)} ({type(exc).__name__})") from None


def _repair_scalar(text: str) -> Any:
    """A damaged scalar with no bracket around it ('abc, True, 1,2,3).

    json_repair only repairs values inside a container (a bare scalar comes
    back as ""), so the text is repaired as the only item of an array; a
    comma-separated list of values stays a list.
    """
    word = text.strip()
    if word in _WORD_VALUES:
        return _WORD_VALUES[word]
    items = _json_repair(f"[{text}]")
    if isinstance(items, list) and len(items) == 1:
        return items[0]
    if isinstance(items, list) and items and "," in _STRING.sub("", text):
        return items
    raise RepairError(f"cannot repair: {_preview(text)}")


# ------------------------------------------------------- the completion pass


@dataclass(frozen=True)
class _Token:
    kind: str  # one of "{}[],:" or "str" or "scalar"
    start: int
    end: int


def close_truncated(text: str) -> tuple[Any] | None:
    """`(value,)` of `text` read as a cut-off prefix of valid JSON; else None.

    Linear in len(text), and in C but for a loop over the open brackets:
    with escaped backslashes and quotes removed, splitting at the quotes
    leaves the text outside strings at the even places (an even number of
    parts means the end is inside a string); its brackets reduce to the open
    stack, and only the last few tokens are read (backwards) to decide where
    to cut.
    The closed text is then parsed by the standard parser, so anything that
    is not a clean prefix of valid JSON (other damage) gives None. An open
    string that ends with the brackets that would close what is open
    (`{"url": "https://x/}`) is read as a missing end quote first, more
    likely than a cut there; both readings keep a prefix of the string.
    """
    parts = text.replace("\\\\", "").replace('\\"', "").split('"')
    in_string = len(parts) % 2 == 0
    outside = "".join(parts[0::2]).encode("utf-8", "surrogatepass")
    stack = _open_stack(outside.translate(None, _ALL_BUT_BRACKETS).decode("ascii"))
    del parts, outside
    if stack is None:
        return None
    in_object = bool(stack) and stack[-1] == "{"
    if in_string:
        start = _last_unescaped_quote(text, len(text))
        if start < 0:
            return None
        string = _Token("str", start, len(text))
        early = _close_string_early(text, start, stack)
        if early is not None:
            return early
        if _is_key(text, string, in_object):
            cut = _cut_before(text, string)
            head = None if cut is None else text[:cut]
        else:
            head = text[: start + 1] + _trim_escape(text[start + 1 :]) + '"'
    else:
        head = _close_value(text, in_object)
    if head is None or not head.strip():
        return None
    closed = head + "".join(_PAIRS[bracket] for bracket in reversed(stack))
    if closed == text:
        return None
    value = _loads_strict(closed)
    return None if value is _INVALID else (value,)


def _close_string_early(text: str, start: int, stack: list[str]) -> tuple[Any] | None:
    """The open string ended before the closing brackets it runs into, if that parses."""
    closers = "".join(_PAIRS[bracket] for bracket in reversed(stack))
    body = text[start + 1 :].rstrip(_WS)
    for size in range(len(closers), 0, -1):
        if body.endswith(closers[:size]):
            value = _loads_strict(text[: start + 1] + _trim_escape(body[:-size]) + '"' + closers)
            if value is not _INVALID:
                return (value,)
    return None


def _open_stack(brackets: str) -> list[str] | None:
    """The brackets still open at the end, or None when they do not match."""
    for _ in range(32):  # pairs cancel in C first; deep nesting ends in the loop
        size = len(brackets)
        brackets = brackets.replace("[]", "").replace("{}", "")
        if len(brackets) == size:
            break
    stack: list[str] = []
    for ch in brackets:
        if ch in "[{":
            stack.append(ch)
        elif not stack or _PAIRS[stack.pop()] != ch:
            return None
    return stack


def _close_value(text: str, in_object: bool) -> str | None:
    """The text cut back to its last complete value, outside any string."""
    last = _prev_token(text, len(text))
    if last is None:
        return None
    if last.kind in "{[}]":
        return text[: last.end]
    if last.kind == ",":
        return text[: last.start]
    if last.kind == ":":
        key = _prev_token(text, last.start)
        cut = None if key is None else _cut_before(text, key)
        return None if cut is None else text[:cut]
    if last.kind == "str":
        if _is_key(text, last, in_object):
            cut = _cut_before(text, last)
            return None if cut is None else text[:cut]
        return text[: last.end]
    word = text[last.start : last.end]
    if last.end < len(text):  # followed by whitespace: complete as written
        return text[: last.end]
    for literal in _LITERALS:
        if literal.startswith(word):
            return text[: last.start] + literal
    number = word.rstrip(".eE+-")
    if number and _NUMBER.fullmatch(number):
        return text[: last.start] + number
    if number:
        return None  # a word that is no JSON: other damage, not truncation
    cut = _cut_before(text, last)
    return None if cut is None else text[:cut]


def _is_key(text: str, token: _Token, in_object: bool) -> bool:
    if not in_object:
        return False
    prev = _prev_token(text, token.start)
    return prev is not None and prev.kind in "{,"


def _cut_before(text: str, token: _Token) -> int | None:
    """Where to cut to drop `token` with its comma (and its key, for a value)."""
    prev = _prev_token(text, token.start)
    if prev is None:
        return None
    if prev.kind == ",":
        return prev.start
    if prev.kind == ":":
        key = _prev_token(text, prev.start)
        return None if key is None else _cut_before(text, key)
    return token.start


def _prev_token(text: str, end: int) -> _Token | None:
    """The last token of text[:end], read backwards (outside strings only)."""
    while end > 0:
        chunk = text[max(0, end - 256) : end]
        rest = chunk.rstrip(_WS)
        end -= len(chunk) - len(rest)
        if rest:
            break
    if end <= 0:
        return None
    ch = text[end - 1]
    if ch in "{}[],:":
        return _Token(ch, end - 1, end)
    if ch == '"':
        start = _last_unescaped_quote(text, end - 1)
        return None if start < 0 else _Token("str", start, end)
    start = end - 1
    while start > 0 and text[start - 1] not in '{}[],:" \t\n\r':
        start -= 1
    return _Token("scalar", start, end)


def _last_unescaped_quote(text: str, end: int) -> int:
    """The last `"` before `end` not escaped by a backslash, or -1."""
    while True:
        quote = text.rfind('"', 0, end)
        if quote < 0:
            return -1
        backslash = quote
        while backslash > 0 and text[backslash - 1] == "\\":
            backslash -= 1
        if (quote - backslash) % 2 == 0:
            return quote
        end = quote


def _trim_escape(body: str) -> str:
    """Drop an escape cut in half (a lone backslash, `\\u12`, a high surrogate)."""
    trailing = len(body) - len(body.rstrip("\\"))
    if trailing % 2:
        body = body[:-1]
    else:
        partial = _PARTIAL_ESCAPE.search(body)
        if partial and _escapes_at(body, partial.start()):
            body = body[: partial.start()]
    high = _HIGH_SURROGATE.search(body)  # its low half was cut off
    if high and _escapes_at(body, high.start()):
        body = body[: high.start()]
    return body


def _escapes_at(body: str, index: int) -> bool:
    """The backslash at `index` starts an escape (it is not itself escaped)."""
    before = index
    while before > 0 and body[before - 1] == "\\":
        before -= 1
    return (index - before) % 2 == 0


# ------------------------------------------------------------- the time bound


class _Expired(BaseException):
    """Raised by the alarm inside json_repair; a BaseException, so that no
    `except Exception` in the library can swallow it."""


def _run_bounded(func: Callable[[str], T], text: str, seconds: float | None) -> T:
    """Run func(text), stopping it after `seconds` (RepairTimeout).

    How: an interval timer (signal.setitimer, SIGALRM) whose handler raises
    inside the running code. json_repair is pure Python, so the handler runs
    within a bytecode or two of the deadline, and stopping costs nothing:
    no process to spawn, no 64 MB input to copy to a worker, no per-line
    start-up cost with --lines, and the result needs no pickling. Signals
    only reach the main thread, so elsewhere (a library caller's thread, or
    no SIGALRM on the platform) the call runs unbounded.
    """
    bounded = (
        seconds is not None
        and seconds > 0
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    if not bounded:
        return func(text)
    assert seconds is not None

    def _alarm(signum: int, frame: FrameType | None) -> None:
        raise _Expired()

    previous = signal.signal(signal.SIGALRM, _alarm)
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
