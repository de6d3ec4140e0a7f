"""The truncation completer: a valid JSON document cut off (max_tokens), closed.

`close_truncated` reads the text as a cut-off prefix of valid JSON, cuts it
back to its last complete value and closes what is open, in one linear pass
(C-speed string methods, no per-character Python). How it decides where to
cut: docs/repair.md, "The truncation completer".
"""

from __future__ import annotations

import re
from typing import Any, Final, NamedTuple

from ssechat.repair.strict import INVALID, loads_strict

WS: Final = " \t\n\r"
LITERALS: Final = ("true", "false", "null")
_PAIRS: Final = {"[": "]", "{": "}"}
_ALL_BUT_BRACKETS: Final = bytes(b for b in range(256) if b not in b"[]{}")
_NUMBER: Final = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_PARTIAL_ESCAPE: Final = re.compile(r"\\u[0-9a-fA-F]{0,3}\Z")
_HIGH_SURROGATE: Final = re.compile(r"\\u[dD][89abAB][0-9a-fA-F]{2}\Z")


class _Token(NamedTuple):
    kind: str  # one of "{}[],:" or "str" or "scalar"
    start: int
    end: int


def close_truncated(text: str) -> tuple[Any] | None:
    """`(value,)` of `text` read as a cut-off prefix of valid JSON; else None.

    Linear in len(text): with escaped backslashes and quotes removed,
    splitting at the quotes leaves the text outside strings at the even
    places (an even number of parts means the end is inside a string); its
    brackets reduce to the open stack, and only the last few tokens are read
    (backwards) to decide where to cut. The closed text is then parsed
    strictly, so anything that is not a clean prefix of valid JSON (other
    damage) gives None.
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
        early = _close_string_early(text, start, stack)
        if early is not None:
            return early
        head = _close_open_string(text, _Token("str", start, len(text)), in_object)
    else:
        head = _close_value(text, in_object)
    if head is None or not head.strip():
        return None
    closed = head + "".join(_PAIRS[bracket] for bracket in reversed(stack))
    if closed == text:
        return None
    value = loads_strict(closed)
    return None if value is INVALID else (value,)


def _close_open_string(text: str, string: _Token, in_object: bool) -> str | None:
    """The text with its open string ended (a value) or dropped (a key)."""
    if _is_key(text, string, in_object):
        cut = _cut_before(text, string)
        return None if cut is None else text[:cut]
    return text[: string.start + 1] + _trim_escape(text[string.start + 1 :]) + '"'


def _close_string_early(text: str, start: int, stack: list[str]) -> tuple[Any] | None:
    """The open string ended before the closing brackets it runs into, if that parses.

    `{"url": "https://x/}` is read as a missing end quote first, more likely
    than a cut there; both readings keep a prefix of the string.
    """
    closers = "".join(_PAIRS[bracket] for bracket in reversed(stack))
    body = text[start + 1 :].rstrip(WS)
    for size in range(len(closers), 0, -1):
        if body.endswith(closers[:size]):
            value = loads_strict(text[: start + 1] + _trim_escape(body[:-size]) + '"' + closers)
            if value is not INVALID:
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
        return _cut_text(text, key)
    if last.kind == "str":
        if _is_key(text, last, in_object):
            return _cut_text(text, last)
        return text[: last.end]
    return _close_scalar(text, last)


def _close_scalar(text: str, last: _Token) -> str | None:
    """The text ending in a bare word: kept, completed (`tr` -> `true`, `1.` -> `1`) or cut."""
    word = text[last.start : last.end]
    if last.end < len(text):  # followed by whitespace: complete as written
        return text[: last.end]
    for literal in LITERALS:
        if literal.startswith(word):
            return text[: last.start] + literal
    number = word.rstrip(".eE+-")
    if number and _NUMBER.fullmatch(number):
        return text[: last.start] + number
    if number:
        return None  # a word that is no JSON: other damage, not truncation
    return _cut_text(text, last)


def _cut_text(text: str, token: _Token | None) -> str | None:
    """The text with `token` dropped (`_cut_before`), or None when it cannot be."""
    cut = None if token is None else _cut_before(text, token)
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
        rest = chunk.rstrip(WS)
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
