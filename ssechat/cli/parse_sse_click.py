"""`ssechat parse-sse`: the click command, its options and help.

What the command does once its arguments are read is `parse_sse.run`.
`plain_argv.py` reads the plain forms of these arguments without click
(start-up; tests/test_plain_argv.py holds the two readings equal).
"""

from __future__ import annotations

from typing import Any

import click

from ssechat.cli import parse_sse
from ssechat.cli.common import (
    EXAMPLES_HEADING,
    ByteSize,
    debug_option,
    flush_option,
    get_env,
    quiet_option,
)
from ssechat.cli.dialect_files import dialect_file_option
from ssechat.sse import DEFAULT_MAX_EVENT_BYTES

EXAMPLES = """\
  curl -sN "$URL" -H "Authorization: Bearer $KEY" -d @body.json | ssechat parse-sse --text
  ssechat parse-sse capture.sse | jq -c 'select(.type == "tool_call") | {name, arguments}'
  ssechat parse-sse --summary capture.sse | jq -e '.finish_reason == "stop"'
"""


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
    type=click.Choice(parse_sse.DIALECT_NAMES),
    metavar="NAME",
    help="Read the stream as this provider's dialect instead of detecting it from the "
    "event names and JSON shapes: " + ", ".join(parse_sse.DIALECT_NAMES) + ".",
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
def parse_sse_cmd(**params: Any) -> int:
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
    conflict = parse_sse.mode_conflict(
        params["text_only"],
        params["reasoning"],
        params["summary"],
        params["raw_events"],
        bool(params["dialect"] or params["dialect_files"]),
    )
    if conflict:
        raise click.UsageError(conflict)
    return parse_sse.run(get_env(), **params)
