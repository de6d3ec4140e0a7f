"""`ssechat send`: stream a chat request to a provider through the parse-sse pipeline."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ssechat.cli.common import (
    EXAMPLES_HEADING,
    Seconds,
    debug_option,
    flush_option,
    get_env,
    quiet_option,
)
from ssechat.cli.dialect_files import dialect_file_option, load_dialect_files
from ssechat.errors import ExitStatus
from ssechat.lines import FlushPolicy

if TYPE_CHECKING:
    from ssechat.send import Resume
    from ssechat.send_output import Mode
    from ssechat.transport.retry import Loop

EXAMPLES = """\
  ssechat send "Name three prime numbers" --text
  ssechat send -p anthropic --final --text "Summarise this:" < notes.txt
  SSECHAT_SEND_RETRIES=2 ssechat send --base-url http://127.0.0.1:8080/v1 --save cap.sse "hi"
"""

ENV_PREFIX = "SSECHAT_SEND_"
"""Every option's environment default: --idle-timeout is SSECHAT_SEND_IDLE_TIMEOUT."""

F = TypeVar("F", bound=Callable[..., Any])

# The rows of providers.PROVIDERS, named here so that `ssechat --version` does
# not import the request builders (tests/test_send.py checks they agree).
PROVIDER_NAMES = ("openai", "openai-responses", "anthropic", "coze", "gemini")


class _HeaderLines(click.types.StringParamType):
    """A -H value; from SSECHAT_SEND_HEADER, one header per line."""

    envvar_list_splitter = "\n"


def _seconds(name: str, default: float | None, help: str) -> Callable[[F], F]:
    return click.option(
        name,
        type=Seconds(),
        default=default,
        show_default=True if default is not None else "none",
        metavar="SECONDS",
        help=help,
    )


@click.command(
    "send",
    epilog=EXAMPLES_HEADING + EXAMPLES,
    short_help="Stream a chat request to a provider.",
)
@click.argument("prompt", nargs=-1)
@click.option(
    "-p",
    "--provider",
    type=click.Choice(PROVIDER_NAMES),
    default=lambda: get_env().environ.get("SSECHAT_PROVIDER") or "openai",
    show_default="openai, or SSECHAT_PROVIDER",
    help="The API to call. openai: any OpenAI-compatible server.",
)
@click.option("--base-url", metavar="URL", help="The API's base URL (default: the provider's).")
@click.option("-m", "--model", help="The model (default: the provider's, see the man page).")
@click.option("-s", "--system", help="The system prompt.")
@click.option("--max-tokens", type=click.IntRange(min=1), help="Cap the answer's length.")
@click.option(
    "--body",
    type=click.File("rb"),
    metavar="FILE|-",
    help="Send this JSON request body as given (streaming forced on).",
)
@click.option(
    "--tools", type=click.File("rb"), metavar="FILE", help="Function definitions (a JSON list)."
)
@click.option("--json", "json_mode", is_flag=True, help="Ask for a JSON object (JSON mode).")
@click.option(
    "--schema", type=click.File("rb"), metavar="FILE", help="Ask for JSON matching this schema."
)
@click.option(
    "--schema-strict/--no-schema-strict",
    default=True,
    show_default=True,
    help="openai, openai-responses: ask for strict adherence to --schema (OpenAI then "
    "refuses schemas without additionalProperties: false on every object).",
)
@click.option(
    "-H",
    "--header",
    "headers",
    multiple=True,
    type=_HeaderLines(),
    metavar="'NAME: VALUE'",
    help="An extra request header (repeatable; one per line in the variable).",
)
@click.option(
    "--background",
    is_flag=True,
    help="openai-responses: run in background mode, so that an interrupted stream "
    "continues where it stopped (see --resume).",
)
@click.option("--bot-id", help="coze: the bot to chat with.")
@click.option("--user-id", help="coze: the user id (default: ssechat).")
@click.option("--conversation-id", help="coze: continue this conversation.")
@click.option(
    "--no-auth",
    is_flag=True,
    help="Send no API key, for a server that needs none. A --base-url on this machine "
    "(localhost, 127.0.0.1, ::1) needs none anyway when no key is set.",
)
@click.option("--api-key-env", metavar="NAME", help="Read the API key from this variable.")
@click.option(
    "--api-key-file",
    type=click.Path(dir_okay=False),
    metavar="PATH",
    help="Read the API key from this file's first line.",
)
@click.option(
    "--api-key-cmd",
    metavar="CMD",
    help="Run CMD (no shell) and use the first line it prints as the API key.",
)
@click.option("--text", "text_mode", is_flag=True, help="Write only the answer text.")
@click.option("--events", "events_mode", is_flag=True, help="Write the plain SSE events.")
@click.option("--raw", "raw_mode", is_flag=True, help="Write the bytes exactly as received.")
@click.option(
    "--summary",
    "summary_mode",
    is_flag=True,
    help="Write one JSON object about the response (as parse-sse --summary), for CI checks.",
)
@click.option(
    "--final",
    is_flag=True,
    help="Write only the complete answer at the end (one JSON object; text with --text), "
    "or nothing if there is none.",
)
@click.option(
    "--save",
    type=click.Path(dir_okay=False, writable=True),
    metavar="FILE",
    help="Also save the response as a capture (status and timing annotations; mode 0600; "
    "a symbolic link is refused, not followed).",
)
@click.option(
    "--allow-truncated",
    is_flag=True,
    help="Accept a response cut off without its end marker (exit 0, no retry).",
)
@_seconds("--connect-timeout", 10.0, "The longest wait for the connection.")
@_seconds(
    "--first-event-timeout",
    300.0,
    "The longest wait from the request to the first event with content.",
)
@_seconds(
    "--idle-timeout",
    60.0,
    "The longest gap between two events with content (pings and comments do not count).",
)
@_seconds("--timeout", None, "The total deadline, retries included.")
@click.option(
    "--retries",
    type=click.IntRange(min=0),
    default=5,
    show_default=True,
    help="Retries after a failure that may pass (connection, timeout, 408/409/429/5xx, "
    "overload events).",
)
@_seconds("--backoff-base", 0.5, "Backoff: the first retry waits up to this (full jitter).")
@_seconds("--backoff-max", 30.0, "Backoff: no wait is longer than this.")
@_seconds(
    "--max-retry-wait",
    60.0,
    "Fail at once when the server's Retry-After asks for a longer wait.",
)
@click.option(
    "--resume",
    type=click.Choice(["auto", "restart", "off"]),
    default="auto",
    show_default=True,
    help="After output has begun: continue where possible (Last-Event-ID, an Anthropic "
    "prefill, a --background response), else restart (JSON and --final) or stop (--text, "
    "--raw) (auto); always restart; or give up (off).",
)
@dialect_file_option
@flush_option
@quiet_option
@debug_option
def send_cmd(prompt: tuple[str, ...], **opts: Any) -> int:
    """Send PROMPT (or stdin) to a provider and stream its answer.

    Text piped on stdin comes first, then PROMPT after a blank line (`ssechat
    send "Summarise this:" < notes.txt`); with no PROMPT, stdin is the prompt.
    Every option has a default from the environment, SSECHAT_SEND_<OPTION>
    (--idle-timeout: SSECHAT_SEND_IDLE_TIMEOUT; flags: 1 or 0).

    Writes the normalized JSON lines of parse-sse by default. The API key
    comes from OPENAI_API_KEY, ANTHROPIC_API_KEY, COZE_API_TOKEN or
    GEMINI_API_KEY (SSECHAT_API_KEY overrides them), or --api-key-env,
    --api-key-file, --api-key-cmd; never from the command line. Proxies and
    CA bundles come from HTTPS_PROXY, NO_PROXY, REQUESTS_CA_BUNDLE.
    """
    from ssechat import keys, send
    from ssechat.cli import send_request
    from ssechat.redact import redact_header

    mode, resume = _mode(opts)
    load_dialect_files(opts["dialect_files"])
    env = get_env()
    request, secrets = send_request.build(env, prompt, opts)
    redact = keys.Redactor(secrets)

    def notice(message: str) -> None:
        env.warn(f"ssechat: {redact(message)}")

    def log(message: str) -> None:
        env.error(f"ssechat: debug: {redact(message)}")

    if env.debug:  # the rule of replay --log-requests: secrets by name and by look
        for name, value in request.headers.items():
            log(f"> {name}: {redact_header(name, value)}")

    flush_each = FlushPolicy(opts["flush"]).flushes_each_event(input_is_regular_file=False)
    options = send.Options(
        mode=mode,
        final=opts["final"],
        resume=resume,
        save=opts["save"],
        flush_each=flush_each,
        allow_truncated=opts["allow_truncated"],
    )
    loop = _loop(opts, log if env.debug else None)
    send.run(loop, send.Session(request, options, env.stdout, notice, secrets))
    return ExitStatus.OK


