"""Dialect files (`--dialect-file`): loading and checking (description), reading (described).

The shipped examples/dialects/ describe three built-in long-tail formats: on
the corpus, each gives exactly the events of its built-in dialect. A bad file
is one line naming the file and the key, exit 2.
"""

# Dialect files and events are written as they are, one per line (E501).
# ruff: noqa: E501

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ssechat import dialects
from ssechat.dialects.description import load
from ssechat.errors import UsageError
from tests.conftest import EXAMPLES, ROOT, case_input, corpus_params, json_lines, run_ssechat
from tests.test_dialects import fold, normalize, sse
from tests.test_send import replay, send

DIALECT_FILES = EXAMPLES / "dialects"
SHIPPED = {"cloudflare", "llamacpp", "vercel-ui"}  # built-ins the examples describe


@pytest.fixture
def register() -> Iterator[Callable[[Path], str]]:
    """Register dialect files for one test; the built-ins are back after it."""
    names: list[str] = []

    def register(path: Path) -> str:
        names.append(dialects.register(load(str(path))))
        return names[-1]

    yield register
    for name in names:
        dialects.unregister(name)


def write(tmp_path: Path, description: dict[str, Any], name: str = "d.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(description))
    return path


@pytest.mark.parametrize(
    "case",
    [
        p
        for p in corpus_params("longtail/streams.jsonl")
        if not p.values[0] or p.values[0]["dialect"] in SHIPPED
    ],
)
def test_file_and_built_in_dialect_give_the_same_output(
    case: dict[str, Any], register: Callable[[Path], str]
) -> None:
    data = case_input(case)
    built_in, built_in_outcome = normalize(data)
    assert built_in[0]["provider"] == case["dialect"]
    assert register(DIALECT_FILES / f"{case['dialect']}.json") == case["dialect"]
    described, outcome = normalize(data)
    assert type(dialects.create(case["dialect"])).__name__ == "Described"  # not the built-in
    assert described == built_in
    assert (outcome.errors, outcome.truncated) == (
        built_in_outcome.errors,
        built_in_outcome.truncated,
    )
    for k in range(len(data) // 3, len(data), max(1, len(data) // 40)):  # and cut anywhere
        dialects.unregister(case["dialect"])
        cut_built_in, _ = normalize(data[:k])
        register(DIALECT_FILES / f"{case['dialect']}.json")
        assert normalize(data[:k])[0] == cut_built_in, k


def test_json_pointers_escape_slash_and_tilde(
    tmp_path: Path, register: Callable[[Path], str]
) -> None:
    register(
        write(
            tmp_path,
            {
                "name": "p",
                "recognize": {"has": "/a~1b"},
                "text": "/a~1b",
                "reasoning": "/c~0d/0",
                "end": {"data": "[DONE]"},
            },
        )
    )
    events, _ = normalize(sse((None, '{"a/b": "text", "c~d": ["thought"]}'), (None, "[DONE]")))
    assert fold(events)["text"] == "text" and fold(events)["reasoning"] == "thought"


def test_every_shipped_example_loads() -> None:
    for path in sorted(DIALECT_FILES.iterdir()):
        if path.suffix == ".toml" and sys.version_info < (3, 11):
            continue
        assert load(str(path)).name, path


def test_rules_ignore_cumulative_and_model(tmp_path: Path, register: Callable[[Path], str]) -> None:
    path = write(
        tmp_path,
        {
            "name": "acme",
            "recognize": {"event": ["acme.delta", "acme.done"]},
            "ignore": {"event": "acme.ping"},
            "cumulative": True,
            "model": "/model",
            "rules": [
                {"when": {"event": "acme.delta"}, "text": "/so_far", "reasoning": "/thought"},
                {
                    "when": {"event": "acme.done"},
                    "finish_reason": "/why",
                    "usage": {"input_tokens": "/n/in", "output_tokens": "/n/out", "cost": "/n/usd"},
                },
            ],
            "end": {"event": "acme.done"},
        },
    )
    register(path)
    data = sse(
        ("acme.delta", '{"model": "a1", "so_far": "He", "thought": "Hm"}'),
        ("acme.ping", "{}"),
        ("acme.delta", '{"so_far": "Hello", "thought": "Hmm"}'),
        ("acme.done", '{"why": "complete", "n": {"in": 3, "out": 2, "usd": 0.1}}'),
        ("acme.ping", "{}"),  # after the end: opens nothing
    )
    events, outcome = normalize(data)
    assert events == [
        {"type": "start", "provider": "acme", "model": "a1"},
        {"type": "reasoning", "text": "Hm"},
        {"type": "delta", "text": "He"},
        {"type": "reasoning", "text": "m"},
        {"type": "delta", "text": "llo"},
        {"type": "usage", "input_tokens": 3, "output_tokens": 2, "cost": 0.1},
        {"type": "done", "finish_reason": "complete"},
    ]
    assert outcome.errors == outcome.truncated == 0
    cut, outcome = normalize(data[: data.index(b"event: acme.done")])
    assert cut[-1]["code"] == "truncated" and outcome.truncated == 1


def test_the_readme_worked_example_is_the_file_tested_above(
    tmp_path: Path, register: Callable[[Path], str]
) -> None:
    readme = (ROOT / "README.md").read_text()
    block = readme.split("A worked example", 1)[1].split("```json\n", 1)[1].split("```", 1)[0]
    register(write(tmp_path, json.loads(block)))
    data = sse(
        ("acme.delta", '{"model": "a1", "so_far": "He"}'),
        ("acme.ping", "{}"),
        ("acme.delta", '{"so_far": "Hello"}'),
        ("acme.done", '{"why": "complete", "n": {"in": 3, "out": 2}}'),
    )
    events, _ = normalize(data)
    assert events == [
        {"type": "start", "provider": "acme", "model": "a1"},
        {"type": "delta", "text": "He"},
        {"type": "delta", "text": "llo"},
        {"type": "usage", "input_tokens": 3, "output_tokens": 2},
        {"type": "done", "finish_reason": "complete"},
    ]


def test_errors_in_the_data_and_error_events(
    tmp_path: Path, register: Callable[[Path], str]
) -> None:
    register(
        write(
            tmp_path,
            {
                "name": "errs",
                "recognize": {"has": "/t"},
                "text": "/t",
                "error": "/problem",
                "end": {"data": "[DONE]"},
            },
        )
    )
    events, outcome = normalize(
        sse((None, '{"t": "a"}'), (None, '{"t": "", "problem": {"message": "boom", "code": 7}}'))
    )
    assert {"type": "error", "message": "boom", "code": 7} in events
    assert events[-1] == {"type": "done", "finish_reason": None} and outcome.errors == 1
    events, outcome = normalize(sse((None, '{"t": "a"}'), ("error", "overloaded")))
    assert fold(events)["error"] == "overloaded" and outcome.errors == 1


def test_toml_dialect_file_over_ndjson(register: Callable[[Path], str]) -> None:
    if sys.version_info < (3, 11):  # no tomllib: a clear error, no skip
        with pytest.raises(UsageError, match=r"TOML dialect files need Python 3\.11\+"):
            register(DIALECT_FILES / "ndjson-chat.toml")
        return
    register(DIALECT_FILES / "ndjson-chat.toml")
    data = b'{"delta": {"thinking": "hm"}}\n{"delta": {"text": "Hi"}}\n{"finished": true, "reason": "stop", "tokens": {"in": 1, "out": 2}}\n'
    got = fold(normalize(data)[0])
    assert (got["text"], got["reasoning"], got["finish_reason"]) == ("Hi", "hm", "stop")
    assert got["usage"] == {"input_tokens": 1, "output_tokens": 2}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[1, 2]", "a dialect file is one object"),
        ('{"name": "x", "end": {"data": "[DONE]"}}', "'recognize': required"),
        ('{"recognize": {"has": "/a"}, "end": {"data": "[DONE]"}}', "'name': required"),
        ('{"name": "x", "recognize": {"has": "/a"}}', "'end': required"),
        (
            '{"name": "x", "recognize": {"hass": "/a"}, "end": {"data": "[DONE]"}}',
            "'recognize.hass': unknown key",
        ),
        (
            '{"name": "x", "recognize": {}, "end": {"data": "[DONE]"}}',
            "'recognize': must be a non-empty object",
        ),
        (
            '{"name": "x", "recognize": {"has": "a"}, "end": {"data": "[DONE]"}}',
            "'recognize.has': must be a JSON Pointer",
        ),
        (
            '{"name": "x", "recognize": {"has": "/a"}, "end": {"data": 1}}',
            "'end.data': must be a string",
        ),
        (
            '{"name": "x", "recognize": {"has": "/a"}, "end": {"data": "[DONE]"}, "text": 3}',
            "'text': must be a JSON Pointer",
        ),
        (
            '{"name": "x", "recognize": {"has": "/a"}, "end": {"data": "[DONE]"}, "txt": "/t"}',
            "'txt': unknown key",
        ),
        (
            '{"name": "x", "recognize": {"has": "/a"}, "end": {"data": "[DONE]"}, "rules": [{"text": "/t"}]}',
            "'rules[0]': a rule is an object with `when`",
        ),
        (
            '{"name": "x", "recognize": {"has": "/a"}, "end": {"data": "[DONE]"}, "usage": {"input_tokens": "x"}}',
            "'usage.input_tokens': must be a JSON Pointer",
        ),
        (
            '{"name": "x", "recognize": {"has": "/a"}, "end": {"data": "[DONE]"}, "cumulative": "yes"}',
            "'cumulative': must be true or false",
        ),
        ('{"name": "x",', "not valid JSON"),
        (
            '{"name": "x", "recognize": {"has": "/a~2b"}, "end": {"data": "[DONE]"}}',
            "'recognize.has': a \"~\" in a JSON Pointer",
        ),
    ],
)
def test_a_bad_file_is_one_line_naming_the_file_and_the_key(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(UsageError) as caught:
        load(str(path))
    assert str(caught.value).startswith(f"{path}: ") and message in str(caught.value)


def test_parse_sse_dialect_file_through_the_command(tmp_path: Path) -> None:
    data = b'data: {"response":"Hi","p":"x"}\n\ndata: {"response":"","usage":{"prompt_tokens":1,"completion_tokens":1}}\n\ndata: [DONE]\n\n'
    proc = run_ssechat(
        ["parse-sse", "--dialect-file", str(DIALECT_FILES / "cloudflare.json")], data
    )
    assert proc.returncode == 0 and json_lines(proc.stdout)[-1] == {
        "type": "done",
        "finish_reason": None,
    }
    bad = write(tmp_path, {"name": "x", "recognize": {"has": "/a"}, "end": {"data": 5}})
    proc = run_ssechat(["parse-sse", "--dialect-file", str(bad)], data)
    assert proc.returncode == 2 and proc.stdout == b""
    assert (
        proc.stderr.decode().strip()
        == f"ssechat: error: {bad}: 'end.data': must be a string or a list of strings"
    )
    proc = run_ssechat(["parse-sse", "--events", "--dialect-file", str(bad)], data)
    assert proc.returncode == 2


def test_send_reads_a_described_format_from_a_local_server(tmp_path: Path) -> None:
    capture = tmp_path / "acme.sse"
    capture.write_bytes(
        b'event: acme.delta\ndata: {"t": "Hello"}\n\nevent: acme.done\ndata: {"why": "ok"}\n\n'
    )
    description = write(
        tmp_path,
        {
            "name": "acme",
            "recognize": {"event": "acme.delta"},
            "text": "/t",
            "finish_reason": "/why",
            "end": {"event": "acme.done"},
        },
    )
    with replay(tmp_path, capture) as server:
        result = send(server.url, "--dialect-file", str(description), "hi")
    events = json_lines(result.stdout)
    assert result.returncode == 0, result.stderr
    assert events[0]["provider"] == "acme" and fold(events)["text"] == "Hello"
    assert events[-1] == {"type": "done", "finish_reason": "ok"}
