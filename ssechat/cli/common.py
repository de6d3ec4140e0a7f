"""What the click commands share: the group class, `get_env`, common options and types."""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from typing import Any, ClassVar, Final, TypeVar

import click

from ssechat.cli.environment import Environment, ReaderGone
from ssechat.errors import Interrupted

F = TypeVar("F", bound=Callable[..., Any])

# The values of ssechat.lines.FlushPolicy, spelled out so that defining the
# option does not import the writer (start-up time); a test keeps them equal.
FLUSH_POLICIES: Final = ("auto", "event", "never")

EXAMPLES_HEADING = "\b\nExamples:\n"


def get_env(ctx: click.Context | None = None) -> Environment:
    """The run's Environment: the one `main()` built, or a new one (click's test runner)."""
    return (ctx or click.get_current_context()).ensure_object(Environment)


class SsechatGroup(click.Group):
    """The ssechat group: commands loaded on first use; Ctrl-C and broken pipes intact.

    Each command's module is imported only when that command runs or help
    lists it, so `ssechat --version` and `parse-sse` do not pay for the
    imports of `send` (requests) or `replay` (http.server).

    click's own `main` turns KeyboardInterrupt into "Aborted!" with status 1
    and EPIPE into status 1; ssechat's contract is 130 and 0, so both are
    passed to `main()` as exceptions click does not handle.
    """

    def __init__(self, *args: Any, lazy_commands: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = lazy_commands  # name -> "module:attribute"

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_commands and cmd_name not in self.commands:
            module_name, attribute = self.lazy_commands[cmd_name].split(":")
            command = getattr(importlib.import_module(module_name), attribute)
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError as exc:
            raise ReaderGone() from exc
        except KeyboardInterrupt as exc:
            raise Interrupted() from exc


def _set_debug(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        get_env(ctx).debug = True


def debug_option(func: F) -> F:
    return click.option(
        "--debug",
        is_flag=True,
        expose_value=False,
        is_eager=True,
        callback=_set_debug,
        help="Show a traceback on errors (also SSECHAT_DEBUG=1).",
    )(func)


def _set_quiet(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        get_env(ctx).quiet = True


def quiet_option(func: F) -> F:
    """-q/--quiet: no notes or warnings on stderr (Environment.warn); errors still show."""
    return click.option(
        "-q",
        "--quiet",
        is_flag=True,
        expose_value=False,
        is_eager=True,
        callback=_set_quiet,
        help="Say nothing on stderr but errors: no warnings, notes or retry notices.",
    )(func)


def flush_option(func: F) -> F:
    return click.option(
        "--flush",
        type=click.Choice(FLUSH_POLICIES),
        default="auto",
        show_default=True,
        help="When to flush stdout: after every event (event), only at the end (never), "
        "or after every event unless the input is a regular file (auto).",
    )(func)


class ByteSize(click.ParamType):  # type: ignore[type-arg]
    """A size in bytes: 1048576, 64K, 16M, 1G (powers of 1024)."""

    name = "size"
    _UNITS: ClassVar[dict[str, int]] = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        match = re.fullmatch(r"\s*(\d+)\s*([KMG]?)(?:i?B)?\s*", str(value), re.IGNORECASE)
        if not match or int(match.group(1)) == 0:
            self.fail(f"{value!r} is not a size such as 65536, 64K, 16M or 1G", param, ctx)
        return int(match.group(1)) * self._UNITS[match.group(2).upper()]


MAX_SECONDS: Final = 1e7  # about 115 days: longer is a typo, and overflows the clocks


class Seconds(click.ParamType):  # type: ignore[type-arg]
    """A finite number of seconds (or a factor), > 0, or >= 0 with `zero_ok`; not nan or inf."""

    name = "seconds"

    def __init__(self, *, zero_ok: bool = False, maximum: float = MAX_SECONDS) -> None:
        self.zero_ok = zero_ok
        self.maximum = maximum

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        low_ok = number >= 0 if self.zero_ok else number > 0
        if not (low_ok and number <= self.maximum):  # false for nan too
            low = ">= 0" if self.zero_ok else "> 0"
            self.fail(f"{value!r} is not a finite number {low} and <= {self.maximum:g}", param, ctx)
        return number
