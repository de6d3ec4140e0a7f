"""`ssechat repair-json`: the click command, its options and help.

What the command does once its arguments are read is `repair_io.run`; what
a repair does is ssechat.repair's business. `plain_argv.py` reads the
plain forms of these arguments without click (start-up; a test holds the
two readings equal).
"""

from __future__ import annotations

from typing import Any

import click

from ssechat.cli import repair_io
from ssechat.cli.common import (
    EXAMPLES_HEADING,
    ByteSize,
    Seconds,
    debug_option,
    flush_option,
    get_env,
    quiet_option,
)

EXAMPLES = """\
  printf '```json\\n{"city": "Paris", "temp": 21,' | ssechat repair-json
  ssechat parse-sse < log.sse | ssechat repair-json --lines --field arguments
  ssechat repair-json --strict --schema answer.schema.json answer.txt  # in CI
"""

MEANINGLESS = (
    "Input with no JSON in it is refused with exit status 3, never turned into "
    '"" or {}: empty input, binary input (not UTF-8, or control characters), '
    "and text with no { or [ that is not one JSON-like scalar (a quoted string, "
    "a number, true/false/null)."
)


@click.command(
    "repair-json",
    epilog=EXAMPLES_HEADING + EXAMPLES,
    short_help="Turn broken model JSON into valid JSON.",
)
@click.argument(
    "file",
    required=False,
    default="-",
    type=click.Path(exists=True, dir_okay=False, allow_dash=True),
)
@click.option(
    "--lines",
    is_flag=True,
    help="The input is JSON lines: repair each line on its own and write it as one line; "
    "a line that cannot be repaired is reported and written unchanged (exit 3 at the end).",
)
@click.option(
    "--field",
    "field_path",
    metavar="PATH",
    help="With --lines: repair only the string at this dotted PATH in each line "
    "(e.g. arguments) and put the parsed value in its place. Lines without it, "
    "where it is not a string or is empty, and tool_call_delta lines (whose arguments "
    "are fragments, not documents) pass unchanged.",
)
@click.option(
    "--indent",
    type=click.IntRange(0, 16),
    metavar="N",
    help="Pretty-print with N spaces (default: compact).",
)
@click.option("--ensure-ascii", is_flag=True, help="Escape non-ASCII characters as \\uXXXX.")
@click.option(
    "--strict",
    is_flag=True,
    help="Exit 3 when the input was not valid JSON as given (the repair is still printed).",
)
@click.option(
    "--schema",
    "schema_file",
    type=click.Path(exists=True, dir_okay=False),
    help="Validate the result against this JSON Schema; exit 3 with the first violation "
    "(needs jsonschema: pip install 'ssechat[schema]').",
)
@click.option(
    "--allow-truncated",
    is_flag=True,
    help="Exit 0 when the input was cut off and had to be closed (still written, still "
    "said on stderr); without it, such a document exits 3.",
)
@click.option(
    "--report",
    is_flag=True,
    help="Say what was repaired as one JSON object per document (per line with --lines) on stderr.",
)
@click.option(
    "--timeout",
    type=Seconds(),
    metavar="SECONDS",
    default=repair_io.DEFAULT_TIMEOUT,
    show_default=True,
    help="Give up (exit 3) when the json_repair fallback runs longer than this many seconds "
    "(per line with --lines).",
)
@click.option(
    "--max-bytes",
    type=ByteSize(),
    default=repair_io.DEFAULT_MAX_BYTES,
    show_default="64M",
    help="Refuse (exit 3) input larger than this (each line, with --lines).",
)
@flush_option
@quiet_option
@debug_option
def repair_json_cmd(**params: Any) -> int:
    """Repair broken JSON from a model and write it as valid JSON.

    Reads FILE (stdin by default, or for `-`) and writes one compact JSON
    document. Valid JSON passes through after a plain parse. Otherwise the JSON
    is taken out of a ```json fence or surrounding prose (the largest object or
    array), a document cut off by max_tokens is closed in one linear pass, and
    other damage (quotes, comments, commas, True/None, unquoted keys) goes to
    json_repair. What was changed is said in one line on stderr; a document
    that was cut off is always said to be so.

    \b
    Exit status: 0 valid JSON written (repaired or not), 3 the input was cut
    off (the closed document is written; --allow-truncated makes it 0), no
    JSON could be recovered, the repair timed out, or --strict/--schema
    failed, 2 usage. A complete but malformed document (fences, quotes,
    commas, prose around it) exits 0.

    MEANINGLESS
    """
    return repair_io.run(get_env(), repair_io.RepairArgs(**params))


repair_json_cmd.help = (repair_json_cmd.help or "").replace("MEANINGLESS", MEANINGLESS)
