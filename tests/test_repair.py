"""ssechat.repair: the stages, the completion pass, the time bound, and its properties."""

from __future__ import annotations

import json
import re
import signal
import time
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ssechat import repair
from ssechat.repair import RepairError, RepairTimeout, parse_tool_arguments
from ssechat.repair.complete import close_truncated
from ssechat.repair.result import (
    COMMAS,
    COMMENTS,
    FENCE,
    JSONP,
    KEYS,
    LITERALS,
    PROSE,
    QUOTES,
    TRAILING,
    TRUNCATED,
)
from ssechat.repair.strict import dumps

# ------------------------------------------------------------- the completion pass


@pytest.mark.parametrize(
    ("prefix", "closed"),
    [
        ('{"a": [1, 2', {"a": [1, 2]}),
        ('{"a": "hel', {"a": "hel"}),
        ('{"a": "he\\u00', {"a": "he"}),
        ('{"a": "he\\', {"a": "he"}),
        ('{"a": "he\\\\', {"a": "he\\"}),
        ('{"a": "x\\"y', {"a": 'x"y'}),
        ('["\\ud83d', [""]),
        ('["\\u001f\\ud800\\', ["\x1f"]),
        ('{"a": 1, "b', {"a": 1}),
        ('{"a": 1, "b"', {"a": 1}),
        ('{"a": 1, "b":', {"a": 1}),
        ('{"a": 1, "b": ', {"a": 1}),
        ('{"a": 1,', {"a": 1}),
        ("[1, 2, nul", [1, 2, None]),
        ("[tr", [True]),
        ('{"n": -', {}),
        ('{"n": 1.5e+', {"n": 1.5}),
        ("[12", [12]),
        ('[{"k": [{"x": {}}, "y"', [{"k": [{"x": {}}, "y"]}]),
        ('"top', "top"),
        ("{", {}),
        ('{"s": "a]{b", "t": ["c}', {"s": "a]{b", "t": ["c}"]}),
        ('{"url": "https://x/}', {"url": "https://x/"}),  # read as a missing end quote
        ('[{"a": "x}]', [{"a": "x"}]),
    ],
)
def test_close_truncated(prefix: str, closed: Any) -> None:
    assert close_truncated(prefix) == (closed,)


@pytest.mark.parametrize(
    "text",
    [
        "{'a': 1",  # single quotes: other damage, for json_repair
        '{"a": 1}}',  # a stray closer
        '{"a": [1}',  # mismatched
        "[1, 2] [3",  # two documents
        '{"a": 1, b',  # an unquoted key
        '{"a": 1}',  # complete: nothing to close
        "   ",
    ],
)
def test_close_truncated_leaves_other_damage_alone(text: str) -> None:
    assert close_truncated(text) is None


def _items(n: int) -> list[dict[str, object]]:
    return [{"id": i, "name": f"item {i} é", "tags": ["a[b", 'c"d'], "n": i / 7} for i in range(n)]


