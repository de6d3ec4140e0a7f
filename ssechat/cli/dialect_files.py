"""`--dialect-file FILE`: the option parse-sse and send share, and its loading."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def dialect_file_option(function: F) -> F:
    """The `--dialect-file` option (repeatable), given to the command as `dialect_files`."""
    return click.option(
        "--dialect-file",
        "dialect_files",
        multiple=True,
        type=click.Path(dir_okay=False),
        help="Also read the format described in FILE (JSON; TOML on Python 3.11+): how to "
        "recognise it, where its text, reasoning, finish reason, usage and errors are, and "
        "what ends it (see README, examples/dialects/). Tried before the built-in dialects.",
    )(function)


def load_dialect_files(paths: tuple[str, ...]) -> None:
    """Load and register each file's dialect; UsageError (exit 2) for a bad one."""
    if not paths:
        return
    from ssechat import dialects
    from ssechat.dialects.description import load

    for path in paths:
        dialects.register(load(path))
