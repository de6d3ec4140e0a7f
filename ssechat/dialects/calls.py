"""Tool-call assembly, the same in every dialect: fragments in, one `tool_call` out.

A call comes out once, when complete: its arguments parsed by
`ssechat.repair.parse_tool_arguments` (`repaired: true` when repair was
needed; the raw string and `error` when even repair fails). A call cut off
by the end of the response is never repaired: it keeps the raw string and
`error: "incomplete"`, so that it can never look executable.
`CallAssembly` is the part of `Dialect` that does it (docs/dialects.md).
"""

from __future__ import annotations

from typing import Any

import orjson

from ssechat.normalized import NormalizedEvent

INCOMPLETE = "incomplete"
_strict_loads = orjson.loads  # tool arguments: strict JSON (no NaN, no lone surrogates)
_JSONDecodeError = orjson.JSONDecodeError


class ToolCall:
    """A tool call being assembled from fragments."""

    __slots__ = ("choice", "custom", "id", "index", "name", "parts")

    def __init__(
        self, index: int, call_id: Any, name: Any, *, choice: int = 0, custom: bool = False
    ) -> None:
        self.index = index
        self.id = call_id
        self.name = name
        self.choice = choice
        self.custom = custom  # free-form input (Responses custom tools): kept as a string
        self.parts: list[str] = []

    @property
    def raw(self) -> str:
        return "".join(self.parts)


class CallAssembly:
    """The open calls of a response, their fragments, and their one `tool_call` each."""

    def __init__(self) -> None:
        self.calls: dict[Any, ToolCall] = {}  # open tool calls, by the dialect's key
        self.call_count = 0  # calls started in this response: the next one's index
        # Closed calls whose arguments do not parse, until the finish reason says
        # whether they were cut off (length) or only need repair.
        self.held: list[tuple[ToolCall, str]] = []
        self.bad_calls = 0  # tool calls with an error in otherwise complete responses

    def start_call(
        self,
        out: list[NormalizedEvent],
        key: Any,
        call: ToolCall,
        arguments: str = "",
    ) -> ToolCall:
        """A new call: its first `tool_call_delta` carries the id and the name."""
        self.calls[key] = call
        if arguments:
            call.parts.append(arguments)
        delta: dict[str, Any] = {
            "type": "tool_call_delta",
            "index": call.index,
            "id": call.id,
            "name": call.name,
            "arguments": arguments,
        }
        if call.choice:
            delta["choice"] = call.choice
        out.append(delta)
        return call

    def add_arguments(self, out: list[NormalizedEvent], call: ToolCall, fragment: str) -> None:
        call.parts.append(fragment)
        delta: dict[str, Any] = {
            "type": "tool_call_delta",
            "index": call.index,
            "arguments": fragment,
        }
        if call.choice:
            delta["choice"] = call.choice
        out.append(delta)

    def finish_call(
        self,
        out: list[NormalizedEvent],
        key: Any,
        *,
        cut_off: bool = False,
        raw: str | None = None,
        blame: bool = True,
    ) -> None:
        """The call under `key` is complete (or cut off): emit its `tool_call`.

        `raw`, when given, is the provider's authoritative full argument
        string (Responses `.done` events), used in place of the fragments.
        Arguments that do not parse wait for the end of the response (`held`):
        only its finish reason tells a cut-off call from one to repair.
        """
        call = self.calls.pop(key, None)
        if call is None:
            return
        text = call.raw if raw is None else raw
        if not (cut_off or call.custom or _whole(text)):
            self.held.append((call, text))
            return
        self.emit_call(out, call, text, cut_off=cut_off, blame=blame)

    def emit_call(
        self,
        out: list[NormalizedEvent],
        call: ToolCall,
        raw: str,
        *,
        cut_off: bool = False,
        value: Any = None,
        parsed: bool = False,
        blame: bool = True,
    ) -> None:
        """One `tool_call` line. `parsed=True`: `value` is already the arguments.

        `blame=False` when the response itself was truncated or failed: the
        call's error is then counted with that, not as a bad call.
        """
        event: dict[str, Any] = {
            "type": "tool_call",
            "index": call.index,
            "id": call.id,
            "name": call.name,
        }
        if call.choice:
            event["choice"] = call.choice
        if parsed:
            event["arguments"] = value
            bad = False
        elif call.custom:
            event["arguments"] = raw  # free-form input: complete only when closed
            bad = cut_off and _mark_incomplete(event)
        elif cut_off:
            bad = _cut_off_arguments(event, raw)
        else:
            bad = _repaired_arguments(event, raw)
            blame = True  # complete arguments that do not parse: always this call's fault
        if bad and blame:
            self.bad_calls += 1
        out.append(event)

    def drain_calls(self, out: list[NormalizedEvent], *, cut: bool, blame: bool) -> None:
        """The response ends: every held or open call comes out, cut off or repaired."""
        held, self.held = self.held, []
        held += [(call, call.raw) for call in self.calls.values()]
        self.calls = {}
        for call, raw in held:
            self.emit_call(out, call, raw, cut_off=cut, blame=blame)


def _mark_incomplete(event: dict[str, Any]) -> bool:
    event["error"] = INCOMPLETE
    return True


def _cut_off_arguments(event: dict[str, Any], raw: str) -> bool:
    """Never repaired: only a document that parses as it stands (closed, so not a cut prefix)."""
    try:
        whole = _strict_loads(raw)
    except _JSONDecodeError:
        whole = None
    if isinstance(whole, (dict, list)):
        event["arguments"] = whole
        return False
    event["arguments"] = raw
    return _mark_incomplete(event)  # cut by max tokens in a response that ended


def _repaired_arguments(event: dict[str, Any], raw: str) -> bool:
    """Complete arguments, repaired if they need it; the raw string and the error if not."""
    # Imported here: a stream of text only never loads the repairer (start-up).
    from ssechat.repair import RepairError, parse_tool_arguments

    try:
        arguments, repaired = parse_tool_arguments(raw)
    except (RepairError, ValueError, RecursionError) as exc:
        event["arguments"] = raw
        event["error"] = str(exc) or "cannot repair the arguments"
        return True
    event["arguments"] = arguments
    if repaired:
        event["repaired"] = True
    return False


def _whole(raw: str) -> bool:
    """Whether tool-call arguments are a whole JSON object or array as they stand."""
    try:
        return isinstance(_strict_loads(raw), (dict, list))
    except _JSONDecodeError:
        return False