def _cut_document(n: int) -> str:
    text = json.dumps({"items": _items(n)})
    return text[: len(text) * 9 // 10]


def test_close_truncated_is_linear_in_practice() -> None:
    from tests.test_hardening import assert_linear

    def make(n: int) -> Callable[[], object]:
        cut = _cut_document(n)
        return lambda: close_truncated(cut)

    assert_linear(make, 2000)  # up to 20000 items, ~2.5 MB
    closed = close_truncated(_cut_document(20000))
    assert closed is not None and closed[0]["items"][:100] == _items(100)


# --------------------------------------------------------------------- the stages


def test_valid_json_is_untouched() -> None:
    result = repair.repair_bytes(b'{"a": [1, 2.5, "\\u00e9", 123456789012345678901234567890]}')
    assert result.valid and not result.repaired and not result.truncated
    assert result.value == {"a": [1, 2.5, "é", 123456789012345678901234567890]}
    assert result.changes == ()


def test_nan_is_not_valid_json() -> None:
    result = repair.repair_text('{"a": NaN}')
    assert result.repaired


@pytest.mark.parametrize(
    ("text", "value", "change"),
    [
        ('```json\n{"a": 1}\n```', {"a": 1}, FENCE),
        ('```\n{"a": 1', {"a": 1}, FENCE),
        ('The answer: {"a": 1}. Hope it helps!', {"a": 1}, PROSE),
        ('See [1] and [2]: {"a": [1, 2]}', {"a": [1, 2]}, PROSE),
        ('{"a": 1}\nHope it helps!', {"a": 1}, TRAILING),
        ('callback({"a": 1});', {"a": 1}, JSONP),
        ("{'a': 'b'}", {"a": "b"}, QUOTES),
        ('{"a": True, "b": None}', {"a": True, "b": None}, LITERALS),
        ('{"a": 1, // note\n "b": 2}', {"a": 1, "b": 2}, COMMENTS),
        ('{"a": 1,}', {"a": 1}, COMMAS),
        ('{a: "b"}', {"a": "b"}, KEYS),
    ],
)
def test_stages_say_what_they_did(text: str, value: Any, change: str) -> None:
    result = repair.repair_text(text)
    assert result.value == value
    assert change in result.changes
    assert result.repaired


def test_damaged_and_truncated_is_still_said_to_be_truncated() -> None:
    result = repair.repair_text("{'a': [1, 2")
    assert result.value == {"a": [1, 2]}
    assert result.truncated and TRUNCATED in result.changes


@pytest.mark.parametrize(
    "text",
    [
        "",
        " \n",
        "I am sorry, I cannot do that.",
        "Null",
        "abc\x01def",
        '"',
        '"\\u12',
    ],
)
def test_meaningless_input_is_refused(text: str) -> None:
    with pytest.raises(RepairError):
        repair.repair_text(text)


def test_binary_bytes_are_refused() -> None:
    with pytest.raises(RepairError, match="binary"):
        repair.repair_bytes(b"\xff\xfe{\x00")


@pytest.mark.parametrize(
    ("text", "value"),
    [("'abc", "abc"), ("True", True), ("1,2,3", [1, 2, 3]), ("-.3", -0.3), ("n", None)],
)
def test_bare_scalars_are_repaired(text: str, value: Any) -> None:
    assert repair.repair_text(text).value == value


# ------------------------------------------------------------------ the time bound


PATHOLOGICAL = "{'a': '" + "," * 200_000 + "x}"


def test_timeout_stops_json_repair_and_restores_the_handler() -> None:
    before = signal.getsignal(signal.SIGALRM)
    start = time.perf_counter()
    with pytest.raises(RepairTimeout, match=r"within 0\.2 s"):
        repair.repair_text(PATHOLOGICAL, timeout=0.2)
    assert time.perf_counter() - start < 5
    assert signal.getsignal(signal.SIGALRM) is before
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


# -------------------------------------------------------------- tool-call arguments


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", ({}, False)),
        ("  ", ({}, False)),
        ('{"a": 1}', ({"a": 1}, False)),
        ("[]", ([], False)),
        ('{"a": [1, 2', ({"a": [1, 2]}, True)),
        ("{'a': True}", ({"a": True}, True)),
    ],
)
def test_parse_tool_arguments(raw: str, expected: tuple[Any, bool]) -> None:
    assert parse_tool_arguments(raw) == expected


@pytest.mark.parametrize("raw", ["just words", '"a string"x', "{", "[,"])
def test_parse_tool_arguments_refuses(raw: str) -> None:
    with pytest.raises(RepairError):
        parse_tool_arguments(raw)


# -------------------------------------------------------------------- the output


def test_dumps() -> None:
    assert dumps({"a": "é"}) == '{"a":"é"}'.encode()
    assert dumps({"a": "é"}, ensure_ascii=True) == b'{"a":"\\u00e9"}'
    assert dumps([1], indent=2) == b"[\n  1\n]"
    assert dumps(2**70) == b"1180591620717411303424"
    assert dumps("\ud800") == b'"\\ud800"'


# -------------------------------------------------------------------- properties

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=6), children, max_size=5)
    ),
    max_leaves=25,
)
serializations = st.sampled_from(
    [
        {"separators": (",", ":")},
        {},
        {"indent": 2},
        {"indent": 1, "ensure_ascii": False},
    ]
)
_NOTHING_YET = re.compile(
    r'\s*(?:-|"(?:\\u[dD][89abAB][0-9a-fA-F]{2})?(?:\\(?:u[0-9a-fA-F]{0,3})?)?)?\s*'
)


