"""Extraction: the JSON taken out of what surrounds it, and the meaningless-input rule.

`extract` strips a ```-fenced block, a JSONP wrapper `name(...)`, prose
around the largest top-level object or array, or text after a valid leading
value, and notes each in `changes`. `has_json` says whether text holds any
JSON at all (docs/repair.md, "Meaningless input").
"""

from __future__ import annotations

import re
from typing import Any, Final

from ssechat.repair.complete import LITERALS, WS
from ssechat.repair.result import FENCE, JSONP, PROSE, TRAILING
from ssechat.repair.strict import INVALID, loads_strict

OPENER: Final = re.compile(r"[\[{]")
WORD_VALUES: Final[dict[str, Any]] = {"True": True, "False": False, "None": None, "undefined": None}
_QUOTES: Final = "\"'`\u201c\u201d\u2018\u2019\u00b4"
_NUMBER_START: Final = "0123456789-+."
# A string (closed or running to the end of the text) or a bracket.
_STRING_OR_BRACKET: Final = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*(")?|[\[\]{}]', re.DOTALL)
_FENCE_OPEN: Final = re.compile(r"```[ \t]*[A-Za-z0-9_+.-]*[ \t]*\n?")
_FENCE_CLOSE: Final = re.compile(r"\n?[ \t]*```")
_JSONP: Final = re.compile(
    r"\s*(?:/\*.*?\*/\s*)*[A-Za-z_$][\w$.]*\s*\((?P<inner>.*)\)\s*;?\s*\Z", re.DOTALL
)


def extract(text: str, changes: list[str]) -> str:
    """Strip a fence, a JSONP wrapper or surrounding prose; note what went."""
    stripped = text.lstrip()
    fence = _FENCE_OPEN.search(text)
    if fence and (stripped.startswith("```") or not OPENER.search(text, 0, fence.start())):
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
        and loads_strict(text[start:end]) is not INVALID
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
    opener = OPENER.search(text)
    while opener:
        start, end = opener.start(), _region_end(text, opener.start())
        spans.append((start, end))
        if first_only or end == len(text):
            break
        opener = OPENER.search(text, end)
    return spans


def _region_end(text: str, start: int) -> int:
    """Where the bracketed region opening at `start` closes (the end of text if never)."""
    depth = 0
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
                return token.end()
    return len(text)


def has_json(text: str) -> bool:
    """The meaningless-input rule: an opener anywhere, or one JSON-like scalar."""
    if OPENER.search(text):
        return True
    word = text.strip()
    if not word:  # nothing left once a fence or wrapper is stripped ("```")
        return False
    if word[0] in _QUOTES:
        return True
    if any(ch in WS for ch in word):
        return False
    return (
        word[0] in _NUMBER_START
        or word in WORD_VALUES
        or any(literal.startswith(word) for literal in LITERALS)
    )
