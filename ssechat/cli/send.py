"""`ssechat send`: stream a chat request to a provider through the parse-sse pipeline."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any, TypeVar

import click

from ssechat.cli.common import (
    EXAMPLES_HEADING,
    Environment,
    Seconds,
    debug_option,
    flush_option,
    get_env,
)
from ssechat.cli.dialect_files import dialect_file_option, load_dialect_files
from ssechat.errors import ExitStatus, UsageError
from ssechat.normalized import FlushPolicy

EXAMPLES = """\
  ssechat send "Name three prime numbers" --text
  echo "Summarise: $(cat notes.txt)" | ssechat send -p anthropic --final --text
  ssechat send --base-url http://127.0.0.1:8080/v1 --save cap.sse --retries 2 "hi" | jq -c .
"""

# The rows of providers.PROVIDERS, named here so that `ssechat --version` does
# not import the request builders (tests/test_send.py checks they agree).
F = TypeVar("F", bound=Callable[..., Any])

PROVIDER_NAMES = ("openai", "openai-responses", "anthropic", "coze", "gemini")


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
    default="openai",
    show_default=True,
    envvar="SSECHAT_PROVIDER",
    help="The API to call (also SSECHAT_PROVIDER). openai: any OpenAI-compatible server.",
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
    "-H",
    "--header",
    "headers",
    multiple=True,
    metavar="'NAME: VALUE'",
    help="An extra request header (repeatable).",
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
    help="Also save the response as a capture (status and timing annotations; mode 0600).",
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
@debug_option
def send_cmd(prompt: tuple[str, ...], **opts: Any) -> int:
    """Send PROMPT (or stdin) to a provider and stream its answer.

    Writes the normalized JSON lines of parse-sse by default. The API key
    comes from OPENAI_API_KEY, ANTHROPIC_API_KEY, COZE_API_TOKEN or
    GEMINI_API_KEY (SSECHAT_API_KEY overrides them), or --api-key-env,
    --api-key-file, --api-key-cmd; never from the command line. Proxies and
    CA bundles come from HTTPS_PROXY, NO_PROXY, REQUESTS_CA_BUNDLE.
    """
    from ssechat import keys, providers, send
    from ssechat.redact import redact_header

    modes = [m for m in ("text_mode", "events_mode", "raw_mode", "summary_mode") if opts[m]]
    if len(modes) > 1:
        raise click.UsageError("use at most one of --text, --events, --raw and --summary")
    mode = {
        "text_mode": send.Mode.TEXT,
        "events_mode": send.Mode.EVENTS,
        "raw_mode": send.Mode.RAW,
        "summary_mode": send.Mode.SUMMARY,
    }.get(modes[0] if modes else "", send.Mode.JSON)
    if opts["final"] and mode not in (send.Mode.JSON, send.Mode.TEXT):
        raise click.UsageError("--final goes with the JSON output or --text only")
    resume = send.Resume(opts["resume"])
    restart = resume is send.Resume.RESTART
    if restart and mode in (send.Mode.TEXT, send.Mode.RAW) and not opts["final"]:
        raise click.UsageError(
            "--resume restart cannot be told apart in --text or --raw output; "
            "use the JSON output or --final"
        )

    load_dialect_files(opts["dialect_files"])
    env = get_env()
    prompt_obj = _prompt(env, prompt, opts)
    provider = providers.PROVIDERS[opts["provider"]]
    key = keys.resolve_key(
        provider.key_env,
        keys.KeySource(opts["api_key_env"], opts["api_key_file"], opts["api_key_cmd"]),
    )
    headers = tuple(providers.parse_header(h) for h in opts["headers"])
    request = providers.build_request(
        provider.name,
        prompt_obj,
        key,
        base_url=providers.base_url_for(provider, opts["base_url"], os.environ),
        headers=headers,
    )
    # -H values named as secrets (X-Access-Code, Cookie) are kept out of output as the key is.
    secrets = [key, *(value for name, value in headers if redact_header(name, value) != value)]
    redact = keys.Redactor(secrets)

    def notice(message: str) -> None:
        env.warn(f"ssechat: {redact(message)}")

    def log(message: str) -> None:
        env.error(f"ssechat: debug: {redact(message)}")

    if env.debug:  # the rule of replay --log-requests: secrets by name and by look
        for name, value in request.headers.items():
            log(f"> {name}: {redact_header(name, value)}")

    out = env.stdout
    flush_each = FlushPolicy(opts["flush"]).flushes_each_event(input_is_regular_file=False)
    options = send.Options(
        mode=mode,
        final=opts["final"],
        resume=resume,
        save=opts["save"],
        flush_each=flush_each,
        allow_truncated=opts["allow_truncated"],
    )
    from ssechat.transport import Loop, RetryPolicy, Timeouts

    loop = Loop(
        RetryPolicy(
            opts["retries"], opts["backoff_base"], opts["backoff_max"], opts["max_retry_wait"]
        ),
        Timeouts(
            opts["connect_timeout"],
            opts["first_event_timeout"],
            opts["idle_timeout"],
            opts["timeout"],
        ),
        log=log if env.debug else None,
        redact=redact,
    )
    session = send.Session(request, options, out, notice, secrets)
    send.run(loop, session)
    return ExitStatus.OK


def _read_json(handle: Any, option: str) -> Any:
    try:
        return json.loads(handle.read())
    except (ValueError, UnicodeDecodeError) as exc:
        raise UsageError(f"{option}: not valid JSON ({exc})") from None


def _prompt(env: Environment, words: tuple[str, ...], opts: dict[str, Any]) -> Any:
    """The prompt (a providers.Prompt) from the arguments, or stdin when it is not a terminal."""
    from ssechat import providers

    body = _read_json(opts["body"], "--body") if opts["body"] else None
    if body is not None and not isinstance(body, dict):
        raise UsageError("--body: expected a JSON object")
    text: str | None = " ".join(words) if words else None
    if body is not None:
        shaping = [
            name
            for name, given in (
                ("a prompt", text is not None),
                ("--system", opts["system"]),
                ("--tools", opts["tools"]),
                ("--json", opts["json_mode"]),
                ("--schema", opts["schema"]),
                ("--max-tokens", opts["max_tokens"]),
            )
            if given
        ]
        if shaping:
            raise click.UsageError(f"--body sends the body as given: drop {', '.join(shaping)}")
    elif text is None:
        if env.stdin_isatty:
            raise click.UsageError("no prompt: give it as arguments or on stdin")
        text = env.stdin.read().decode("utf-8", "replace")
        if text.endswith("\n"):
            text = text[:-1]
        if not text.strip():
            raise click.UsageError("no prompt: stdin was empty")
    schema = _read_json(opts["schema"], "--schema") if opts["schema"] else None
    if schema is not None and not isinstance(schema, dict):
        raise UsageError("--schema: expected a JSON object (a JSON schema)")
    tools = providers.parse_tools(_read_json(opts["tools"], "--tools")) if opts["tools"] else ()
    return providers.Prompt(
        text=text,
        system=opts["system"],
        model=opts["model"],
        tools=tools,
        json_mode=opts["json_mode"],
        schema=schema,
        max_tokens=opts["max_tokens"],
        body=body,
        background=opts["background"],
        bot_id=opts["bot_id"],
        user_id=opts["user_id"],
        conversation_id=opts["conversation_id"],
    )
