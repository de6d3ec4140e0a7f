"""What `ssechat parse-sse` does once its arguments are read: SSE in, JSON lines (or text) out.

`run(env, ...)` reads each input (stdin or FILEs) and writes normalized
JSON lines, text, summaries or plain events. It imports no click: both the
click command (`parse_sse_click.py`) and the fast path without click
(`plain_argv.py`) call it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ssechat import sources
from ssechat.cli.environment import Environment
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


def run(
    env: Environment,
    *,
    files: tuple[str, ...] = (),
    text_only: bool = False,
    reasoning: bool = False,
    summary: bool = False,
    raw_events: bool = False,
    dialect: str | None = None,
    dialect_files: tuple[str, ...] = (),
    allow_truncated: bool = False,
    eof: str = "dispatch",
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
    flush: str = "auto",
) -> int:
    """Parse each FILE (stdin when none) to stdout as the options say; the exit status.

    The options are taken as going together (`mode_conflict` says when not).
    """
    regular = sources.all_regular_files(files, stdin=env.stdin)
    flush_each = FlushPolicy(flush).flushes_each_event(input_is_regular_file=regular)
    if raw_events:
        writer = LineWriter(env.stdout, flush_each=flush_each)
        return _plain_events(env, files, writer, eof, max_event_bytes)
    from ssechat.normalized import TextWriter  # not for --events: start-up time

    if dialect_files:
        from ssechat.cli.dialect_files import load_dialect_files

        load_dialect_files(dialect_files)
    sink = _sink(env, summary, text_only, reasoning, flush_each)
    try:
        outcomes = [
            _normalize(env, source, sink, dialect, summary, eof, max_event_bytes)
            for source in sources.open_sources(files, stdin=env.stdin)
        ]
    finally:
        sink.close()
    note = sink.tool_call_note() if isinstance(sink, TextWriter) else None
    if note:
        env.warn(f"ssechat: note: {note}")
    return exit_status(outcomes, allow_truncated=allow_truncated)


def mode_conflict(
    text_only: bool, reasoning: bool, summary: bool, raw_events: bool, dialect: bool
) -> str | None:
    """What is wrong with output options that do not go together (a usage error), or None."""
    if raw_events and (text_only or summary or dialect):
        return "--events cannot be combined with --text, --summary, --dialect or --dialect-file"
    if text_only and summary:
        return "--text and --summary are two different outputs: choose one"
    if reasoning and not text_only:
        return "--reasoning goes with --text (JSON lines always carry reasoning)"
    return None


def _warner(env: Environment) -> Callable[[str], None]:
    return lambda message: env.warn(f"ssechat: warning: {message}")


def _sink(
    env: Environment, summary: bool, text_only: bool, reasoning: bool, flush_each: bool
) -> Sink:
    """The writer of the chosen output: --summary, --text, or JSON lines."""
    from ssechat.normalized import JsonLinesWriter, TextWriter

    if summary:
        from ssechat.summary import Summary

        return Summary(env.stdout, flush_each=flush_each)
    if text_only:
        stderr = env.stderr if reasoning else None
        return TextWriter(env.stdout, flush_each=flush_each, reasoning=stderr)
    return JsonLinesWriter(env.stdout, flush_each=flush_each)


def _normalize(
    env: Environment,
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
        warn=_warner(env),
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
    env: Environment, files: tuple[str, ...], writer: LineWriter, eof: str, max_event_bytes: int
) -> int:
    """`--events`: the decoder's events as they are (docs/design.md, "SSE decoding")."""
    for source in sources.open_sources(files, stdin=env.stdin):
        decoder = InputDecoder(max_event_bytes=max_event_bytes, dispatch_at_eof=eof == "dispatch")
        for chunk in source.chunks():
            writer.write(raw_event_lines(decoder.feed_runs(chunk)))  # one batch per read: speed
        writer.write(raw_event_lines(decoder.close()))
        if not decoder.looks_like_sse:
            _warner(env)(
                f"{source.display_name} does not look like SSE (no field or comment lines)"
            )
    writer.flush()
    return ExitStatus.OK
