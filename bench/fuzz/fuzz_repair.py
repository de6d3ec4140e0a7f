"""Fuzz repair-json (ssechat.repair): the command's entry and the dialects' entry.

Run: python bench/fuzz/fuzz_repair.py /tmp/fuzz-repair bench/fuzz/corpus/repair \
         -max_total_time=600 -timeout=10 -rss_limit_mb=1024 -dict=bench/fuzz/repair.dict

Checks: no exception but the project's own (RepairError is an InputError);
a repaired value is written as JSON that parses back to the same text; valid
JSON is taken as given; what `parse_tool_arguments` repairs is an object or array.
`repair_bytes` runs with the CLI's default time bound; `parse_tool_arguments`
has none, so -timeout catches an input on which it would hang a stream.
"""

from __future__ import annotations

import json

import atheris

with atheris.instrument_imports(include=["ssechat", "json_repair"]):
    from ssechat import repair
    from ssechat.errors import SsechatError
    from ssechat.repair import strict

from _harness import main


def test_one(data: bytes) -> None:
    try:
        result = repair.repair_bytes(data, timeout=2.0)
    except SsechatError:
        pass
    else:
        try:
            text = strict.dumps(result.value)
        except SsechatError:
            pass  # a number past float range has no JSON form: refused, not a crash
        else:
            again = json.loads(text)
            assert strict.dumps(again) == text, "the output does not parse back to itself"
            if result.valid:
                expected = json.loads(data.removeprefix(b"\xef\xbb\xbf"))
                assert strict.dumps(expected) == text, "valid JSON was changed"
    text_input = data.decode("utf-8", "replace")
    try:
        value, repaired = repair.parse_tool_arguments(text_input)
    except SsechatError:
        return
    assert not repaired or isinstance(value, (dict, list)), type(value)


if __name__ == "__main__":
    main(test_one)
