"""The request of `ssechat send`, from its options: the prompt, the key, the headers.

The prompt comes from the arguments, stdin (piped text first, then the
words) or `--body` (sent as given: nothing may shape it); the key from the
environment or the `--api-key-*` options, never the command line (none for
`--no-auth` or a server on this machine with no key set). `build` makes the
request and lists the secrets to keep out of every output.
"""

from __future__ import annotations

import os
import stat
from typing import TYPE_CHECKING, Any

import click

from ssechat import jsonload
from ssechat.cli.environment import Environment
from ssechat.errors import UsageError

if TYPE_CHECKING:
    from ssechat.bodies import Prompt
    from ssechat.providers import Provider, Request


def build(
    env: Environment, prompt: tuple[str, ...], opts: dict[str, Any]
) -> tuple[Request, list[str]]:
    """The request to send, and the secrets to keep out of every output."""
    from ssechat import providers
    from ssechat.redact import redact_header

    prompt_obj = _prompt(env, prompt, opts)
    provider = providers.PROVIDERS[opts["provider"]]
    base_url = providers.base_url_for(provider, opts["base_url"], env.environ)
    key = _key(provider, base_url, opts, env)
    headers = tuple(providers.parse_header(h) for h in opts["headers"])
    request = providers.build_request(
        provider.name, prompt_obj, key, base_url=base_url, headers=headers
    )
    # -H values named as secrets (X-Access-Code, Cookie) are kept out of output as the key is.
    secrets = [value for name, value in headers if redact_header(name, value) != value]
    if key is not None:
        secrets.insert(0, key)
    return request, secrets


def _key(provider: Provider, base_url: str, opts: dict[str, Any], env: Environment) -> str | None:
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


def _prompt(env: Environment, words: tuple[str, ...], opts: dict[str, Any]) -> Prompt:
    """The prompt from the arguments, or stdin when it is not a terminal (or --body)."""
    from ssechat.bodies import Prompt, parse_tools

    body = _read_json(opts["body"], "--body") if opts["body"] else None
    if body is not None and not isinstance(body, dict):
        raise UsageError("--body: expected a JSON object")
    text: str | None = " ".join(words) if words else None
    if body is not None:
        _refuse_shaping(text, opts)
    else:
        text = _text(env, text)
    schema = _read_json(opts["schema"], "--schema") if opts["schema"] else None
    if schema is not None and not isinstance(schema, dict):
        raise UsageError("--schema: expected a JSON object (a JSON schema)")
    tools = parse_tools(_read_json(opts["tools"], "--tools")) if opts["tools"] else ()
    return Prompt(
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


def _refuse_shaping(text: str | None, opts: dict[str, Any]) -> None:
    """--body is sent as given: nothing may shape it."""
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


def _text(env: Environment, words: str | None) -> str:
    """The prompt's text: the words, after what is piped on stdin; stdin alone without words."""
    if words is None:
        if env.stdin_isatty:
            raise click.UsageError("no prompt: give it as arguments or on stdin")
        text = _read_stdin(env)
        if not text.strip():
            raise click.UsageError("no prompt: stdin was empty")
        return text
    if _piped(env):
        piped = _read_stdin(env)
        if piped.strip():
            return f"{piped}\n\n{words}"  # as llm and sgpt: the piped text, then the words
    return words


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
