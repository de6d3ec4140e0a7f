"""Keeping secrets out of every output: text, byte streams, logged headers and paths.

`Redactor` removes secrets from text (error messages, notices, debug lines),
`StreamRedactor` from a byte stream cut into arbitrary reads (what the
server sends, before anyone writes it). Both find, in linear time:

- the whole secret, as given or JSON-escaped (`\\u0073k-...`, `\\"`, `\\/`);
- any run of 8 or more of its characters that contains one of its 8-character
  pieces taken every 8 characters (and the last 8): a key cut in two (across
  two deltas, two reads) or echoed in part;
- in text only, a masked form as providers print it (`sk-abc1***...WXYZ`)
  and a whole word that is a fragment of the key.

Secrets shorter than 8 characters are placeholders (`ollama`), not redacted.
`redact_header` and `redact_path` are the name-based rule for logged request
headers and paths (`replay --log-requests`, `send --debug`).
"""

from __future__ import annotations

import bisect
import re
from typing import Final

REDACTED: Final = "[REDACTED]"
MASK: Final = "***"  # what a logged secret header or query value shows
REDACT_LIMIT: Final = 4096  # characters of a message kept (and searched) for stderr
_MIN_SECRET: Final = 8
_GRAM: Final = 8
_MIN_TAIL: Final = 4
_TOKEN_CHARS: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_TOKEN_RE: Final = re.compile(r"[A-Za-z0-9_\-]+")
_WORD_RE: Final = re.compile(r"[A-Za-z0-9_\-]{8,}")
# One run of mask characters; each match starts at a mask character, so the
# scan is linear (the old head-mask-tail pattern backtracked over every word).
_MASK_RUN_RE: Final = re.compile(r"(?:\*|\.{2,}|\u2026)+")
# JSON escapes that can hide a key's characters: \u00XX always; \" \\ \/ only
# matter for a key that holds those characters (`_escapes`).
_ESCAPE_RE: Final = re.compile(r'\\u00([0-9a-fA-F]{2})|\\(["\\/])')
_UNICODE_ESCAPE_RE: Final = re.compile(r"\\u00([0-9a-fA-F]{2})()")

Span = tuple[int, int]


def worth_redacting(secrets: list[str]) -> list[str]:
    """The secrets long enough to redact (a shorter value is a placeholder, not a key)."""
    return [secret for secret in secrets if len(secret) >= _MIN_SECRET]


def _grams(secret: str) -> list[tuple[int, str]]:
    """(offset, piece): the secret's 8-character pieces every 8 characters, and the last."""
    if len(secret) < 2 * _GRAM:
        return [(0, secret)]  # a short key counts only whole
    offsets = sorted({*range(0, len(secret) - _GRAM + 1, _GRAM), len(secret) - _GRAM})
    return [(offset, secret[offset : offset + _GRAM]) for offset in offsets]


def _fragment_spans(text: str, secret: str, grams: list[tuple[int, str]]) -> list[Span]:
    """Runs of the secret around each of its pieces found in `text` (whole keys included)."""
    spans: list[Span] = []
    size = len(secret)
    for offset, gram in grams:
        pos = text.find(gram)
        while pos != -1:
            start, at = pos, offset
            while start > 0 and at > 0 and text[start - 1] == secret[at - 1]:
                start -= 1
                at -= 1
            end, at = pos + len(gram), offset + len(gram)
            while end < len(text) and at < size and text[end] == secret[at]:
                end += 1
                at += 1
            spans.append((start, end))
            pos = text.find(gram, end)
    return spans


def _masked_spans(text: str, secret: str) -> list[Span]:
    """Masked echoes: a head that is a prefix and/or a tail that is a suffix around a mask."""
    spans: list[Span] = []
    floor = 0  # a tail already taken cannot be the next head
    cap = len(secret) + 1
    for match in _MASK_RUN_RE.finditer(text):
        mask_start, mask_end = match.span()
        if mask_start < floor:
            continue
        start = mask_start
        while start > floor and mask_start - start < cap and text[start - 1] in _TOKEN_CHARS:
            start -= 1
        word = _TOKEN_RE.match(text, mask_end)
        end = word.end() if word else mask_end
        head, tail = text[start:mask_start], text[mask_end:end]
        cut = start > floor and text[start - 1] in _TOKEN_CHARS  # a head longer than the key
        if _is_masked_key(head, tail, secret, cut=cut):
            spans.append((start, end))
        floor = max(floor, end)
    return spans


