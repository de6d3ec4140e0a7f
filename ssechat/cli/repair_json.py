"""`ssechat repair-json`: broken model JSON in, valid JSON out (one document or JSON lines).

Only options, reading, writing and reporting live here; what a repair does
is ssechat.repair's business.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import click

from ssechat import jsonload, repair, sources
from ssechat.cli.common import (
    EXAMPLES_HEADING,
    ByteSize,
    Seconds,
    debug_option,
    flush_option,
    get_env,
    quiet_option,
)
from ssechat.errors import ExitStatus, InputError, UsageError
from ssechat.normalized import FlushPolicy, LineWriter

DEFAULT_MAX_BYTES = 64 * 1024**2
# Normalized lines whose arguments are a fragment of a call, never a document
# (docs/design.md section 3): repairing one alone would invent JSON, so --field
# leaves them as they are; the call's `tool_call` line carries the whole.
FRAGMENT_TYPE = "tool_call_delta"
TRUNCATED_MESSAGE = (
    "the input was cut off: written closed, it may be incomplete; --allow-truncated accepts it"
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


@dataclass
class _Options:
    indent: int | None
    ensure_ascii: bool
    strict: bool
    quiet: bool
    report: bool
    timeout: float
    allow_truncated: bool = False
    schema: Any = None
    failed: bool = field(default=False)


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
    default=10.0,
    show_default=True,
    help="Give up (exit 3) when the json_repair fallback runs longer than this many seconds "
    "(per line with --lines).",
)
@click.option(
    "--max-bytes",
    type=ByteSize(),
    default=DEFAULT_MAX_BYTES,
    show_default="64M",
    help="Refuse (exit 3) input larger than this (each line, with --lines).",
)
@flush_option
@quiet_option
@debug_option
def repair_json_cmd(
    file: str,
    lines: bool,
    field_path: str | None,
    indent: int | None,
    ensure_ascii: bool,
    strict: bool,
    schema_file: str | None,
    allow_truncated: bool,
    report: bool,
    timeout: float,
    max_bytes: int,
    flush: str,
) -> int:
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
    if field_path is not None and not lines:
        raise UsageError("--field needs --lines")
    if lines and indent is not None:
        raise UsageError("--indent cannot be used with --lines (one line per document)")
    options = _Options(
        indent, ensure_ascii, strict, get_env().quiet, report, timeout, allow_truncated
    )
    if schema_file is not None:
        options.schema = _load_schema(schema_file)
    env = get_env()
    writer = LineWriter(
        env.stdout,
        flush_each=FlushPolicy(flush).flushes_each_event(
            input_is_regular_file=sources.all_regular_files([file], stdin=env.stdin)
        ),
    )
    for source in sources.open_sources(
        [file], stdin=env.stdin
    ):  # one source; the loop keeps it open
        if lines:
            _repair_lines(source.stream, writer, options, field_path, max_bytes)
        else:
            _repair_document(source.stream, writer, options, max_bytes)
    writer.flush()
    return ExitStatus.BAD_INPUT if options.failed else ExitStatus.OK


repair_json_cmd.help = (repair_json_cmd.help or "").replace("MEANINGLESS", MEANINGLESS)


def _repair_document(stream: IO[bytes], writer: LineWriter, options: _Options, limit: int) -> None:
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise InputError(f"input is larger than --max-bytes ({limit} bytes)")
    result = repair.repair_bytes(data, timeout=options.timeout)
    writer.write(
        [
            repair.dumps(result.value, indent=options.indent, ensure_ascii=options.ensure_ascii),
            b"\n",
        ]
    )
    _tell(options, result, None)
    _check(options, result, None)


def _repair_lines(
    stream: IO[bytes], writer: LineWriter, options: _Options, path: str | None, limit: int
) -> None:
    keys = path.split(".") if path else None
    for number, line in _numbered_lines(stream, limit):
        if len(line) > limit:  # over --max-bytes: reported, written unchanged, the run goes on
            _fail(options, number, f"larger than --max-bytes ({limit} bytes)", unchanged=True)
            writer.write([line])
            _copy_rest_of_line(stream, writer, line, limit)
            continue
        if not line.strip():
            continue
        try:
            if keys is None:
                result: repair.Repair | None = repair.repair_bytes(line, timeout=options.timeout)
                assert result is not None
                out = repair.dumps(result.value, ensure_ascii=options.ensure_ascii)
            else:
                result, out = _repair_field(line, keys, options)
        except repair.RepairError as exc:
            _fail(options, number, str(exc), unchanged=True)
            writer.write([line.rstrip(b"\r\n"), b"\n"])
            continue
        writer.write([out, b"\n"])
        if result is not None:
            _tell(options, result, number)
            _check(options, result, number)


def _repair_field(
    line: bytes, keys: list[str], options: _Options
) -> tuple[repair.Repair | None, bytes]:
    """Repair the string at `keys` inside the JSON line; (None, line) when there is none."""
    try:
        document = jsonload.loads(line)
    except ValueError:  # too deep included
        raise repair.RepairError("the line is not JSON (--field needs JSON lines)") from None
    if isinstance(document, dict) and document.get("type") == FRAGMENT_TYPE:
        return None, line.rstrip(b"\r\n")
    parent, key = _locate(document, keys)
    if parent is None or not isinstance(parent[key], str) or not parent[key].strip():
        return None, line.rstrip(b"\r\n")
    result = repair.repair_text(parent[key], timeout=options.timeout)
    parent[key] = result.value
    return result, repair.dumps(document, ensure_ascii=options.ensure_ascii)


def _locate(document: Any, keys: list[str]) -> tuple[Any, Any]:
    """The container holding the dotted path's last key, and that key (None, None if absent)."""
    node = document
    for i, key in enumerate(keys):
        if isinstance(node, dict) and key in node:
            index: Any = key
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            index = int(key)
        else:
            return None, None
        if i == len(keys) - 1:
            return node, index
        node = node[index]
    return None, None


