"""roff, the markup of man pages: plain text and click-style help made literal and filled.

`escape` makes text literal (backslashes, hyphens, quotes, a leading dot,
non-ASCII); `inline` fills prose into lines of at most 80 bytes with
`backtick` spans in bold; `paragraph`, `block`, `definitions` and
`section` build the page's parts. Used by `ssechat._docgen`.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from ssechat.cli.manual import Block


def chars(text: str) -> str:
    out = text.replace("\\", "\\e").replace("-", "\\-").replace("'", "\\(aq")
    out = out.replace("`", "\\(ga")
    return "".join(ch if ord(ch) < 128 else f"\\[u{ord(ch):04X}]" for ch in out)


def protect(lines: str) -> str:
    # A text line starting with . or ' would be taken for a roff request.
    return re.sub(r"(?m)^([.'])", r"\\&\1", lines)


def escape(text: str) -> str:
    """Plain text as roff text: backslashes, hyphens, quotes and non-ASCII made literal."""
    return protect(chars(text))


def _literal(text: str) -> str:
    # Bold, and its spaces unbreakable (\\~), so that a literal is never split
    # across lines nor padded when the line is justified.
    return "\\fB" + chars(text).replace(" ", "\\~") + "\\fR"


# `literal`, but not ``` (a Markdown fence named in a help text is just text).
_LITERAL_RE: Final = re.compile(r"(?<!`)`([^`]+)`(?!`)")


def markup(text: str) -> str:
    parts = _LITERAL_RE.split(" ".join(text.split()))
    return "".join(_literal(p) if i % 2 else chars(p) for i, p in enumerate(parts))


def fill(roff: str) -> str:
    # Text lines of at most 80 bytes (mandoc -T lint's style rule); roff fills them.
    # 78, leaving room for the \\& that protect may put before a leading dot.
    wrapped = textwrap.fill(roff, width=78, break_long_words=False, break_on_hyphens=False)
    return protect(wrapped)


def inline(text: str) -> str:
    """Prose as filled roff text lines; `literal` spans in bold, never broken."""
    return fill(markup(text))


def paragraph(text: str) -> str:
    """One click-style paragraph: filled, or kept as written after a `\\b` line."""
    lines = text.split("\n")
    if lines[0].strip() == "\b":
        body = "\n".join(escape(line) if line.strip() else ".sp" for line in lines[1:])
        return f".PP\n.nf\n{body}\n.fi\n"
    return f".PP\n{inline(text)}\n"


def block(item: Block) -> str:
    if isinstance(item, str):
        return paragraph(item)
    return "".join(f".TP\n\\fB{escape(term)}\\fR\n{inline(text)}\n" for term, text in item)


def section(title: str, body: str) -> str:
    body = body.removeprefix(".PP\n")  # a paragraph macro right after .SH is redundant
    return f'.SH "{title}"\n{body}' if " " in title else f".SH {title}\n{body}"


def definitions(pairs: Iterable[tuple[str, str]]) -> str:
    return "".join(f".TP\n\\fB{escape(term)}\\fR\n{inline(text)}\n" for term, text in pairs)
