"""`ssechat parse-sse`: raw SSE from files or stdin to normalized JSON lines (or text)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from ssechat import sources
from ssechat.cli.common import (
    EXAMPLES_HEADING,
    ByteSize,
    debug_option,
    flush_option,
    get_env,
    quiet_option,
)
from ssechat.cli.dialect_files import dialect_file_option, load_dialect_files
from ssechat.errors import ExitStatus
from ssechat.event_lines import raw_event_lines
from ssechat.inputs import InputDecoder
from ssechat.lines import FlushPolicy, LineWriter
from ssechat.sse import DEFAULT_MAX_EVENT_BYTES

if TYPE_CHECKING:
    from ssechat.normalized import Sink
    from ssechat.pipeline import Outcome
    from ssechat.sources import Source

# The names of dialects.DIALECTS, here so that `parse-sse --events` does not
# import the dialects (start-up time; tests/test_parse_sse.py checks they agree).
DIALECT_NAMES = (
    "openai-chat",
    "openai-responses",
    "anthropic",
    "coze",
    "gemini",
    "cohere",
    "generic",
    "tgi",
    "llamacpp",
    "ollama",
    "cloudflare",
    "dify",
    "dashscope",
    "vercel-ui",
    "replicate",
    "bedrock",
)

EXAMPLES = """\
  curl -sN "$URL" -H "Authorization: Bearer $KEY" -d @body.json | ssechat parse-sse --text
  ssechat parse-sse capture.sse | jq -c 'select(.type == "tool_call") | {name, arguments}'
  ssechat parse-sse --summary capture.sse | jq -e '.finish_reason == "stop"'
