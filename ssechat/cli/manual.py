"""The hand-written parts of the man pages, kept next to the commands.

Click knows each command's options, defaults, help and examples (the epilog);
this module holds only what click cannot know: extra DESCRIPTION paragraphs,
extra sections, and which exit statuses, environment variables, files and
related pages belong to each page. `ssechat._docgen` renders both into man/.
The EXAMPLES are deliberately NOT here: they are each command's epilog, so
`--help` and the man page show the same lines. The exit-status texts are the
docstrings of `ssechat.errors.ExitStatus`, the one source of that table.

Markup: a paragraph is plain text; `backticks` mark literal text (bold in the
page); a paragraph beginning with "\\b\\n" keeps its line breaks (click's
convention); a tuple of (term, text) pairs is a definition list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ssechat.errors import ExitStatus
from ssechat.providers import PROVIDERS

# The footer date of every page. A constant, never "today", so that
# regenerating gives the same bytes; bump it with the version.
DATE: Final = "2026-11-22"

DefinitionList = tuple[tuple[str, str], ...]
Block = str | DefinitionList

ENVIRONMENT: Final[dict[str, str]] = {
    "SSECHAT_DEBUG": "When set to anything but empty or `0`, show a traceback with an error "
    "(as `--debug` does).",
    "SSECHAT_API_KEY": "An API key for any provider of `send`; it wins over the provider's own "
    "variable. ssechat takes keys from the environment or from files and commands named by "
    "options, never from an argument (every user can read arguments with ps(1)), and a key "
    "never appears in any output.",
    "SSECHAT_PROVIDER": "The provider of `send` when neither `-p` nor SSECHAT_SEND_PROVIDER "
    "gives one. Every option of `send` has its own variable, SSECHAT_SEND_ and the option's "
    "long name (see ssechat-send(1)).",
    "OPENAI_API_KEY": "The API key of the `openai` and `openai-responses` providers.",
    "ANTHROPIC_API_KEY": "The API key of the `anthropic` provider.",
    "COZE_API_TOKEN": "The personal access token of the `coze` provider.",
    "GEMINI_API_KEY": "The API key of the `gemini` provider.",
    "OPENAI_BASE_URL, ANTHROPIC_BASE_URL, COZE_API_BASE, GEMINI_BASE_URL": "The base URL of "
    "each provider when `--base-url` is not given (for example an OpenAI-compatible server, "
    "or https://api.coze.cn for coze.cn).",
    "HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, NO_PROXY": "Proxies for `send`, honoured as requests "
    "honours them; NO_PROXY lists hosts reached directly.",
    "REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE": "A file of CA certificates that `send` trusts "
    "instead of the bundled ones (for a company proxy that re-signs TLS).",
}

FILES: Final[dict[str, str]] = {
    "CAPTURE.sse": "A capture as `send --save` writes it and `replay` reads it: a plain SSE "
    "stream, so every SSE tool reads it, with ssechat's annotations in SSE comment lines: "
    "`: ssechat-capture status=200 content-type=text/event-stream` at the top and "
    "`: t=SECONDS` (arrival time since the request) before each event. ssechat creates "
    "captures with mode 0600, because they hold a private conversation.",
    "KEY_FILE": "The file given to `send --api-key-file`: the key on its first line. Keep it "
    "mode 0600.",
    "share/man/man1/ssechat*.1": "These manual pages, installed under the Python prefix.",
    "share/bash-completion/completions/ssechat.bash, share/zsh/site-functions/_ssechat, "
    "share/fish/vendor_completions.d/ssechat.fish": "Shell completions, installed under the "
    "Python prefix. They ask ssechat itself what to complete, so they follow its options.",
}

# The normalized events, one JSON object per line (docs/design.md, "Normalized events").
NORMALIZED_EVENTS: Final[DefinitionList] = (
    (
        "start",
        "`provider`, `model`?, `id`?: the first line of a response; `provider` is the "
        "detected dialect.",
    ),
    ("delta", "`text`, `index`?: answer text; `index` only for a choice after the first."),
    ("reasoning", "`text`, `index`?: reasoning or thinking text."),
    ("refusal", "`text`, `index`?: the model declines to answer (OpenAI); not answer text."),
    ("follow_up", "`text`, `index`?: a suggested next question (Coze); not answer text."),
    (
        "tool_plan",
        "`text`, `index`?: the model's plan before its tool calls (Cohere); not answer text.",
    ),
    (
        "tool_call_delta",
        "`index`, `id`?, `name`?, `arguments`: a fragment (a string) of a tool call's "
        "arguments as it streams; `id` and `name` come with the first fragment.",
    ),
    (
        "tool_call",
        "`index`, `id`, `name`, `arguments`, `repaired`?, `error`?: one complete call; "
        "`arguments` is the parsed JSON value, with `repaired: true` when it needed repair. "
        "Arguments that cannot be repaired stay the raw string, with `error`; a call cut off by "
        'the end of the response keeps the raw string with `error: "incomplete"`, so it never '
        "looks executable.",
    ),
    (
        "usage",
        "`input_tokens`, `output_tokens`, and when the provider gives them `total_tokens`, "
        "`reasoning_tokens`, `cached_tokens`, `cache_creation_tokens`: the final token counts, "
        "once, before `done`.",
    ),
    (
        "error",
        "`message`, `code`?: an error reported inside the stream, or `code: "
        '"truncated"` when the input ended without the end marker of its dialect.',
    ),
    (
        "retry",
        "`attempt`, `reason`, `delay`, `resume`: (send only) a retry started; `resume: "
        '"restart"` means discard what this response emitted so far, `"continue"` means '
        "the next deltas continue it.",
    ),
    (
        "done",
        "`finish_reason`: the provider's own finish or stop reason, unmodified (null when it "
        "gives none); the last line of a response.",
    ),
)

EVENTS_FORMAT: Final = (
    "With `--events`, one object per dispatched SSE event: "
    '`{"event": TYPE, "data": DATA, "id": LAST_EVENT_ID}`, where `event` is always present '
    "(`message` by default) and `id` is omitted while the last event id is empty; and "
    '`{"retry": N}` where a valid `retry` field was read.'
)

FLUSHING: Final = (
    "`--flush auto` flushes stdout after every event unless all input comes from regular "
    "files: saved logs go at full speed, and a live stream reaches the next program in the "
    "pipe at once. The next program may buffer in turn: use `jq --unbuffered`, "
    "`grep --line-buffered` or `sed -u`."
)


def _providers() -> DefinitionList:
    """The providers of `send`, from the table the requests are built from."""
    rows = []
    for p in PROVIDERS.values():
        base = f"{p.base_url} (or ${p.base_url_env})" if p.base_url_env else p.base_url
        model = f"`{p.default_model}`" if p.default_model else "none (the bot decides)"
        rows.append(
            (
                p.name,
                f"Base URL {base}; API key ${p.key_env}; default model {model}; "
                f"the stream is read with the `{p.dialect}` dialect.",
            )
        )
    return tuple(rows)


@dataclass(frozen=True)
class Page:
    """What one man page says beyond the click definitions."""

    description: tuple[Block, ...] = ()
    """Paragraphs after the command's own help text."""
    sections: tuple[tuple[str, tuple[Block, ...]], ...] = ()
    """Extra sections, (TITLE, blocks), placed after OPTIONS."""
    exit_statuses: tuple[ExitStatus, ...] = tuple(ExitStatus)
    environment: tuple[str, ...] = ("SSECHAT_DEBUG",)
    """Keys of ENVIRONMENT."""
    files: tuple[str, ...] = ()
    """Keys of FILES."""
    see_also: tuple[str, ...] = ()
    """Pages outside ssechat, as "name(section)"; ssechat's own pages are added."""


