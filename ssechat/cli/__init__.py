"""The command line: the click group, its four commands, and the entry point.

This package is the only place that imports click. It parses options, wires
the pipeline of the core modules and maps errors to exit statuses; no
protocol logic lives here. `main()` owns what the user sees when things go
wrong: one line on stderr, the exit status of `ssechat.errors.ExitStatus`,
and a traceback only with `--debug` (or SSECHAT_DEBUG=1).
"""

from __future__ import annotations

import os
import signal
import sys
import traceback
from types import FrameType
from typing import Any

import click

from ssechat import __version__
from ssechat.cli.common import EXAMPLES_HEADING, ReaderGone, SsechatGroup, debug_option, state
from ssechat.cli.parse_sse import parse_sse_cmd
from ssechat.cli.repair_json import repair_json_cmd
from ssechat.cli.replay import replay_cmd
from ssechat.cli.send import send_cmd
from ssechat.errors import ExitStatus, Interrupted, SsechatError

ROOT_EXAMPLES = """\
  ssechat parse-sse examples/openai-tool-call.sse
  curl -sN "$URL" -d @body.json | ssechat parse-sse --text
  ssechat parse-sse --events capture.sse | jq -r .data
"""


@click.group(
    cls=SsechatGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog=EXAMPLES_HEADING + ROOT_EXAMPLES,
)
@click.version_option(__version__, "-V", "--version", prog_name="ssechat")
@debug_option
def cli() -> None:
    """Stream LLM responses over Server-Sent Events, Unix-pipe style.

    Every command writes data to stdout and messages to stderr, and exits
    with a documented status (see `man ssechat`).
    """


cli.add_command(parse_sse_cmd)
cli.add_command(repair_json_cmd)
cli.add_command(replay_cmd)
cli.add_command(send_cmd)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise Interrupted("terminated")


def _quiet_stdout() -> None:
    """The reader went away: send what is left of stdout to /dev/null (CPython's recipe)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _error(message: str) -> None:
    click.echo(f"ssechat: {message}", err=True)


def main(argv: list[str] | None = None) -> int:
    """Run ssechat; returns the exit status (the console script exits with it)."""
    state.debug = os.environ.get("SSECHAT_DEBUG", "") not in ("", "0")
    signal.signal(signal.SIGTERM, _on_sigterm)
    status: Any = ExitStatus.OK
    try:
        try:
            status = cli.main(argv, prog_name="ssechat", standalone_mode=False)
        finally:
            sys.stdout.flush()  # inside the try, so EPIPE/ENOSPC is reported here
    except click.exceptions.Exit as exc:
        status = exc.exit_code
    except click.ClickException as exc:
        exc.show()
        status = exc.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt, Interrupted) as exc:
        reason = str(exc) if isinstance(exc, Interrupted) and str(exc) else "interrupted"
        _error(reason)
        status = ExitStatus.INTERRUPTED
    except (BrokenPipeError, ReaderGone):
        # The reader of our stdout has gone (`| head`): not an error of ours.
        _quiet_stdout()
        status = ExitStatus.OK
    except SsechatError as exc:
        if state.debug:
            traceback.print_exc()
        _error(f"error: {exc}")
        status = exc.exit_status
    except OSError as exc:
        if state.debug:
            traceback.print_exc()
        _error(f"error: {exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""))
        status = ExitStatus.INTERNAL_ERROR
    except Exception as exc:  # the last line of defence: a bug, said in one line
        if state.debug:
            traceback.print_exc()
        _error(f"internal error: {type(exc).__name__}: {exc} (re-run with --debug for details)")
        status = ExitStatus.INTERNAL_ERROR
    return int(status or 0)
