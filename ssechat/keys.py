"""API keys for `send`: where a key comes from, and keeping it out of every output.

Resolution (DESIGN.md section 5), first match wins:

1. `--api-key-cmd CMD`: the command's stdout, first line (a password manager:
   `pass show openai`, `op read op://...`), run WITHOUT a shell (shlex.split);
2. `--api-key-file PATH`: the file's first line;
3. `--api-key-env NAME`: that environment variable;
4. `SSECHAT_API_KEY`, the override for any provider;
5. the provider's own variable (`OPENAI_API_KEY`, `ANTHROPIC_API_KEY`,
   `COZE_API_TOKEN`, `GEMINI_API_KEY`).

No option takes the key itself: argv is visible to every user through `ps`
and `/proc/*/cmdline`, and it lands in shell history.

Redaction: `Redactor` removes a key from text (error messages, debug lines,
notices) and `StreamRedactor` from a byte stream (what the server sends, before
anyone writes it). Besides the whole key, providers echo a masked form in
their errors ("Incorrect API key provided: sk-abc1***...***WXYZ"): any masked
token whose visible ends are a prefix and a suffix of the key is removed too,
as is any fragment of 8 or more characters of the key, and a "...WXYZ"-style
tail of 4 or more.
"""

from __future__ import annotations

import functools
import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from ssechat.errors import UsageError

OVERRIDE_ENV: Final = "SSECHAT_API_KEY"
REDACTED: Final = "[REDACTED]"
_CMD_TIMEOUT: Final = 60.0
# A masked key as providers print it: visible head, a run of mask characters
# (*, .., …), visible tail. Either side may be empty.
_MASKED_RE: Final = re.compile(r"([A-Za-z0-9_\-]*)((?:\*|\.{2,}|\u2026)+)([A-Za-z0-9_\-]*)")
_MIN_SECRET: Final = 8
_MIN_FRAGMENT: Final = 8
_FRAGMENT_RE: Final = re.compile(r"[A-Za-z0-9_\-]{8,}")
_MIN_TAIL: Final = 4


@dataclass(frozen=True)
class KeySource:
    """Where the user asked the key to come from (the CLI options)."""

    env_name: str | None = None
    file: str | None = None
    cmd: str | None = None


def resolve_key(
    provider_env: str,
    source: KeySource,
    environ: Mapping[str, str] | None = None,
) -> str:
    """The API key, or UsageError (exit 2) naming where it was looked for."""
    env = os.environ if environ is None else environ
    if source.cmd:
        return _from_command(source.cmd)
    if source.file:
        return _from_file(source.file)
    if source.env_name:
        value = env.get(source.env_name, "").strip()
        if not value:
            raise UsageError(f"no API key: the variable {source.env_name} is not set or empty")
        return value
    for name in (OVERRIDE_ENV, provider_env):
        value = env.get(name, "").strip()
        if value:
            return value
    raise UsageError(
        f"no API key: set {provider_env} (or {OVERRIDE_ENV}), "
        "or use --api-key-env, --api-key-file or --api-key-cmd"
    )


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0].strip() if lines else ""


def _from_file(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            value = _first_line(handle.read())
    except OSError as exc:
        raise UsageError(f"cannot read --api-key-file {path}: {exc.strerror or exc}") from None
    if not value:
        raise UsageError(f"no API key: --api-key-file {path} is empty")
    return value


def _from_command(cmd: str) -> str:
    try:
        argv = shlex.split(cmd)
    except ValueError as exc:
        raise UsageError(f"--api-key-cmd: {exc}") from None
    if not argv:
        raise UsageError("--api-key-cmd is empty")
    import subprocess

    try:
        # Never with a shell, and never echo its output: it is the key.
        done = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            timeout=_CMD_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        reason = "timed out" if isinstance(exc, subprocess.TimeoutExpired) else str(exc.strerror)
        raise UsageError(f"--api-key-cmd {argv[0]}: {reason}") from None
    if done.returncode != 0:
        raise UsageError(f"--api-key-cmd {argv[0]} exited with status {done.returncode}")
    value = _first_line(done.stdout.decode("utf-8", "replace"))
    if not value:
        raise UsageError(f"no API key: --api-key-cmd {argv[0]} printed nothing")
    return value


def _worth_redacting(secrets: list[str]) -> list[str]:
    """The secrets long enough to redact.

    A value shorter than 8 characters is a placeholder (`x`, `ollama`, `test`
    for a local server), not a real key; replacing every occurrence of it
    would silently corrupt the answer ("text_delta" -> "te[REDACTED]t_delta").
    """
    return [secret for secret in secrets if len(secret) >= _MIN_SECRET]


class Redactor:
    """Removes secrets, whole or as masked fragments, from text."""

    def __init__(self, secrets: list[str]) -> None:
        self.secrets = _worth_redacting(secrets)

    def __call__(self, text: str) -> str:
        return self.redact(text)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
            text = _MASKED_RE.sub(functools.partial(_masked, secret=secret), text)
            text = _redact_fragments(text, secret)
        return text


def _masked(match: re.Match[str], secret: str) -> str:
    head, tail = match.group(1), match.group(3)
    if not head and not tail:
        return match.group(0)
    head_ok = not head or (secret.startswith(head) and len(head) < len(secret))
    tail_ok = not tail or (secret.endswith(tail) and len(tail) < len(secret))
    # "sk-...WXYZ": a head that is a prefix and a tail that is a suffix. One
    # side alone counts only when it is long enough not to match by chance.
    if head and tail and head_ok and tail_ok:
        return REDACTED
    if not head and tail_ok and len(tail) >= _MIN_TAIL:
        return REDACTED
    if not tail and head_ok and len(head) >= _MIN_FRAGMENT:
        return REDACTED
    return match.group(0)


def _redact_fragments(text: str, secret: str) -> str:
    """Any run of 8+ characters of the key, echoed without a mask."""
    if len(secret) < _MIN_FRAGMENT * 2:
        return text
    for token in set(re.findall(_FRAGMENT_RE, text)):
        if token in secret:
            text = text.replace(token, REDACTED)
    return text


class StreamRedactor:
    """Removes a secret from a byte stream cut into arbitrary chunks.

    Only the bytes at the end of a chunk that could begin the secret are held
    back until the next chunk (usually none: an SSE chunk ends in a line end),
    so redaction adds no latency to a live stream.
    """

    def __init__(self, secrets: list[str]) -> None:
        self.secrets = [s.encode("utf-8") for s in _worth_redacting(secrets)]
        self._held = b""

    def feed(self, chunk: bytes) -> bytes:
        if not self.secrets:
            return chunk
        data = self._held + chunk if self._held else chunk
        for secret in self.secrets:
            if secret in data:
                data = data.replace(secret, REDACTED.encode())
        keep = max((_partial_prefix(data, s) for s in self.secrets), default=0)
        self._held = data[len(data) - keep :] if keep else b""
        return data[: len(data) - keep] if keep else data

    def close(self) -> bytes:
        held, self._held = self._held, b""
        return held


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
