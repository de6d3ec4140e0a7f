"""API keys for `send`: where a key comes from, and keeping it out of every output.

Resolution (docs/design.md, "send"), first match wins:

1. `--api-key-cmd CMD`: the command's stdout, first line (a password manager:
   `pass show openai`, `op read op://...`), run WITHOUT a shell (shlex.split);
2. `--api-key-file PATH`: the file's first line;
3. `--api-key-env NAME`: that environment variable;
4. `SSECHAT_API_KEY`, the override for any provider;
5. the provider's own variable (`OPENAI_API_KEY`, `ANTHROPIC_API_KEY`,
   `COZE_API_TOKEN`, `GEMINI_API_KEY`).

No option takes the key itself: argv is visible to every user through `ps`
and `/proc/*/cmdline`, and it lands in shell history.

A key is checked when it is read (`check_key`): printable, no whitespace
inside (a multi-line `pass` entry), Latin-1 (what an HTTP header carries);
the error never shows it. Keeping it out of every output is `ssechat.redact`'s
job (`Redactor`, `StreamRedactor`, re-exported here).
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from ssechat.errors import UsageError
from ssechat.redact import REDACTED, Redactor, StreamRedactor

__all__ = [
    "REDACTED",
    "KeySource",
    "MissingKey",
    "Redactor",
    "StreamRedactor",
    "check_key",
    "resolve_key",
]

OVERRIDE_ENV: Final = "SSECHAT_API_KEY"


class MissingKey(UsageError):
    """No key is set anywhere the provider's key is looked for (a set but bad key is not this)."""


_CMD_TIMEOUT: Final = 60.0


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
        return check_key(_from_command(source.cmd), "--api-key-cmd")
    if source.file:
        return check_key(_from_file(source.file), f"--api-key-file {source.file}")
    if source.env_name:
        value = env.get(source.env_name, "").strip()
        if not value:
            raise UsageError(f"no API key: the variable {source.env_name} is not set or empty")
        return check_key(value, source.env_name)
    for name in (OVERRIDE_ENV, provider_env):
        value = env.get(name, "").strip()
        if value:
            return check_key(value, name)
    raise MissingKey(
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


def check_key(key: str, where: str) -> str:
    """`key` if an HTTP header can carry it as it is; else UsageError (exit 2), key unshown.

    A key with a line break inside (`"$(pass show openai)"` on a multi-line
    entry) would otherwise reach requests, whose error prints the header whole.
    """
    problem = ""
    if any(char.isspace() for char in key):
        problem = "has whitespace or a line break inside"
    elif not key.isprintable():
        problem = "has a control character inside"
    else:
        try:
            key.encode("latin-1")
        except UnicodeEncodeError:
            problem = "has characters an HTTP header cannot carry (not Latin-1)"
    if problem:
        raise UsageError(f"the API key from {where} {problem}; it was not used")
    return key
