"""What the commands share: the I/O environment, the group class, common options and types."""

from __future__ import annotations

import importlib
import os
import re
import sys
from collections.abc import Callable, Mapping
from typing import IO, Any, ClassVar, Final, TextIO, TypeVar

import click

from ssechat.errors import Interrupted

F = TypeVar("F", bound=Callable[..., Any])

# The values of ssechat.normalized.FlushPolicy, spelled out so that defining the
# option does not import the writer (start-up time); a test keeps them equal.
FLUSH_POLICIES: Final = ("auto", "event", "never")

EXAMPLES_HEADING = "\b\nExamples:\n"

# Messages carry text from the input (a provider's error message, a stream's
# error code, a request path): its control characters must neither drive the
# terminal (escape sequences) nor break the one-line rule, so every stderr
# line is shown escaped (line ends as spaces).
ONE_LINE: Final = {
    code: " " if code in (9, 10, 13) else f"\\x{code:02x}"
    for code in (*range(0x20), *range(0x7F, 0xA0))
}


def _isatty(stream: IO[Any]) -> bool:
    try:
        return stream.isatty()
    except (OSError, ValueError, AttributeError):
        return False


class Environment:
    """The process's streams and settings, built once per run and passed down.

    As httpie's `Environment`: `main()` builds one and hands it to click as
    `ctx.obj`; every command reads and writes through it (`get_env`), never
    through `sys.std*` or click's stream getters, so a test can give its own
    streams (`Environment(stdout=io.BytesIO())`). `debug` is set by --debug or
    SSECHAT_DEBUG=1; `quiet` (-q) silences notes and warnings, never errors.
    """

    def __init__(
        self,
        *,
        stdin: IO[bytes] | None = None,
        stdout: IO[bytes] | None = None,
        stderr: IO[bytes] | None = None,
        stdin_text: TextIO | None = None,
        stdout_text: TextIO | None = None,
        stderr_text: TextIO | None = None,
        environ: Mapping[str, str] | None = None,
        debug: bool | None = None,
        quiet: bool = False,
    ) -> None:
        environ = os.environ if environ is None else environ
        self.environ: Mapping[str, str] = environ
        self.stdin_text: TextIO = sys.stdin if stdin_text is None else stdin_text
        self.stdout_text: TextIO = sys.stdout if stdout_text is None else stdout_text
        self.stderr_text: TextIO = sys.stderr if stderr_text is None else stderr_text
        self.stdin: IO[bytes] = self.stdin_text.buffer if stdin is None else stdin
        self.stdout: IO[bytes] = self.stdout_text.buffer if stdout is None else stdout
        self.stderr: IO[bytes] = self.stderr_text.buffer if stderr is None else stderr
        self.stdin_isatty = _isatty(self.stdin)
        self.stdout_isatty = _isatty(self.stdout)
        self.stderr_isatty = _isatty(self.stderr)
        if debug is None:
            debug = environ.get("SSECHAT_DEBUG", "") not in ("", "0")
        self.debug = debug
        self.quiet = quiet

    def error(self, message: str) -> None:
        """One line on stderr, whatever --quiet says."""
        self._line(message)

    def warn(self, message: str) -> None:
        """A note or warning on stderr, unless --quiet."""
        if not self.quiet:
            self._line(message)

    def _line(self, message: str) -> None:
        click.echo(message.translate(ONE_LINE), file=self.stderr_text)


def get_env(ctx: click.Context | None = None) -> Environment:
    """The run's Environment: the one `main()` built, or a new one (click's test runner)."""
    return (ctx or click.get_current_context()).ensure_object(Environment)


class ReaderGone(Exception):
    """stdout's reader closed the pipe; raised past click, which would exit 1."""


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
