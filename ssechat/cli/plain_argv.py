"""Plain argument lists read without click: the start-up fast path of two commands.

Each command has a `Table` of its flags and valued options (with their
converters) and of its FILE arguments. `parse` reads the plain forms (each
option at most once, `--opt value` or `--opt=value`) into the parameters
click would give, and returns None for anything else (help, `--`, unknown or
repeated options, a value click would refuse or read otherwise, options that
do not go together): click then reads the arguments as always and says what
is wrong in its own words. The plain path (click) never calls this;
tests/test_plain_argv.py and tests/test_repair_argv.py prove the two readings
equal and both paths' output the same.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, Final

from ssechat.cli.environment import Environment

COMPLETE_VAR: Final = "_SSECHAT_COMPLETE"
ENV_FLAGS: Final = ("quiet", "debug")  # click's eager callbacks set them on the Environment
_UNITS: Final = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}
_FLUSH_POLICIES: Final = ("auto", "event", "never")
_COMMON_FLAGS: Final = {"-q": "quiet", "--quiet": "quiet", "--debug": "debug"}

Converter = Callable[[str], Any]  # the value click would give, or None: ask click


def _digits(value: str, most: int) -> bool:
    return 0 < len(value) <= most and value.isascii() and value.isdigit()


def readable_file(value: str) -> str | None:
    """click.Path(exists=True, dir_okay=False, allow_dash=True): `-` or a readable non-directory."""
    if value == "-" or (os.path.isfile(value) and os.access(value, os.R_OK)):
        return value
    return None


def indent(value: str) -> int | None:
    """click.IntRange(0, 16), for plain ASCII digits."""
    number = int(value) if _digits(value, 2) else -1
    return number if 0 <= number <= 16 else None


def seconds(value: str) -> float | None:
    """Seconds(): a positive number well within its bound, plainly written."""
    whole, dot, fraction = value.partition(".")
    plain = _digits(whole, 6) and (not dot or _digits(fraction, 6))
    number = float(value) if plain else 0.0
    return number if number > 0 else None


def size(value: str) -> int | None:
    """ByteSize(): a positive number of bytes with an optional K, M or G."""
    unit = value[-1:].upper() if value[-1:].upper() in ("K", "M", "G") else ""
    digits = value[: len(value) - len(unit)]
    if not _digits(digits, 12) or int(digits) == 0:
        return None
    return int(digits) * _UNITS[unit]


def choice(*choices: str) -> Converter:
    """click.Choice(choices), case-sensitive: the value when it is one of them."""
    return lambda value: value if value in choices else None


def _text(value: str) -> str:
    return value


def _dialect(value: str) -> str | None:
    from ssechat.cli.parse_sse import DIALECT_NAMES

    return value if value in DIALECT_NAMES else None


class Table:
    """One command's plain forms: flags, valued options, FILE arguments, checks, its work."""

    __slots__ = ("accepts", "files", "flags", "many", "run", "values")

    def __init__(
        self,
        *,
        flags: dict[str, str],
        values: dict[str, tuple[str, Converter]],
        files: str,
        many: bool,
        accepts: Callable[[dict[str, Any]], bool],
        run: Callable[[Environment, dict[str, Any]], int],
    ) -> None:
        self.flags = {**flags, **_COMMON_FLAGS}  # option -> parameter name
        self.values = {**values, "--flush": ("flush", choice(*_FLUSH_POLICIES))}
        self.files = files  # the parameter of the FILE arguments
        self.many = many  # FILE... (a tuple), or one FILE
        self.accepts = accepts  # False for options that do not go together
        self.run = run  # the command's work on the parameters (with no quiet, debug)


def parse(table: Table, args: Sequence[str]) -> dict[str, Any] | None:
    """The parameters of the command's ARGS (with `quiet`, `debug`), or None: ask click."""
    params: dict[str, Any] = {}
    files: list[str | None] = []
    tokens = list(reversed(args))
    while tokens:
        token = tokens.pop()
        if token == "-" or not token.startswith("-"):
            files.append(readable_file(token))
            continue
        option = _option(table, token, tokens)
        if option is None or option[0] in params:
            return None
        params[option[0]] = option[1]
    if None in files or (len(files) > 1 and not table.many):
        return None
    if files:
        params[table.files] = tuple(files) if table.many else files[0]
    return params if table.accepts(params) else None


def _option(table: Table, token: str, rest: list[str]) -> tuple[str, Any] | None:
    """(parameter, value) of the option `token` (its value taken from `rest`), or None."""
    name, equals, value = token.partition("=") if token.startswith("--") else (token, "", "")
    if name in table.flags and not equals:
        return table.flags[name], True
    if name not in table.values:
        return None
    if not equals:
        if not rest or rest[-1].startswith("-"):
            return None
        value = rest.pop()
    parameter, convert = table.values[name]
    converted = convert(value)
    return None if converted is None else (parameter, converted)


def _run_repair_json(env: Environment, params: dict[str, Any]) -> int:
    from ssechat.cli import repair_io

    return repair_io.run(env, repair_io.RepairArgs(**params))


def _run_parse_sse(env: Environment, params: dict[str, Any]) -> int:
    from ssechat.cli import parse_sse

    return parse_sse.run(env, **params)


def _parse_sse_modes_agree(params: dict[str, Any]) -> bool:
    from ssechat.cli.parse_sse import mode_conflict

    modes = ("text_only", "reasoning", "summary", "raw_events", "dialect")
    text_only, reasoning, summary, raw_events, dialect = (bool(params.get(m)) for m in modes)
    return mode_conflict(text_only, reasoning, summary, raw_events, dialect) is None


REPAIR_JSON: Final = Table(
    flags={
        "--lines": "lines",
        "--ensure-ascii": "ensure_ascii",
        "--strict": "strict",
        "--allow-truncated": "allow_truncated",
        "--report": "report",
    },
    values={
        "--field": ("field_path", _text),
        "--indent": ("indent", indent),
        "--schema": ("schema_file", lambda value: None if value == "-" else readable_file(value)),
        "--timeout": ("timeout", seconds),
        "--max-bytes": ("max_bytes", size),
    },
    files="file",
    many=False,
    accepts=lambda params: True,
    run=_run_repair_json,
)
PARSE_SSE: Final = Table(
    flags={
        "--text": "text_only",
        "--reasoning": "reasoning",
        "--summary": "summary",
        "--events": "raw_events",
        "--allow-truncated": "allow_truncated",
    },
    values={
        "--dialect": ("dialect", _dialect),
        "--eof": ("eof", choice("dispatch", "discard")),
        "--max-event-bytes": ("max_event_bytes", size),
    },
    files="files",
    many=True,
    accepts=_parse_sse_modes_agree,
    run=_run_parse_sse,
)
COMMANDS: Final = {"repair-json": REPAIR_JSON, "parse-sse": PARSE_SSE}


def run_without_click(args: Sequence[str], env: Environment) -> int | None:
    """Run `COMMAND ARGS` when `parse` reads them: the exit status; else None (click's turn).

    Shell completion (click reads `_SSECHAT_COMPLETE`) is click's, whatever the arguments.
    """
    table = COMMANDS.get(args[0]) if args else None
    params = None if table is None or COMPLETE_VAR in os.environ else parse(table, args[1:])
    if table is None or params is None:
        return None
    for name in ENV_FLAGS:
        if params.pop(name, False):
            setattr(env, name, True)
    return table.run(env, params)
