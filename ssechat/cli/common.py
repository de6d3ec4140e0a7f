"""What the commands share: the group class, common options and parameter types."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import click

from ssechat.errors import Interrupted
from ssechat.events import FlushPolicy

F = TypeVar("F", bound=Callable[..., Any])

EXAMPLES_HEADING = "\b\nExamples:\n"


@dataclass
class _State:
    debug: bool = False


state = _State()


class ReaderGone(Exception):
    """stdout's reader closed the pipe; raised past click, which would exit 1."""


class SsechatGroup(click.Group):
    """A group whose commands' Ctrl-C and broken pipes reach `main()` intact.

    click's own `main` turns KeyboardInterrupt into "Aborted!" with status 1
    and EPIPE into status 1; ssechat's contract is 130 and 0.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError as exc:
            raise ReaderGone() from exc
        except KeyboardInterrupt as exc:
            raise Interrupted() from exc


def _set_debug(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        state.debug = True


def debug_option(func: F) -> F:
    return click.option(
        "--debug",
        is_flag=True,
        expose_value=False,
        is_eager=True,
        callback=_set_debug,
        help="Show a traceback on errors (also SSECHAT_DEBUG=1).",
    )(func)


def flush_option(func: F) -> F:
    return click.option(
        "--flush",
        type=click.Choice([p.value for p in FlushPolicy]),
        default=FlushPolicy.AUTO.value,
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
