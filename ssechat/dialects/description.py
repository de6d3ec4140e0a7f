"""Dialect files: a user's description of a stream format, loaded and validated.

A dialect file (`--dialect-file FILE`) says, with JSON Pointers (RFC 6901)
into each event's JSON data, how to recognise a format no built-in dialect
knows, where its text, reasoning, finish reason, usage and errors live, and
which event ends a response (README "Dialect files"; examples/dialects/).
JSON always; TOML too on Python 3.11+ (its `tomllib`), told by the `.toml`
suffix. Everything is checked on load: a mistake is one line naming the file
and the key (`UsageError`, exit 2), never a surprise mid-stream.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final

from ssechat.errors import UsageError
from ssechat.jsonload import stdlib_loads

Pointer = tuple[str, ...]
"""A JSON Pointer split into its reference tokens ("/a/b~1c" -> ("a", "b/c"))."""

MISSING: Final = object()
FIELDS: Final = ("text", "reasoning", "finish_reason", "error", "model", "id")
_CONDITION_KEYS: Final = frozenset({"event", "data", "has", "equals"})
_TOP_KEYS: Final = frozenset(
    {"name", "recognize", "end", "ignore", "cumulative", "usage", "rules", "description", *FIELDS}
)
_RULE_KEYS: Final = frozenset({"when", "usage", *FIELDS})


def resolve(document: Any, pointer: Pointer) -> Any:
    """The value `pointer` points to in `document`, or MISSING."""
    for token in pointer:
        if isinstance(document, dict):
            document = document.get(token, MISSING)
            if document is MISSING:
                return MISSING
        elif isinstance(document, list) and token.isdigit() and (token == "0" or token[0] != "0"):
            index = int(token)
            if index >= len(document):
                return MISSING
            document = document[index]
        else:
            return MISSING
    return document


@dataclass(frozen=True)
class Condition:
    """Which events a rule is about: all the given tests hold (an empty one matches none)."""

    events: frozenset[str] | None = None  # the SSE event type
    datas: frozenset[str] | None = None  # the data as it is (e.g. "[DONE]")
    has: tuple[Pointer, ...] = ()  # present and not null
    equals: tuple[tuple[Pointer, tuple[Any, ...]], ...] = ()  # equal to one of the values

    def matches(self, event_type: str, data: str, payload: Any) -> bool:
        if self.events is not None and event_type not in self.events:
            return False
        if self.datas is not None and data.strip() not in self.datas:
            return False
        for pointer in self.has:
            if resolve(payload, pointer) in (MISSING, None):
                return False
        for pointer, values in self.equals:
            value = resolve(payload, pointer)
            if value is MISSING or not any(_same(value, v) for v in values):
                return False
        return True


def _same(a: Any, b: Any) -> bool:
    """JSON equality: true is not 1, 1 is 1.0."""
    if type(a) is bool or type(b) is bool:
        return a is b
    return bool(a == b)


@dataclass(frozen=True)
class Reading:
    """Where one kind of event keeps each field (None: it does not)."""

    text: Pointer | None = None
    reasoning: Pointer | None = None
    finish_reason: Pointer | None = None
    error: Pointer | None = None
    model: Pointer | None = None
    id: Pointer | None = None
    usage: tuple[tuple[str, Pointer], ...] = ()


@dataclass(frozen=True)
class Description:
    """A loaded dialect file (see the module docstring and the README)."""

    name: str
    source: str
    recognize: Condition
    end: Condition
    ignore: Condition | None = None
    cumulative: bool = False
    reading: Reading = Reading()
    rules: tuple[tuple[Condition, Reading], ...] = ()


def load(path: str) -> Description:
    """Read and check a dialect file; UsageError (exit 2) naming the file and key."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the dialect file: {exc.strerror}") from None
    if path.endswith(".toml"):
        document = _toml(path, raw)
    else:
        try:
            document = stdlib_loads(raw)  # too deep: not valid JSON
        except (UnicodeDecodeError, ValueError) as exc:
            raise UsageError(f"{path}: not valid JSON: {exc}") from None
    return _Checker(path).description(document)


def _toml(path: str, raw: bytes) -> Any:
    if sys.version_info >= (3, 11):
        import tomllib

        try:
            return tomllib.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise UsageError(f"{path}: not valid TOML: {exc}") from None
    raise UsageError(f"{path}: TOML dialect files need Python 3.11+; write it as JSON")


