"""API key resolution and redaction (ssechat/keys.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ssechat.errors import ExitStatus, UsageError
from ssechat.keys import REDACTED, KeySource, Redactor, StreamRedactor, resolve_key

KEY = "sk-proj-FAKEabcdefghijklmnopqrstuvwxyz0123456789WXYZ"


def test_provider_variable() -> None:
    assert resolve_key("OPENAI_API_KEY", KeySource(), {"OPENAI_API_KEY": KEY}) == KEY


def test_override_variable_wins() -> None:
    env = {"OPENAI_API_KEY": "sk-other", "SSECHAT_API_KEY": KEY}
    assert resolve_key("OPENAI_API_KEY", KeySource(), env) == KEY


def test_named_variable() -> None:
    env = {"MY_GATEWAY_KEY": KEY, "OPENAI_API_KEY": "sk-other"}
    assert resolve_key("OPENAI_API_KEY", KeySource(env_name="MY_GATEWAY_KEY"), env) == KEY


def test_missing_key_names_the_variable() -> None:
    with pytest.raises(UsageError) as info:
        resolve_key("ANTHROPIC_API_KEY", KeySource(), {})
    assert "ANTHROPIC_API_KEY" in str(info.value)
    assert info.value.exit_status == ExitStatus.USAGE


def test_missing_named_variable() -> None:
    with pytest.raises(UsageError, match="MY_KEY"):
        resolve_key("OPENAI_API_KEY", KeySource(env_name="MY_KEY"), {"OPENAI_API_KEY": KEY})


def test_key_file_first_line(tmp_path: Path) -> None:
    path = tmp_path / "key"
    path.write_text(f"{KEY}\nsecond line\n")
    assert resolve_key("OPENAI_API_KEY", KeySource(file=str(path)), {}) == KEY


def test_key_file_missing(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--api-key-file"):
        resolve_key("OPENAI_API_KEY", KeySource(file=str(tmp_path / "nope")), {})


def test_key_command_runs_without_a_shell(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    cmd = f"{sys.executable} -c 'print(\"{KEY}\")' ; touch {marker}"
    # Without a shell, `;` and `touch` are just more arguments to python.
    assert resolve_key("OPENAI_API_KEY", KeySource(cmd=cmd), {}) == KEY
    assert not marker.exists()


def test_key_command_failure_does_not_echo_output() -> None:
    cmd = f"{sys.executable} -c 'print(\"{KEY}\"); raise SystemExit(3)'"
    with pytest.raises(UsageError) as info:
        resolve_key("OPENAI_API_KEY", KeySource(cmd=cmd), {})
    assert "status 3" in str(info.value)
    assert KEY not in str(info.value)


@pytest.mark.parametrize(
    "message",
    [
        f"Incorrect API key provided: {KEY}.",
        "Incorrect API key provided: sk-proj-****************************************WXYZ.",
        "Incorrect API key provided: sk-...WXYZ. You can find your API key at ...",
        "Incorrect API key provided: sk-proj-FAKE***WXYZ",
        "key sk-proj-FAKEabcdefghij was rejected",
        "invalid x-api-key: ...0123456789WXYZ",
    ],
)
def test_redactor_removes_key_and_masked_fragments(message: str) -> None:
    out = Redactor([KEY])(message)
    assert REDACTED in out
    assert "WXYZ" not in out
    assert "FAKEabcdefghij" not in out


def test_redactor_leaves_other_text() -> None:
    text = "HTTP 429: Rate limit reached for gpt-4o-mini... please retry (rate_limit_exceeded)"
    assert Redactor([KEY])(text) == text


@given(st.lists(st.integers(min_value=0, max_value=200), max_size=8), st.text(max_size=40))
def test_stream_redactor_any_chunking(cuts: list[int], filler: str) -> None:
    """The key (and a cut piece of it) is removed wherever the chunks are cut, as in one read."""
    data = f"data: {filler}{KEY}{filler}\n\ndata: ok {KEY[:10]}\n\n".encode()
    whole = StreamRedactor([KEY])
    expected = whole.feed(data) + whole.close()
    assert KEY[:10].encode() not in expected
    assert expected.count(REDACTED.encode()) >= 2
    points = sorted({min(c, len(data)) for c in cuts})
    pieces = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    redactor = StreamRedactor([KEY])
    out = b"".join(redactor.feed(p) for p in pieces) + redactor.close()
    assert out == expected


def test_stream_redactor_holds_nothing_back_after_a_line_end() -> None:
    redactor = StreamRedactor([KEY])
    assert redactor.feed(b"data: x\n\n") == b"data: x\n\n"


def test_placeholder_keys_are_not_redacted_out_of_the_answer() -> None:
    """A local server's dummy key ("x", "ollama") must not eat the answer's letters."""
    from ssechat.keys import Redactor, StreamRedactor

    text = 'data: {"type":"text_delta","text":"exactly six"}\n\n'
    for placeholder in ("x", "ollama", "test"):
        assert Redactor([placeholder]).redact(text) == text
        stream = StreamRedactor([placeholder])
        assert stream.feed(text.encode()) + stream.close() == text.encode()
    real = "sk-proj-0123456789abcdef"
    assert real not in Redactor([real]).redact(f"key {real} echoed")
    stream = StreamRedactor([real])
    assert real.encode() not in stream.feed(f"key {real} echoed".encode()) + stream.close()


def _redacting(text: str) -> object:
    return lambda: Redactor([KEY]).redact(text, limit=None)


@pytest.mark.parametrize("unit", ["a", "ab.", "x*", "sk-proj-", "\\u0073k"])
def test_redaction_is_linear_in_the_text(unit: str) -> None:
    """The masked-key search once backtracked: a 30 KB message took 34 s."""
    from tests.test_hardening import assert_linear

    assert_linear(lambda n: _redacting(unit * n), 4000)


def test_a_long_message_is_cut_after_redaction() -> None:
    text = "x" * 4090 + KEY + "y" * 10_000
    out = Redactor([KEY]).redact(text, limit=4096)
    assert len(out) <= 4096 + 3 and KEY[:9] not in out


@pytest.mark.parametrize(
    "echo",
    [
        "".join(f"\\u{ord(c):04x}" for c in KEY),
        "\\u0073" + KEY[1:],
        KEY.replace("-", "\\u002d"),
        "first " + KEY[:20] + '", "next": "' + KEY[20:],
    ],
    ids=["all-escaped", "first-escaped", "dashes-escaped", "split"],
)
def test_escaped_and_split_keys_are_redacted_in_text_and_bytes(echo: str) -> None:
    line = f'data: {{"text": "{echo}"}}\n\n'
    for out in (Redactor([KEY]).redact(line), StreamRedactor([KEY]).feed(line.encode()).decode()):
        assert REDACTED in out
        assert not any(KEY[i : i + 9] in out for i in range(len(KEY) - 8)), out


@pytest.mark.parametrize("bad", [KEY + "\nline two", "sk a b", KEY + "\x00", "sk-\u4e2d" + KEY])
def test_a_key_is_checked_when_read_and_never_shown(bad: str) -> None:
    with pytest.raises(UsageError) as info:
        resolve_key("OPENAI_API_KEY", KeySource(), {"OPENAI_API_KEY": bad})
    assert info.value.exit_status == ExitStatus.USAGE
    assert KEY[:9] not in str(info.value) and "OPENAI_API_KEY" in str(info.value)


def test_a_key_with_a_slash_is_found_behind_an_escaped_slash() -> None:
    key = "sk-abc/defghijklmnop+qrstuvwxyz=="
    line = 'data: {"text": "' + key.replace("/", "\\/") + '"}\n\n'
    for out in (Redactor([key]).redact(line), StreamRedactor([key]).feed(line.encode()).decode()):
        assert out == 'data: {"text": "[REDACTED]"}\n\n'
    assert StreamRedactor([KEY]).feed(b'data: {"t": "a \\" b \\\\ c"}\n\n') == (
        b'data: {"t": "a \\" b \\\\ c"}\n\n'
    )
