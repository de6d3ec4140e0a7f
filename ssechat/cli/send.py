"""`ssechat send`: stream a chat request to a provider through the parse-sse pipeline."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from typing import Any, TypeVar

import click

from ssechat import jsonload
from ssechat.cli.common import (
    EXAMPLES_HEADING,
    Environment,
    Seconds,
    debug_option,
    flush_option,
    get_env,
    quiet_option,
)
from ssechat.cli.dialect_files import dialect_file_option, load_dialect_files
from ssechat.errors import ExitStatus, UsageError
from ssechat.normalized import FlushPolicy

EXAMPLES = """\
  ssechat send "Name three prime numbers" --text
  ssechat send -p anthropic --final --text "Summarise this:" < notes.txt
  SSECHAT_SEND_RETRIES=2 ssechat send --base-url http://127.0.0.1:8080/v1 --save cap.sse "hi"
"""

ENV_PREFIX = "SSECHAT_SEND_"
"""Every option's environment default: --idle-timeout is SSECHAT_SEND_IDLE_TIMEOUT."""

# The rows of providers.PROVIDERS, named here so that `ssechat --version` does
# not import the request builders (tests/test_send.py checks they agree).
F = TypeVar("F", bound=Callable[..., Any])

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
    base_url = providers.base_url_for(provider, opts["base_url"], env.environ)
    key = _key(provider, base_url, opts, env)
    headers = tuple(providers.parse_header(h) for h in opts["headers"])
    request = providers.build_request(
        provider.name,
        prompt_obj,
        key,
        base_url=base_url,
        headers=headers,
    )
    # -H values named as secrets (X-Access-Code, Cookie) are kept out of output as the key is.
    secrets = [value for name, value in headers if redact_header(name, value) != value]
    if key is not None:
        secrets.insert(0, key)
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
    from ssechat.transport.retry import Loop, RetryPolicy
    from ssechat.transport.stream import Timeouts

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


def _key(provider: Any, base_url: str, opts: dict[str, Any], env: Environment) -> str | None:
    """The API key, or None: --no-auth, or a server on this machine with no key set."""
    from ssechat import keys, providers

    source = keys.KeySource(opts["api_key_env"], opts["api_key_file"], opts["api_key_cmd"])
    given = [o for o in ("api_key_env", "api_key_file", "api_key_cmd") if opts[o]]
    if opts["no_auth"]:
        if given:
            names = ", ".join("--" + o.replace("_", "-") for o in given)
            raise click.UsageError(f"--no-auth sends no key: drop {names}")
        return None
    try:
        return keys.resolve_key(provider.key_env, source, env.environ)
    except keys.MissingKey:  # a key that is set but malformed is refused, never dropped
        if given or not providers.is_loopback(base_url):
            raise
        return None  # a local server (llama.cpp, vLLM, Ollama): no key was set, none is sent


def _read_json(handle: Any, option: str) -> Any:
    try:
        return jsonload.loads(handle.read())  # too deep: invalid, exit 2
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
        text = _read_stdin(env)
        if not text.strip():
            raise click.UsageError("no prompt: stdin was empty")
    elif _piped(env):
        piped = _read_stdin(env)
        if piped.strip():
            text = f"{piped}\n\n{text}"  # as llm and sgpt: the piped text, then the words
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
        schema_strict=opts["schema_strict"],
        max_tokens=opts["max_tokens"],
        body=body,
        background=opts["background"],
        bot_id=opts["bot_id"],
        user_id=opts["user_id"],
        conversation_id=opts["conversation_id"],
    )


def _read_stdin(env: Environment) -> str:
    text = env.stdin.read().decode("utf-8", "replace")
    return text[:-1] if text.endswith("\n") else text


def _piped(env: Environment) -> bool:
    """stdin is a pipe or a file (not a terminal, /dev/null or a socket left open)."""
    if env.stdin_isatty:
        return False
    try:
        mode = os.fstat(env.stdin.fileno()).st_mode
    except (OSError, ValueError, AttributeError):
        return True  # an in-memory stream, as click's test runner gives
    return stat.S_ISFIFO(mode) or stat.S_ISREG(mode)


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
