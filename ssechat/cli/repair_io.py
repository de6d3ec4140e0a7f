"""What `ssechat repair-json` does once its arguments are read: input, repair, output.

`run(env, RepairArgs)` reads the document (or JSON lines), repairs it with
ssechat.repair, writes the result and says on stderr what was repaired. It
imports no click: both the click command (`repair_json.py`) and the fast
path without click (`plain_argv.py`) call it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO, Any, Final, NamedTuple

from ssechat import jsonload, sources
from ssechat.cli.environment import Environment
from ssechat.errors import ExitStatus, InputError, UsageError
from ssechat.lines import FlushPolicy, LineWriter
from ssechat.repair import Repair, RepairError, repair_bytes, repair_text
from ssechat.repair.strict import dumps

DEFAULT_MAX_BYTES: Final = 64 * 1024**2
DEFAULT_TIMEOUT: Final = 10.0
# Normalized lines whose arguments are a fragment of a call, never a document
# (docs/design.md section 3): repairing one alone would invent JSON, so --field
# leaves them as they are; the call's `tool_call` line carries the whole.
FRAGMENT_TYPE: Final = "tool_call_delta"
TRUNCATED_MESSAGE: Final = (
    "the input was cut off: written closed, it may be incomplete; --allow-truncated accepts it"
)


class RepairArgs(NamedTuple):
    """The command's parameters, named as click names them (a NamedTuple: start-up time)."""

    file: str = "-"
    lines: bool = False
    field_path: str | None = None
    indent: int | None = None
    ensure_ascii: bool = False
    strict: bool = False
    schema_file: str | None = None
    allow_truncated: bool = False
    report: bool = False
    timeout: float = DEFAULT_TIMEOUT
    max_bytes: int = DEFAULT_MAX_BYTES
    flush: str = "auto"


class _Run:
    """One run's settings and state: where to say things, and whether anything failed."""

    def __init__(self, env: Environment, args: RepairArgs) -> None:
        self.env = env
        self.args = args
        self.quiet = env.quiet
        self.schema: Any = None
        self.failed = False


def run(env: Environment, args: RepairArgs) -> int:
    """Repair FILE (or each of its lines) to stdout; the exit status."""
    if args.field_path is not None and not args.lines:
        raise UsageError("--field needs --lines")
    if args.lines and args.indent is not None:
        raise UsageError("--indent cannot be used with --lines (one line per document)")
    state = _Run(env, args)
    if args.schema_file is not None:
        state.schema = _load_schema(args.schema_file)
    writer = LineWriter(
        env.stdout,
        flush_each=FlushPolicy(args.flush).flushes_each_event(
            input_is_regular_file=sources.all_regular_files([args.file], stdin=env.stdin)
        ),
    )
    # one source; the loop keeps it open
    for source in sources.open_sources([args.file], stdin=env.stdin):
        if args.lines:
            _repair_lines(source.stream, writer, state, args.field_path, args.max_bytes)
        else:
            _repair_document(source.stream, writer, state, args.max_bytes)
    writer.flush()
    return ExitStatus.BAD_INPUT if state.failed else ExitStatus.OK


def _repair_document(stream: IO[bytes], writer: LineWriter, state: _Run, limit: int) -> None:
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise InputError(f"input is larger than --max-bytes ({limit} bytes)")
    result = repair_bytes(data, timeout=state.args.timeout)
    writer.write(
        [
            dumps(result.value, indent=state.args.indent, ensure_ascii=state.args.ensure_ascii),
            b"\n",
        ]
    )
    _tell(state, result, None)
    _check(state, result, None)


def _repair_lines(
    stream: IO[bytes], writer: LineWriter, state: _Run, path: str | None, limit: int
) -> None:
    keys = path.split(".") if path else None
    for number, line in _numbered_lines(stream, limit):
        if len(line) > limit:  # over --max-bytes: reported, written unchanged, the run goes on
            _fail(state, number, f"larger than --max-bytes ({limit} bytes)", unchanged=True)
            writer.write([line])
            _copy_rest_of_line(stream, writer, line, limit)
            continue
        if not line.strip():
            continue
        try:
            if keys is None:
                result: Repair | None = repair_bytes(line, timeout=state.args.timeout)
                assert result is not None
                out = dumps(result.value, ensure_ascii=state.args.ensure_ascii)
            else:
                result, out = _repair_field(line, keys, state)
        except RepairError as exc:
            _fail(state, number, str(exc), unchanged=True)
            writer.write([line.rstrip(b"\r\n"), b"\n"])
            continue
        writer.write([out, b"\n"])
        if result is not None:
            _tell(state, result, number)
            _check(state, result, number)


def _repair_field(line: bytes, keys: list[str], state: _Run) -> tuple[Repair | None, bytes]:
    """Repair the string at `keys` inside the JSON line; (None, line) when there is none."""
    try:
        document = jsonload.loads(line)
    except ValueError:  # too deep included
        raise RepairError("the line is not JSON (--field needs JSON lines)") from None
    if isinstance(document, dict) and document.get("type") == FRAGMENT_TYPE:
        return None, line.rstrip(b"\r\n")
    parent, key = _locate(document, keys)
    if parent is None or not isinstance(parent[key], str) or not parent[key].strip():
        return None, line.rstrip(b"\r\n")
    result = repair_text(parent[key], timeout=state.args.timeout)
    parent[key] = result.value
    return result, dumps(document, ensure_ascii=state.args.ensure_ascii)


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


def _tell(state: _Run, result: Repair, number: int | None) -> None:
    """Say what was repaired: one line, or a JSON report with --report.

    A document that was cut off and closed fails (exit 3) unless
    --allow-truncated: closed, it is valid JSON but maybe not the answer
    (`{"cmd": "rm -rf /var"}` from `{"cmd": "rm -rf /var/lib/app`).
    """
    where = "" if number is None else f"line {number}: "
    cut = result.truncated and not state.args.allow_truncated
    if cut:
        state.failed = True
    if state.args.report:
        report: dict[str, Any] = {} if number is None else {"line": number}
        report.update(
            valid=result.valid,
            repaired=result.repaired,
            truncated=result.truncated,
            changes=list(result.changes),
        )
        if cut:
            report["error"] = TRUNCATED_MESSAGE
        state.env.error(json.dumps(report, ensure_ascii=False))
    elif cut:
        state.env.error(f"ssechat: error: {where}{TRUNCATED_MESSAGE}")
    elif result.repaired and not state.quiet:
        note = " (the result may be incomplete)" * result.truncated
        state.env.error(f"ssechat: {where}repaired: {', '.join(result.changes)}{note}")


def _check(state: _Run, result: Repair, number: int | None) -> None:
    """--strict and --schema: mark failure (exit 3) after the result was written."""
    if state.args.strict and result.repaired:
        _fail(state, number, "the input was not valid JSON as given (--strict)")
    if state.schema is not None:
        error = _first_violation(state.schema, result.value)
        if error:
            _fail(state, number, f"schema violation: {error}")


def _fail(state: _Run, number: int | None, message: str, *, unchanged: bool = False) -> None:
    state.failed = True
    where = "" if number is None else f"line {number}: "
    kept = "; written unchanged" if unchanged else ""
    if state.args.report:
        report: dict[str, Any] = {} if number is None else {"line": number}
        report["error"] = message
        state.env.error(json.dumps(report, ensure_ascii=False))
    else:
        state.env.error(f"ssechat: error: {where}{message}{kept}")


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
