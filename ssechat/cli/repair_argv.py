"""repair-json's arguments read without click: the start-up fast path.

`parse` reads the plain forms (`[FILE]` and the command's own options, each
at most once, `--opt value` or `--opt=value`) into the RepairArgs click
would give, and returns None for anything else: click then reads the
arguments as always and says what is wrong in its own words. Values are
taken only where click would take them unchanged. The plain path (click)
never calls this; tests/test_repair_argv.py proves the two readings equal.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from typing import Any, Final

from ssechat.cli.environment import Environment

_FLAGS: Final = {
    "--lines": "lines",
    "--ensure-ascii": "ensure_ascii",
    "--strict": "strict",
    "--allow-truncated": "allow_truncated",
    "--report": "report",
    "-q": "quiet",
    "--quiet": "quiet",
    "--debug": "debug",
}
_ENV_FLAGS: Final = ("quiet", "debug")  # click's eager callbacks set them on the Environment
_SIZE: Final = re.compile(r"([0-9]+)([KMGkmg]?)")
_SECONDS: Final = re.compile(r"[0-9]{1,6}(?:\.[0-9]{1,6})?")
_UNITS: Final = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}
_FLUSH_POLICIES: Final = ("auto", "event", "never")
COMPLETE_VAR: Final = "_SSECHAT_COMPLETE"


def _readable_file(value: str) -> str | None:
    """click.Path(exists=True, dir_okay=False) accepts it unchanged (a readable non-directory)."""
    return value if os.path.isfile(value) and os.access(value, os.R_OK) else None


def _indent(value: str) -> int | None:
    """click.IntRange(0, 16), for plain ASCII digits."""
    number = int(value) if value.isascii() and value.isdigit() else -1
    return number if 0 <= number <= 16 else None


def _seconds(value: str) -> float | None:
    """Seconds(): a positive number well within its bound, plainly written."""
    number = float(value) if _SECONDS.fullmatch(value) else 0.0
    return number if number > 0 else None


def _size(value: str) -> int | None:
    """ByteSize(): a positive number of bytes with an optional K, M or G."""
    match = _SIZE.fullmatch(value)
    if not match or int(match.group(1)) == 0:
        return None
    return int(match.group(1)) * _UNITS[match.group(2).upper()]


def _flush(value: str) -> str | None:
    return value if value in _FLUSH_POLICIES else None


def _text(value: str) -> str | None:
    return value


_VALUES: Final[dict[str, tuple[str, Callable[[str], Any]]]] = {
    "--field": ("field_path", _text),
    "--indent": ("indent", _indent),
    "--schema": ("schema_file", _readable_file),
    "--timeout": ("timeout", _seconds),
    "--max-bytes": ("max_bytes", _size),
    "--flush": ("flush", _flush),
}


def parse(args: Sequence[str]) -> dict[str, Any] | None:
    """The parameters of `repair-json ARGS` (with `quiet`, `debug`), or None: ask click."""
    params: dict[str, Any] = {}
    tokens = list(args)
    while tokens:
        token = tokens.pop(0)
        converted: Any
        name, equals, value = token.partition("=") if token.startswith("--") else (token, "", "")
        if name in _FLAGS and not equals:
            dest, converted = _FLAGS[name], True
        elif name in _VALUES:
            if not equals:
                if not tokens or tokens[0].startswith("-"):
                    return None
                value = tokens.pop(0)
            dest, convert = _VALUES[name]
            converted = convert(value)
        elif token == "-" or not token.startswith("-"):
            dest, converted = "file", token if token == "-" else _readable_file(token)
        else:
            return None
        if dest in params or converted is None:
            return None
        params[dest] = converted
    return params


def run_without_click(args: Sequence[str], env: Environment) -> int | None:
    """Run repair-json when `parse` reads its arguments: the exit status; else None.

    Shell completion (click reads `_SSECHAT_COMPLETE`) is click's, whatever the arguments.
    """
    params = None if COMPLETE_VAR in os.environ else parse(args)
    if params is None:
        return None
    from ssechat.cli import repair_io

    for name in _ENV_FLAGS:
        if params.pop(name, False):
            setattr(env, name, True)
    return repair_io.run(env, repair_io.RepairArgs(**params))