_COMMON_STATUSES: Final = (
    ExitStatus.OK,
    ExitStatus.INTERNAL_ERROR,
    ExitStatus.USAGE,
    ExitStatus.BAD_INPUT,
    ExitStatus.INTERRUPTED,
)

# The page of the group (ssechat.1) is under "ssechat"; each command's under its name.
PAGES: Final[dict[str, Page]] = {
    "ssechat": Page(
        description=(
            "`parse-sse` and `send` share one pipeline: bytes from stdin, files or an HTTP "
            "response go through one WHATWG SSE decoder, then through the dialect of the "
            "provider that produced them (detected from the stream itself, or forced with "
            "`--dialect`), and come out as normalized JSON lines, one object per line. "
            "`repair-json` finishes the JSON a model wrote, and `replay` plays a saved "
            "capture back, to stdout or as a local server, for testing clients.",
            "stdout carries data only. Messages and warnings go to stderr, one line each, "
            "prefixed with `ssechat:`; `-q` (every command) silences the warnings and notes, "
            "never an error. A usage error is one line too, exit status 2. No traceback "
            "reaches the terminal unless `--debug` (or SSECHAT_DEBUG) asks for one. When the "
            "reader of stdout goes away (`| head`), ssechat stops quietly with status 0.",
            "Ctrl-C (SIGINT) and SIGTERM end every command with status 130 and one line, "
            "except `replay --serve`, which exits 0 on SIGTERM: that is how a server is asked "
            "to stop.",
        ),
        sections=(
            (
                "NORMALIZED EVENTS",
                (
                    "The default output of `parse-sse` and `send`: one JSON object per line, "
                    "`type` first. Fields marked ? may be absent. Consumers must ignore keys "
                    "and types they do not know: new ones may be added.",
                    NORMALIZED_EVENTS,
                    "`--text` writes only the answer text, as plain text.",
                ),
            ),
            ("FLUSHING", (FLUSHING,)),
        ),
        environment=tuple(ENVIRONMENT),
        files=tuple(FILES),
        see_also=("curl(1)", "jq(1)"),
    ),
    "parse-sse": Page(
        description=(
            "Each FILE is a separate stream: its events never join those of the next file, "
            "and the end of each file is checked for a truncated response. Input that is not "
            "SSE at all (an HTML error page, binary noise) gives a one-line warning.",
            "The decoder follows the WHATWG HTML algorithm: UTF-8 with replacement "
            "characters, one leading BOM dropped, lines ending at CRLF, LF or CR, comments "
            "ignored. One deliberate extension: an event pending at the end of input is "
            "dispatched (`--eof dispatch`), because saved captures often lack the final "
            "blank line.",
        ),
        sections=(
            (
                "OUTPUT",
                (
                    "Normalized events, described under NORMALIZED EVENTS in ssechat(1).",
                    EVENTS_FORMAT,
                    FLUSHING,
                ),
            ),
            (
                "INPUT FORMATS",
                (
                    "Besides SSE, two stream formats are told apart by their first bytes and "
                    "read by the same dialects: NDJSON, one JSON object per line (Ollama's "
                    "native API), and the binary AWS event stream (Amazon Bedrock), each "
                    "frame's CRCs checked (a frame that fails them is exit 3). With --events, "
                    "each line or frame is one event; a frame's type is its `:event-type`.",
                ),
            ),
            (
                "DIALECT FILES",
                (
                    "--dialect-file FILE describes a format no built-in dialect knows, in "
                    "JSON (TOML too on Python 3.11+): `name`; `recognize`, `end` and `ignore` "
                    "conditions (`event`, `data`, `has`, `equals`); JSON Pointers to `text`, "
                    "`reasoning`, `finish_reason`, `error`, `model`, `id` and each `usage` "
                    "count; `rules` that read some events elsewhere; `cumulative` for texts "
                    "that repeat everything so far. A mistake in the file is one line naming "
                    "the file and the key, exit 2. The README has a worked example; "
                    "examples/dialects/ has four files.",
                ),
            ),
        ),
        exit_statuses=_COMMON_STATUSES,
        see_also=("jq(1)", "curl(1)"),
    ),
    "send": Page(
        description=(
            "Failed attempts are retried with exponential backoff and jitter, honouring "
            "Retry-After; each retry is announced with a `retry` line. The idle timeout "
            "restarts only with an event that carries content (answer, reasoning, a tool "
            "call): pings and keep-alive comments do not count. A total deadline bounds the "
            "whole call.",
        ),
        sections=(
            ("PROVIDERS", (_providers(),)),
            (
                "OUTPUT",
                ("Normalized events, described under NORMALIZED EVENTS in ssechat(1).", FLUSHING),
            ),
        ),
        environment=tuple(ENVIRONMENT),
        files=("CAPTURE.sse", "KEY_FILE"),
        see_also=("curl(1)", "jq(1)"),
    ),
    "repair-json": Page(
        exit_statuses=_COMMON_STATUSES,
        see_also=("jq(1)",),
    ),
    "replay": Page(
        description=(
            "A capture is a plain SSE stream, optionally annotated by `send --save` with the "
            "HTTP status and the arrival time of each event (see FILES); replay reproduces "
            "that status and timing.",
        ),
        exit_statuses=_COMMON_STATUSES,
        files=("CAPTURE.sse",),
        see_also=("curl(1)",),
    ),
}
