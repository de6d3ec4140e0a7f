"""What test_plain_argv.py and test_repair_argv.py share: argument lists, readings, streams.

Each command's fast reading (ssechat/cli/plain_argv.py, its table) is set
against click's reading of the same argument list.
"""

from __future__ import annotations

import io
from typing import Any

import click
from hypothesis import strategies as st

from ssechat.cli import plain_argv
from ssechat.cli.environment import Environment


@st.composite
def argument_lists(
    draw: st.DrawFn,
    flags: list[str],
    values: dict[str, list[str]],
    files: list[str],
    junk: list[str],
    most_files: int,
) -> list[str]:
    """Mostly what a user types (each option once, in any order), now and then not."""
    names = draw(st.lists(st.sampled_from([*flags, *values]), unique=True, max_size=6))
    args: list[str] = []
    for name in names:
        if name in flags:
            args.append(name)
            continue
        value = draw(st.sampled_from(values[name]))
        args += draw(st.sampled_from([[name, value], [f"{name}={value}"]]))
    for _ in range(draw(st.integers(0, most_files))):
        args.insert(draw(st.integers(0, len(args))), draw(st.sampled_from(files)))
    if draw(st.integers(0, 4)) == 0:
        args.insert(draw(st.integers(0, len(args))), draw(st.sampled_from(junk)))
    return args


def memory_env(stdin: bytes = b"") -> tuple[Environment, io.BytesIO, io.BytesIO]:
    """An Environment over in-memory streams, and its stdout and stderr bytes."""
    out, err = io.BytesIO(), io.BytesIO()
    env = Environment(
        stdin=io.BytesIO(stdin),
        stdout=out,
        stderr=err,
        stdin_text=io.StringIO(),
        stdout_text=io.TextIOWrapper(out, encoding="utf-8", write_through=True),
        stderr_text=io.TextIOWrapper(err, encoding="utf-8", write_through=True),
        environ={},
    )
    return env, out, err


def click_reading(command: click.Command, args: list[str]) -> dict[str, Any] | None:
    """What click makes of `COMMAND ARGS`: the parameters and the -q/--debug flags."""
    env, _, _ = memory_env()
    try:
        ctx = command.make_context(command.name or "", list(args), obj=env)
    except (click.exceptions.Exit, click.ClickException):
        return None
    return {"params": ctx.params, "quiet": env.quiet, "debug": env.debug}


def fast_reading(table: plain_argv.Table, args: list[str]) -> dict[str, Any] | None:
    """What plain_argv makes of them, in the same shape (parameters click left unset absent)."""
    params = plain_argv.parse(table, args)
    if params is None:
        return None
    flags = {name: params.pop(name, False) for name in plain_argv.ENV_FLAGS}
    return {"params": params, **flags}