class _Checker:
    """Turns a parsed file into a Description, or raises naming the bad key."""

    def __init__(self, path: str) -> None:
        self.path = path

    def fail(self, key: str, problem: str) -> UsageError:
        return UsageError(f"{self.path}: {key!r}: {problem}" if key else f"{self.path}: {problem}")

    def description(self, document: Any) -> Description:
        if not isinstance(document, dict):
            raise self.fail("", "a dialect file is one object (see examples/dialects/)")
        self.known(document, _TOP_KEYS, "")
        name = document.get("name")
        if not isinstance(name, str) or not name.strip():
            raise self.fail("name", "required: the dialect's name (a non-empty string)")
        for key in ("recognize", "end"):
            if key not in document:
                raise self.fail(key, "required: a condition (event, data, has, equals)")
        cumulative = document.get("cumulative", False)
        if not isinstance(cumulative, bool):
            raise self.fail("cumulative", "must be true or false")
        rules = document.get("rules", [])
        if not isinstance(rules, list):
            raise self.fail("rules", "must be a list of objects with `when`")
        reading = self.reading(document, "", Reading())
        return Description(
            name=name.strip(),
            source=self.path,
            recognize=self.condition(document["recognize"], "recognize"),
            end=self.condition(document["end"], "end"),
            ignore=self.condition(document["ignore"], "ignore") if "ignore" in document else None,
            cumulative=cumulative,
            reading=reading,
            rules=tuple(self.rule(rule, f"rules[{n}]", reading) for n, rule in enumerate(rules)),
        )

    def known(self, document: dict[str, Any], keys: frozenset[str], where: str) -> None:
        for key in document:
            if key not in keys:
                allowed = ", ".join(sorted(keys))
                raise self.fail(f"{where}{key}", f"unknown key (known: {allowed})")

    def rule(self, rule: Any, where: str, base: Reading) -> tuple[Condition, Reading]:
        if not isinstance(rule, dict) or "when" not in rule:
            raise self.fail(where, "a rule is an object with `when` and the fields it reads")
        self.known(rule, _RULE_KEYS, f"{where}.")
        return self.condition(rule["when"], f"{where}.when"), self.reading(rule, f"{where}.", base)

    def reading(self, document: dict[str, Any], where: str, base: Reading) -> Reading:
        """The fields `document` gives, over `base`'s (in a rule, `null` removes one)."""
        in_rule = bool(where)
        fields: dict[str, Any] = {
            k: None if in_rule and document[k] is None else self.pointer(document[k], where + k)
            for k in FIELDS
            if k in document
        }
        if "usage" not in document:
            return replace(base, **fields)
        usage = document["usage"]
        if in_rule and usage is None:
            usage = {}
        if not isinstance(usage, dict) or not all(isinstance(k, str) for k in usage):
            raise self.fail(where + "usage", "must map usage names to pointers")
        pairs = tuple((k, self.pointer(v, f"{where}usage.{k}")) for k, v in usage.items())
        return replace(base, **fields, usage=pairs)

    def pointer(self, value: Any, key: str) -> Pointer:
        if not isinstance(value, str) or (value and not value.startswith("/")):
            raise self.fail(key, 'must be a JSON Pointer: "" or "/a/b" (RFC 6901)')
        if not value:
            return ()
        tokens = value[1:].split("/")
        if any(t.replace("~0", "").replace("~1", "").count("~") for t in tokens):
            raise self.fail(key, 'a "~" in a JSON Pointer is "~0" or "~1" (RFC 6901)')
        return tuple(t.replace("~1", "/").replace("~0", "~") for t in tokens)

    def condition(self, value: Any, key: str) -> Condition:
        if not isinstance(value, dict) or not value:
            raise self.fail(key, "must be a non-empty object (event, data, has, equals)")
        self.known(value, _CONDITION_KEYS, f"{key}.")
        has = value.get("has", [])
        if isinstance(has, str):
            has = [has]
        if not isinstance(has, list):
            raise self.fail(f"{key}.has", "must be a pointer or a list of pointers")
        equals = value.get("equals", {})
        if not isinstance(equals, dict):
            raise self.fail(f"{key}.equals", "must map pointers to a value or a list of values")
        return Condition(
            events=self.strings(value, "event", key),
            datas=self.strings(value, "data", key),
            has=tuple(self.pointer(p, f"{key}.has") for p in has),
            equals=tuple(
                (
                    self.pointer(p, f"{key}.equals"),
                    tuple(v) if isinstance(v, list) else (v,),
                )
                for p, v in equals.items()
            ),
        )

    def strings(self, value: dict[str, Any], name: str, key: str) -> frozenset[str] | None:
        if name not in value:
            return None
        given = value[name]
        given = [given] if isinstance(given, str) else given
        if not isinstance(given, list) or not all(isinstance(s, str) for s in given):
            raise self.fail(f"{key}.{name}", "must be a string or a list of strings")
        return frozenset(given)
