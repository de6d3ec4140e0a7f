"""`ssechat replay`: a saved capture to stdout with its timing, or served over HTTP."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import TYPE_CHECKING

import click

from ssechat.cli.common import (
    EXAMPLES_HEADING,
    Seconds,
    debug_option,
    get_env,
    quiet_option,
)
from ssechat.cli.environment import Environment
from ssechat.errors import ExitStatus, UsageError

if TYPE_CHECKING:
    from ssechat.capture import Capture
    from ssechat.replay.server import ServerConfig
    from ssechat.replay.timing import Timing

EXAMPLES = """\
  ssechat replay capture.sse --speed 10 | ssechat parse-sse --text
  ssechat replay ok.sse --serve 127.0.0.1:0 --fault status=429,retry-after=2
  ssechat replay ok.sse --serve 8080 --fault drop-after=3 --log-requests req.jsonl
"""

_stderr_lock = threading.Lock()


def _logger(env: Environment) -> Callable[[str], None]:
    """One stderr line per request; the lock keeps lines from handler threads whole."""

    def log(line: str) -> None:
        with _stderr_lock:
            try:
                env.warn(f"ssechat: replay: {line}")
            except (OSError, ValueError):
                pass  # stderr is gone: keep serving, the log line is only a courtesy

    return log


@click.command(
    "replay",
    epilog=EXAMPLES_HEADING + EXAMPLES,
    short_help="Play a capture back, to stdout or as a local HTTP server.",
)
@click.argument(
    "files",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, dir_okay=False, allow_dash=True),
)
@click.option(
    "--speed",
    type=Seconds(),
    default=1.0,
    show_default=True,
    help="Play this many times faster (0.5: twice as slow).",
)
@click.option(
    "--delay",
    type=Seconds(zero_ok=True),
    default=None,
    metavar="SECONDS",
    help="Seconds between events, instead of the recorded times "
    "(captures without `: t=` annotations play with no delay by default).",
)
@click.option("--no-delay", is_flag=True, help="Play at full speed, with no waits at all.")
@click.option(
    "--serve",
    metavar="[HOST:]PORT",
    default=None,
    help="Serve the captures over HTTP instead (port 0: a free port; host: 127.0.0.1). "
    "The base URL is the first line of stdout; request i gets capture i, the last repeats.",
)
@click.option(
    "--count",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="With --serve: exit after N requests have been handled.",
)
@click.option(
    "--log-requests",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    metavar="FILE",
    help="With --serve: write each request (method, path, headers with secrets redacted, "
    "JSON body) as a JSON line to FILE (mode 0600).",
)
@click.option(
    "--fault",
    "faults",
    multiple=True,
    metavar="SPEC",
    help="With --serve: inject a fault into the first requests (see Faults above).",
)
@click.option(
    "--fault-requests",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    metavar="K",
    help="With --serve: how many requests, from the first, get the fault.",
)
@click.option(
    "--read-timeout",
    type=Seconds(),
    default=30.0,
    show_default=True,
    metavar="SECONDS",
    help="With --serve: close a connection that sends nothing (or takes nothing) this long.",
)
@quiet_option
@debug_option
def replay_cmd(
    files: tuple[str, ...],
    speed: float,
    delay: float | None,
    no_delay: bool,
    serve: str | None,
    count: int | None,
    log_requests: str | None,
    faults: tuple[str, ...],
    fault_requests: int,
    read_timeout: float,
) -> int:
    """Play saved SSE captures back, with their timing.

    Writes each FILE to stdout as the server sent it (ssechat's `: t=` and
    `: ssechat-capture` annotations are left out, other comments kept), at
    the recorded times, flushing after every event. With --serve, answers
    any GET or POST with the capture as a chunked text/event-stream (or the
    recorded error status) until --count requests are done, SIGTERM (exit
    0) or Ctrl-C (exit 130).

    \b
    Faults (--fault SPEC: KEY=VALUE pairs, comma-separated; repeatable, combined):
      status=CODE[,retry-after=S]   answer CODE (300-599) with a JSON error body
      drop-after=N[,how=reset|eof]  after N events, reset the connection (default)
                                    or close it without ending the chunked body
      stall-after=N[,for=S]         after N events send nothing for S seconds
                                    (default: until the client gives up)
      garbage-after=N               after N events send bytes that are not SSE,
                                    then end the response
      slow=BYTES_PER_S              trickle the body at this rate
    """
    from ssechat.replay.timing import Timing, replay_to_stream

    env = get_env()
    timing = Timing(speed=speed, delay=delay, no_delay=no_delay)
    if serve is None:
        _only_with_serve(("--count", count), ("--log-requests", log_requests), ("--fault", faults))
        replay_to_stream(_captures(files, timing), env.stdout, timing)
        return ExitStatus.OK

    from ssechat.replay.faults import parse_faults
    from ssechat.replay.server import ServerConfig, parse_listen

    host, port = parse_listen(serve)
    config = ServerConfig(
        captures=list(_captures(files, timing)),
        names=list(files),
        timing=timing,
        fault=parse_faults(faults),
        fault_requests=fault_requests,
        count=count,
        log_requests=log_requests,
        log=_logger(env),
        read_timeout=read_timeout,
    )
    _serve(host, port, config)
    return ExitStatus.OK


def _only_with_serve(*options: tuple[str, object]) -> None:
    """UsageError naming the server's options given without --serve."""
    used = [name for name, value in options if value is not None and value != ()]
    if used:
        raise UsageError(f"{', '.join(used)} only make sense with --serve")


def _captures(files: tuple[str, ...], timing: Timing) -> Iterator[Capture]:
    """Each capture in turn, read when its turn comes; checked against `timing`."""
    from ssechat.capture import read_capture

    stdin = get_env().stdin
    return (timing.checked(read_capture(name, stdin=stdin), name) for name in files)


def _serve(host: str, port: int, config: ServerConfig) -> None:
    """Serve until --count requests are done or SIGTERM; the base URL first on stdout."""
    from ssechat.replay.server import ReplayServer

    env = get_env()
    server = ReplayServer(host, port, config)
    click.echo(server.url, file=env.stdout_text)
    env.stdout_text.flush()

    def stop(signum: int, frame: FrameType | None) -> None:
        server.stop()  # SIGTERM is how a server is asked to stop: exit 0

    signal.signal(signal.SIGTERM, stop)
    server.run()