def prefix_consistent(got: Any, original: Any) -> bool:
    """`got` is what a prefix of `original` says: containers cut, last item partial."""
    if isinstance(original, dict):
        if not isinstance(got, dict) or list(got) != list(original)[: len(got)]:
            return False
        keys = list(got)
        return all(got[k] == original[k] for k in keys[:-1]) and (
            not keys or prefix_consistent(got[keys[-1]], original[keys[-1]])
        )
    if isinstance(original, list):
        if not isinstance(got, list) or len(got) > len(original):
            return False
        return all(a == b for a, b in zip(got[:-1], original, strict=False)) and (
            not got or prefix_consistent(got[-1], original[len(got) - 1])
        )
    if isinstance(original, str):
        return isinstance(got, str) and original.startswith(got)
    if isinstance(original, bool) or original is None:
        return got is original
    return isinstance(got, (int, float)) and not isinstance(got, bool)


@settings(max_examples=300, deadline=None)
@given(value=json_values, options=serializations, data=st.data())
@example(value={"a": [1, "x]"]}, options={}, data=None)
@example(value="\x1f\U00010000", options={}, data=None)
def test_truncated_json_repairs_prefix_consistently(
    value: Any, options: dict[str, Any], data: Any
) -> None:
    text = json.dumps(value, **options)
    cut = data.draw(st.integers(0, len(text))) if data is not None else len(text) - 1
    prefix = text[:cut]
    try:
        result = repair.repair_text(prefix)
    except RepairError:
        assert _NOTHING_YET.fullmatch(prefix), f"refused {prefix!r}"
        return
    assert prefix_consistent(result.value, value), (prefix, result.value)
    if cut == len(text):
        assert result.valid and result.value == value


@settings(max_examples=100, deadline=None)
@given(value=json_values, options=serializations)
def test_valid_json_round_trips(value: Any, options: dict[str, Any]) -> None:
    result = repair.repair_text(json.dumps(value, **options))
    assert result.valid and result.value == value
    assert json.loads(dumps(result.value)) == value


def test_tool_arguments_repair_is_bounded_in_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """A pathological argument string cannot stall a stream: json_repair is cut off."""
    import time as _time

    from ssechat import repair as repair_module
    from ssechat.repair import fallback

    def slow(text: str) -> object:
        _time.sleep(5)
        return {"never": True}

    monkeypatch.setattr(repair_module, "TOOL_ARGUMENTS_REPAIR_SECONDS", 0.2)
    monkeypatch.setattr(fallback, "json_repair", slow)
    started = _time.monotonic()
    with pytest.raises(repair_module.RepairError, match=r"within 0\.2 s"):
        repair_module.parse_tool_arguments("{'a': 1 'b': 2}")
    assert _time.monotonic() - started < 2


def test_the_time_bound_is_skipped_off_the_main_thread() -> None:
    """Signals reach only the main thread: elsewhere json_repair runs unbounded, and works."""
    import threading

    before = signal.getsignal(signal.SIGALRM)
    results: list[Any] = []
    thread = threading.Thread(
        target=lambda: results.append(repair.repair_text("{'a': 1}", timeout=0.5))
    )
    thread.start()
    thread.join()
    assert results[0].value == {"a": 1} and results[0].repaired
    assert signal.getsignal(signal.SIGALRM) is before


def test_a_repair_is_an_immutable_value() -> None:
    from ssechat.repair.result import Repair

    first = Repair({"a": [1]}, valid=False, truncated=True, changes=("x",))
    same = Repair({"a": [1]}, False, True, ("x",))
    assert first == same and first != Repair({"a": [1]}, valid=False)
    assert first != ({"a": [1]}, False, True, ("x",))  # not a tuple
    assert hash(Repair(1, valid=True)) == hash(Repair(1, valid=True))
    assert first.repaired and not Repair(1, valid=True).repaired
    assert repr(first) == "Repair(value={'a': [1]}, valid=False, truncated=True, changes=('x',))"
    with pytest.raises(AttributeError):
        first.value = 2  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del first.valid
    with pytest.raises(AttributeError):
        first.extra = 1  # type: ignore[attr-defined]
    match first:
        case Repair(value, False, True, changes):
            assert (value, changes) == ({"a": [1]}, ("x",))
        case _:
            pytest.fail("a Repair matches its fields by position")