def _mode(opts: dict[str, Any]) -> tuple[Mode, Resume]:
    """The output mode and --resume, refusing what cannot go together."""
    from ssechat.send import Resume
    from ssechat.send_output import Mode

    modes = [m for m in ("text_mode", "events_mode", "raw_mode", "summary_mode") if opts[m]]
    if len(modes) > 1:
        raise click.UsageError("use at most one of --text, --events, --raw and --summary")
    mode = {
        "text_mode": Mode.TEXT,
        "events_mode": Mode.EVENTS,
        "raw_mode": Mode.RAW,
        "summary_mode": Mode.SUMMARY,
    }.get(modes[0] if modes else "", Mode.JSON)
    if opts["final"] and mode not in (Mode.JSON, Mode.TEXT):
        raise click.UsageError("--final goes with the JSON output or --text only")
    resume = Resume(opts["resume"])
    restart = resume is Resume.RESTART
    if restart and mode in (Mode.TEXT, Mode.RAW) and not opts["final"]:
        raise click.UsageError(
            "--resume restart cannot be told apart in --text or --raw output; "
            "use the JSON output or --final"
        )
    return mode, resume


def _loop(opts: dict[str, Any], log: Callable[[str], None] | None) -> Loop:
    """The retry loop, with the policy and timeouts of the options."""
    from ssechat.transport.retry import Loop, RetryPolicy
    from ssechat.transport.stream import Timeouts

    policy = RetryPolicy(
        opts["retries"], opts["backoff_base"], opts["backoff_max"], opts["max_retry_wait"]
    )
    timeouts = Timeouts(
        opts["connect_timeout"],
        opts["first_event_timeout"],
        opts["idle_timeout"],
        opts["timeout"],
    )
    return Loop(policy, timeouts, log=log)


def _with_env_defaults(command: click.Command) -> click.Command:
    """Give every option its variable, ENV_PREFIX + the long name, shown in --help."""
    for param in command.params:
        if not isinstance(param, click.Option):
            continue
        long_name = max((o for o in param.opts if o.startswith("--")), key=len)
        param.envvar = ENV_PREFIX + long_name[2:].replace("-", "_").upper()
        param.show_envvar = True
    return command


_with_env_defaults(send_cmd)
