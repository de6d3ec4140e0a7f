"""The command line's entry point, `main()`; the click group is in `group.py`.

This package is the only place that imports click. It parses options, wires
the pipeline of the core modules and maps errors to exit statuses; no
protocol logic lives here. `main()` owns what the user sees when things go
wrong: one line on stderr, the exit status of `ssechat.errors.ExitStatus`,
and a traceback only with `--debug` (or SSECHAT_DEBUG=1). It imports click
only when it runs the group: `parse-sse` and `repair-json` with plain
arguments run without it (`plain_argv.py`).
"""

from __future__ import annotations

import errno
import gc
import os
import signal
import sys
from types import FrameType
from typing import TYPE_CHECKING, Any

from ssechat.cli.environment import Environment, ReaderGone
from ssechat.errors import ExitStatus, Interrupted, SsechatError

if TYPE_CHECKING:
    import click


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise Interrupted("terminated")


def _quiet_stdout(env: Environment) -> None:
    """The reader went away: send what is left of stdout to /dev/null (CPython's recipe)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, env.stdout.fileno())
    except (OSError, ValueError):
        pass


def _print_traceback(env: Environment) -> None:
    import traceback  # only with --debug: it costs start-up time to import

    traceback.print_exc(file=env.stderr_text)


def _usage_message(exc: click.ClickException) -> str:
    """click's error as one line (click's own is a 3-4 line block), with where to look."""
    import click

    message = exc.format_message()
    ctx = getattr(exc, "ctx", None)
    if isinstance(exc, click.UsageError) and ctx is not None:
        message += f" (see '{ctx.command_path} --help')"
    return message


def _error(env: Environment, message: str) -> None:
    env.error(f"ssechat: {message}")  # escaped to one line by env


def _reopen_closed_std_streams() -> None:
    """`ssechat ... <&-` (cron, daemons) starts with fd 0, 1 or 2 closed.

    Python then has no sys.stdin (or stdout, stderr), and the next file
    opened (a --save capture) would take the free descriptor. Each closed
    one is opened on /dev/null: a closed stdin reads as empty input. A closed
    stdout is opened read-only, so that writing to it fails (EBADF) as cat's
    does, instead of the output vanishing with exit 0.
    """
    for fd, name, mode in ((0, "stdin", "r"), (1, "stdout", "w"), (2, "stderr", "w")):
        if getattr(sys, name) is None:
            try:
                os.fstat(fd)
            except OSError:
                flags = os.O_RDONLY if mode == "r" or fd == 1 else os.O_WRONLY
                null = os.open(os.devnull, flags)
                if null != fd:
                    os.dup2(null, fd)
                    os.close(null)
            setattr(sys, name, open(fd, mode, encoding="utf-8", closefd=False))  # noqa: SIM115


def main(argv: list[str] | None = None, env: Environment | None = None) -> int:
    """Run ssechat; returns the exit status (the console script exits with it).

    `env` (the process's streams and settings) is built here once unless given.
    """
    # Streams allocate millions of short-lived tuples and dicts that reference
    # counting frees at once; the cyclic collector would rescan every module
    # object on each of its frequent young passes. Freeze what start-up made
    # and let the young generation grow before a pass (memory stays bounded
    # by the event bound: none of this garbage is cyclic).
    gc.freeze()
    gc.set_threshold(20_000, 50, 50)
    signal.signal(signal.SIGTERM, _on_sigterm)
    _reopen_closed_std_streams()
    if env is None:
        env = Environment()
    try:
        try:
            status = _run(argv, env)
        finally:
            env.stdout_text.flush()  # inside the try, so EPIPE/ENOSPC is reported here
            env.stdout.flush()
    except (Exception, KeyboardInterrupt) as exc:
        status = _failure(env, exc)
    # The process ends with the command: what it made (click, the command's
    # modules, the last read's objects) goes with it, and need not be scanned
    # by the collection Python runs at exit (0.5-3 ms of start-up time).
    gc.freeze()
    return int(status or 0)


def _run(argv: list[str] | None, env: Environment) -> Any:
    """The command's exit status: plain forms of parse-sse and repair-json without click."""
    from ssechat.cli.plain_argv import run_without_click

    status = run_without_click(sys.argv[1:] if argv is None else argv, env)
    if status is not None:
        return status
    from ssechat.cli.group import cli

    return cli.main(argv, prog_name="ssechat", standalone_mode=False, obj=env)


def _failure(env: Environment, exc: BaseException) -> int:
    """Say what went wrong in one line (a traceback with --debug); the exit status."""
    status = _click_failure(env, exc)
    if status is not None:
        return status
    if isinstance(exc, (KeyboardInterrupt, Interrupted)):
        return _interrupted(env, exc)
    if isinstance(exc, (BrokenPipeError, ReaderGone)):
        # The reader of our stdout has gone (`| head`): not an error of ours.
        _quiet_stdout(env)
        return ExitStatus.OK
    if env.debug:
        _print_traceback(env)
    if isinstance(exc, SsechatError):
        _error(env, f"error: {exc}")
        return exc.exit_status
    if isinstance(exc, OSError):
        return _os_error(env, exc)
    # the last line of defence: a bug, said in one line
    _error(env, f"internal error: {type(exc).__name__}: {exc} (re-run with --debug for details)")
    return ExitStatus.INTERNAL_ERROR


def _click_failure(env: Environment, exc: BaseException) -> int | None:
    """The status for click's own exceptions; None for others, or when click never loaded."""
    if "click" not in sys.modules:
        return None
    import click

    if isinstance(exc, click.exceptions.Exit):
        return exc.exit_code
    if isinstance(exc, click.ClickException):
        _error(env, f"error: {_usage_message(exc)}")
        return exc.exit_code
    if isinstance(exc, click.exceptions.Abort):
        return _interrupted(env, exc)
    return None


def _interrupted(env: Environment, exc: BaseException) -> int:
    reason = str(exc) if isinstance(exc, Interrupted) and str(exc) else "interrupted"
    _error(env, reason)
    return ExitStatus.INTERRUPTED


def _os_error(env: Environment, exc: OSError) -> int:
    where = f": {exc.filename}" if exc.filename else ""
    if exc.errno == errno.EBADF and not where:
        where = ": stdout"  # a closed stdout (`>&-`): cat says "write error"
    _error(env, f"error: {exc.strerror or exc}{where}")
    # stdout was flushed above: what is still pending could not be written
    # (a full disk). Without this, Python's own flush at exit fails again
    # and prints "Exception ignored ... OSError" and exits 120.
    _quiet_stdout(env)
    return ExitStatus.INTERNAL_ERROR