def _numbered_lines(stream: IO[bytes], limit: int) -> Iterator[tuple[int, bytes]]:
    number = 0
    while True:
        line = stream.readline(limit + 1)
        if not line:
            return
        number += 1
        yield number, line  # over `limit`: its first limit + 1 bytes (the rest is unread)


def _copy_rest_of_line(stream: IO[bytes], writer: LineWriter, part: bytes, limit: int) -> None:
    """Write the rest of a line too long to repair, unchanged, a bounded read at a time."""
    while not part.endswith(b"\n"):
        part = stream.readline(limit + 1)
        if not part:
            writer.write([b"\n"])  # the last line had no line end: the output's lines still end
            return
        writer.write([part])


def _tell(options: _Options, result: repair.Repair, number: int | None) -> None:
    """Say what was repaired: one line, or a JSON report with --report.

    A document that was cut off and closed fails (exit 3) unless
    --allow-truncated: closed, it is valid JSON but maybe not the answer
    (`{"cmd": "rm -rf /var"}` from `{"cmd": "rm -rf /var/lib/app`).
    """
    where = "" if number is None else f"line {number}: "
    cut = result.truncated and not options.allow_truncated
    if cut:
        options.failed = True
    if options.report:
        report: dict[str, Any] = {} if number is None else {"line": number}
        report.update(
            valid=result.valid,
            repaired=result.repaired,
            truncated=result.truncated,
            changes=list(result.changes),
        )
        if cut:
            report["error"] = TRUNCATED_MESSAGE
        get_env().error(json.dumps(report, ensure_ascii=False))
    elif cut:
        get_env().error(f"ssechat: error: {where}{TRUNCATED_MESSAGE}")
    elif result.repaired and not options.quiet:
        note = " (the result may be incomplete)" * result.truncated
        get_env().error(f"ssechat: {where}repaired: {', '.join(result.changes)}{note}")


def _check(options: _Options, result: repair.Repair, number: int | None) -> None:
    """--strict and --schema: mark failure (exit 3) after the result was written."""
    if options.strict and result.repaired:
        _fail(options, number, "the input was not valid JSON as given (--strict)")
    if options.schema is not None:
        error = _first_violation(options.schema, result.value)
        if error:
            _fail(options, number, f"schema violation: {error}")


def _fail(options: _Options, number: int | None, message: str, *, unchanged: bool = False) -> None:
    options.failed = True
    where = "" if number is None else f"line {number}: "
    kept = "; written unchanged" if unchanged else ""
    if options.report:
        report: dict[str, Any] = {} if number is None else {"line": number}
        report["error"] = message
        get_env().error(json.dumps(report, ensure_ascii=False))
    else:
        get_env().error(f"ssechat: error: {where}{message}{kept}")


def _load_schema(path: str) -> Any:
    try:
        import jsonschema
    except ImportError:
        raise UsageError(
            "--schema needs the jsonschema package: pip install 'ssechat[schema]'"
        ) from None
    try:
        with open(path, "rb") as handle:
            schema = jsonload.stdlib_loads(handle.read())  # too deep: not JSON
        validator = jsonschema.validators.validator_for(schema)
        validator.check_schema(schema)
    except ValueError as exc:
        raise UsageError(f"--schema {path}: not JSON: {exc}") from None
    except jsonschema.SchemaError as exc:
        raise UsageError(f"--schema {path}: not a valid JSON Schema: {exc.message}") from None
    return validator(schema)


def _first_violation(validator: Any, value: Any) -> str | None:
    import jsonschema

    error = jsonschema.exceptions.best_match(validator.iter_errors(value))
    if error is None:
        return None
    where = "/".join(str(part) for part in error.absolute_path)
    return f"{error.message}" + (f" (at /{where})" if where else "")