"""


def _warn(message: str) -> None:
    get_env().warn(f"ssechat: warning: {message}")


@click.command(
    "parse-sse",
    epilog=EXAMPLES_HEADING + EXAMPLES,
    short_help="Turn raw SSE from any provider into normalized JSON lines.",
)
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option(
    "--text",
    "text_only",
    is_flag=True,
    help="Write only the answer text, plain, as it arrives (each response ends with a newline).",
)
@click.option(
    "--reasoning",
    is_flag=True,
    help="With --text: also write reasoning/thinking text, to stderr, so that stdout stays "
    "exactly the answer.",
)
@click.option(
    "--summary",
    is_flag=True,
    help="Write one JSON object per response instead of the events: dialect, model, events, "
    "answer_chars, tool_calls, finish_reason, usage, truncated, errors and, when the input "
    "has timing (capture annotations, or live input), ttft_ms, duration_ms, max_gap_ms, "
    "events_per_s.",
)
@click.option(
    "--events",
    "raw_events",
    is_flag=True,
    help='Write the plain SSE events instead: {"event", "data", "id"} per line, and {"retry"}.',
)
@click.option(
    "--dialect",
    type=click.Choice(DIALECT_NAMES),
    metavar="NAME",
    help="Read the stream as this provider's dialect instead of detecting it from the "
    "event names and JSON shapes: " + ", ".join(DIALECT_NAMES) + ".",
)
@dialect_file_option
@click.option(
    "--allow-truncated",
    is_flag=True,
    help="Exit 0 when a stream ends without its end marker (logs known to be cut); the "
    '{"type": "error", "code": "truncated"} line is still written.',
)
@click.option(
    "--eof",
    type=click.Choice(["dispatch", "discard"]),
    default="dispatch",
    show_default=True,
    help="At end of input inside an event: dispatch it (saved logs often lack the final "
    "blank line), or discard it as the WHATWG spec does.",
)
@click.option(
    "--max-event-bytes",
    type=ByteSize(),
    default=DEFAULT_MAX_EVENT_BYTES,
    show_default="16M",
    help="Refuse (exit 3) any single event larger than this.",
)
@flush_option
@quiet_option
@debug_option
def parse_sse_cmd(
    files: tuple[str, ...],
    text_only: bool,
    reasoning: bool,
    summary: bool,
    raw_events: bool,
    dialect: str | None,
    dialect_files: tuple[str, ...],
    allow_truncated: bool,
    eof: str,
    max_event_bytes: int,
    flush: str,
) -> int:
    """Turn raw SSE captured from any provider into normalized JSON lines.

    Reads each FILE in turn as a separate stream (stdin when there is none,
    or for `-`): SSE, or NDJSON (Ollama) or the binary AWS event stream
    (Bedrock), told apart by their first bytes. The dialect (openai-chat,
    openai-responses, anthropic, coze, gemini, cohere, generic, and the long
    tail: tgi, llamacpp, ollama, cloudflare, dify, dashscope, vercel-ui,
    replicate, bedrock) is detected from the stream. Each response comes
    out as start, delta, reasoning, tool_call_delta, tool_call, usage, error
    and done lines (Coze suggestions as follow_up). `curl -i` headers before
    the body are skipped.

    One input may hold many responses of any providers (a log, captures
    joined with cat): each is detected anew. Exit status 3 when a stream
    reports an error (`event: error` whatever its data), ends without its
    end marker wherever it is cut (see --allow-truncated), holds a tool call
    whose arguments are cut off or cannot be repaired, or is not a stream at
    all (an HTML page, text, a JSON error body: one error line quoting its
    start); a stream no dialect recognises is written as with --events
    (exit 0).
    """
    _check_modes(text_only, reasoning, summary, raw_events, dialect or dialect_files)
    env = get_env()
    regular = sources.all_regular_files(files, stdin=env.stdin)
    flush_each = FlushPolicy(flush).flushes_each_event(input_is_regular_file=regular)
    if raw_events:
        writer = LineWriter(env.stdout, flush_each=flush_each)
        return _plain_events(files, writer, eof, max_event_bytes)
    from ssechat.normalized import TextWriter  # not for --events: start-up time

    load_dialect_files(dialect_files)
    sink = _sink(summary, text_only, reasoning, flush_each)
    try:
        outcomes = [
            _normalize(source, sink, dialect, summary, eof, max_event_bytes)
            for source in sources.open_sources(files, stdin=env.stdin)
        ]
    finally:
        sink.close()
    note = sink.tool_call_note() if isinstance(sink, TextWriter) else None
    if note:
        env.warn(f"ssechat: note: {note}")
    return exit_status(outcomes, allow_truncated=allow_truncated)


def _check_modes(
    text_only: bool, reasoning: bool, summary: bool, raw_events: bool, dialect: object
) -> None:
    """click.UsageError for output options that do not go together."""
    if raw_events and (text_only or summary or dialect):
        raise click.UsageError(
            "--events cannot be combined with --text, --summary, --dialect or --dialect-file"
        )
    if text_only and summary:
        raise click.UsageError("--text and --summary are two different outputs: choose one")
    if reasoning and not text_only:
        raise click.UsageError("--reasoning goes with --text (JSON lines always carry reasoning)")


def _sink(summary: bool, text_only: bool, reasoning: bool, flush_each: bool) -> Sink:
    """The writer of the chosen output: --summary, --text, or JSON lines."""
    from ssechat.normalized import JsonLinesWriter, TextWriter

    env = get_env()
    if summary:
        from ssechat.summary import Summary

        return Summary(env.stdout, flush_each=flush_each)
    if text_only:
        stderr = env.stderr if reasoning else None
        return TextWriter(env.stdout, flush_each=flush_each, reasoning=stderr)
    return JsonLinesWriter(env.stdout, flush_each=flush_each)


def _normalize(
    source: Source,
    sink: Sink,
    dialect: str | None,
    summary: bool,
    eof: str,
    max_event_bytes: int,
) -> Outcome:
    """One input through the pipeline into `sink`; its outcome for the exit status."""
    from ssechat.pipeline import Pipeline

    clock = _clock_from_now() if summary and not source.is_regular_file else None
    pipeline = Pipeline(
        sink,
        dialect=dialect,
        max_event_bytes=max_event_bytes,
        dispatch_at_eof=eof == "dispatch",
        clock=clock,
        warn=_warn,
        name=source.display_name,
    )
    for chunk in source.chunks():
        pipeline.feed(chunk)
    return pipeline.close()


def _clock_from_now() -> Callable[[], float]:
    start = time.monotonic()
    return lambda: time.monotonic() - start


def exit_status(outcomes: list[Outcome], *, allow_truncated: bool) -> int:
    """0, or raise InputError (exit 3) with the first problem (ssechat.verdict)."""
    from ssechat import verdict

    verdict.check(outcomes, allow_truncated=allow_truncated)
    return ExitStatus.OK


def _plain_events(
    files: tuple[str, ...], writer: LineWriter, eof: str, max_event_bytes: int
) -> int:
    """`--events`: the decoder's events as they are (docs/design.md, "SSE decoding")."""
    for source in sources.open_sources(files, stdin=get_env().stdin):
        decoder = InputDecoder(max_event_bytes=max_event_bytes, dispatch_at_eof=eof == "dispatch")
        for chunk in source.chunks():
            writer.write(raw_event_lines(decoder.feed_runs(chunk)))  # one batch per read: speed
        writer.write(raw_event_lines(decoder.close()))
        if not decoder.looks_like_sse:
            _warn(f"{source.display_name} does not look like SSE (no field or comment lines)")
    writer.flush()
    return ExitStatus.OK