def _is_masked_key(head: str, tail: str, secret: str, *, cut: bool) -> bool:
    if cut or (not head and not tail):
        return False
    head_ok = not head or (secret.startswith(head) and len(head) < len(secret))
    tail_ok = not tail or (secret.endswith(tail) and len(tail) < len(secret))
    # "sk-...WXYZ": a head that is a prefix and a tail that is a suffix. One
    # side alone counts only when it is long enough not to match by chance.
    if head and tail:
        return head_ok and tail_ok
    if tail:
        return tail_ok and len(tail) >= _MIN_TAIL
    return head_ok and len(head) >= _GRAM


def _word_spans(text: str, secret: str) -> list[Span]:
    """Whole words of 8+ characters that are a fragment of a long key."""
    if len(secret) < 2 * _GRAM:
        return []
    return [m.span() for m in _WORD_RE.finditer(text) if m.group() in secret]


def _escapes(secrets: list[str]) -> tuple[re.Pattern[str], tuple[str, ...]]:
    """The escapes to undo for these secrets, and the strings that announce one."""
    if any(char in secret for secret in secrets for char in '"\\/'):
        return _ESCAPE_RE, ("\\u00", '\\"', "\\\\", "\\/")
    return _UNICODE_ESCAPE_RE, ("\\u00",)


def _unescape(match: re.Match[str]) -> str:
    code = match.group(1)
    return chr(int(code, 16)) if code else match.group(2)


def _escaped_spans(text: str, secrets: list[str], pattern: re.Pattern[str]) -> list[Span]:
    """The spans of `text` whose JSON-unescaped form is (part of) a secret."""
    decoded = pattern.sub(_unescape, text)  # first, cheaply: is any piece of a key there?
    if not any(gram in decoded for secret in secrets for _, gram in _grams(secret)):
        return []
    pieces: list[str] = []
    decoded_at: list[int] = []  # where each piece starts in the unescaped text
    raw_at: list[int] = []  # and in `text`
    escape: list[bool] = []
    size = raw = 0
    for match in pattern.finditer(text):
        code = match.group(1)
        char = chr(int(code, 16)) if code else match.group(2)
        for piece, start, is_escape in (
            (text[raw : match.start()], raw, False),
            (char, match.start(), True),
        ):
            if piece:
                pieces.append(piece)
                decoded_at.append(size)
                raw_at.append(start)
                escape.append(is_escape)
                size += len(piece)
        raw = match.end()
    if not pieces:
        return []
    pieces.append(text[raw:])
    decoded_at.append(size)
    raw_at.append(raw)
    escape.append(False)
    decoded = "".join(pieces)

    def to_raw(index: int, end: bool) -> int:
        k = bisect.bisect_right(decoded_at, index - 1 if end else index) - 1
        if escape[k]:
            return raw_at[k + 1] if end else raw_at[k]
        return raw_at[k] + index - decoded_at[k]

    spans: list[Span] = []
    for secret in secrets:
        for start, end in _fragment_spans(decoded, secret, _grams(secret)):
            spans.append((to_raw(start, False), to_raw(end, True)))
    return spans


def _replace(text: str, spans: list[Span], mark: str) -> str:
    """`text` with each span (overlapping ones merged) replaced by `mark`."""
    if not spans:
        return text
    out: list[str] = []
    done = 0
    end_of_run = -1
    for start, end in sorted(spans):
        if start <= end_of_run:
            end_of_run = max(end_of_run, end)
            continue
        if end_of_run >= 0:
            out.append(mark)
            done = end_of_run
        out.append(text[done:start])
        end_of_run = end
    out.append(mark)
    out.append(text[end_of_run:])
    return "".join(out)


class Redactor:
    """Removes secrets, whole, escaped, in part or masked, from text."""

    def __init__(self, secrets: list[str]) -> None:
        self.secrets = worth_redacting(secrets)
        self._grams = [_grams(secret) for secret in self.secrets]
        self._margin = max((len(secret) for secret in self.secrets), default=0)
        self._escape, self._marks = _escapes(self.secrets)

    def __call__(self, text: str) -> str:
        return self.redact(text)

    def redact(self, text: str, limit: int | None = REDACT_LIMIT) -> str:
        """`text` without the secrets, cut to `limit` characters (None: whole).

        The cut is made after redacting a little more than `limit`, so a key
        that straddles it is still found whole.
        """
        cut = limit is not None and len(text) > limit
        if cut and limit is not None:
            text = text[: limit + self._margin]
        if self.secrets:
            spans: list[Span] = []
            for secret, grams in zip(self.secrets, self._grams, strict=True):
                spans += _fragment_spans(text, secret, grams)
                spans += _masked_spans(text, secret)
                spans += _word_spans(text, secret)
            if any(mark in text for mark in self._marks):
                spans += _escaped_spans(text, self.secrets, self._escape)
            text = _replace(text, spans, REDACTED)
        if cut and limit is not None:
            text = text[:limit] + "..."
        return text


class StreamRedactor:
    """Removes secrets from a byte stream cut into arbitrary chunks.

    Only the bytes at the end of a chunk that could begin a secret are held
    back until the next chunk (usually none: an SSE read ends in a line end),
    so redaction adds no latency to a live stream. The bytes are searched as
    Latin-1 text, one character per byte, for the secrets' UTF-8 bytes.
    """

    def __init__(self, secrets: list[str]) -> None:
        kept = worth_redacting(secrets)
        self.secrets = [s.encode("utf-8").decode("latin-1") for s in kept]
        self._grams = [_grams(secret) for secret in self.secrets]
        self._needles = [gram.encode("latin-1") for grams in self._grams for _, gram in grams]
        self._encoded = [secret.encode("latin-1") for secret in self.secrets]
        self._escape, marks = _escapes(self.secrets)
        self._marks = [mark.encode("latin-1") for mark in marks]
        self._held = b""

    def feed(self, chunk: bytes) -> bytes:
        if not self.secrets:
            return chunk
        data = self._held + chunk if self._held else chunk
        keep = max((_partial_prefix(data, s) for s in self._encoded), default=0)
        self._held = data[len(data) - keep :] if keep else b""
        return self._redact(data[: len(data) - keep] if keep else data)

    def _redact(self, data: bytes) -> bytes:
        escaped = any(mark in data for mark in self._marks)
        if not escaped and not any(needle in data for needle in self._needles):
            return data
        text = data.decode("latin-1")
        spans: list[Span] = []
        for secret, grams in zip(self.secrets, self._grams, strict=True):
            spans += _fragment_spans(text, secret, grams)
        if escaped:
            spans += _escaped_spans(text, self.secrets, self._escape)
        return _replace(text, spans, REDACTED).encode("latin-1")

    def close(self) -> bytes:
        held, self._held = self._held, b""
        return self._redact(held)


def _partial_prefix(data: bytes, secret: bytes) -> int:
    """The length of the longest end of `data` that is a proper prefix of `secret`."""
    first = secret[:1]
    start = max(0, len(data) - len(secret) + 1)
    pos = data.find(first, start)
    while pos != -1:
        if secret.startswith(data[pos:]):
            return len(data) - pos
        pos = data.find(first, pos + 1)
    return 0


# -- logged headers and paths ---------------------------------------------------------

_SECRET_NAME_RE: Final = re.compile(
    r"auth|key|token|secret|cookie|password|passwd|signature|session|credential|code", re.I
)
_SCHEME_RE: Final = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_-]*)\s+\S")
_SECRET_VALUE_RE: Final = re.compile(
    r"\b(?:sk|pk|rk|pat|ghp|gho|xox[abp]|AIza)[-_A-Za-z0-9]{12,}|\beyJ[-_A-Za-z0-9.]{20,}"
)
_QUERY_SECRET_RE: Final = re.compile(
    r"([?&](?:[^=&#]*(?:key|token|secret|signature|password|auth)[^=&#]*)=)[^&#]*", re.I
)


def is_secret_header(name: str) -> bool:
    """Whether a header's name says its value is a secret (Authorization, X-Access-Code...)."""
    return bool(_SECRET_NAME_RE.search(name))


def redact_header(name: str, value: str) -> str:
    """A header value safe to log: secrets become ***, keeping an auth scheme."""
    if is_secret_header(name):
        scheme = _SCHEME_RE.match(value)
        if scheme and "authorization" in name.lower():
            return f"{scheme.group(1)} {MASK}"
        return MASK
    return _SECRET_VALUE_RE.sub(MASK, value)


def redact_path(path: str) -> str:
    """The request path with secret-looking query parameters (`?key=`) hidden."""
    return _SECRET_VALUE_RE.sub(MASK, _QUERY_SECRET_RE.sub(rf"\1{MASK}", path))
