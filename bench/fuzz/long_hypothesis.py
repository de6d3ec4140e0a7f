"""Long hypothesis runs of the suite's property tests (issue 8), by hand.

The suite runs each property with a few hundred examples so that it stays
fast; this runs the same test functions with many more, for a time budget
each, and prints how many examples ran and whether any failed:

    python bench/fuzz/long_hypothesis.py --seconds 120

A failure prints hypothesis' falsifying example and exits 1.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

PROPERTIES = [
    "tests.test_sse:test_any_chunking_gives_the_same_events",
    "tests.test_sse:test_multibyte_characters_split_anywhere",
    "tests.test_sse:test_batch_lines_equal_one_by_one_lines",
    "tests.test_sse:test_runs_equal_the_line_path",
    "tests.test_pipeline:test_normalized_output_does_not_depend_on_how_the_input_is_cut",
    "tests.test_dialects:test_openai_chat_template_fast_path_changes_nothing",
    "tests.test_dialects:test_anthropic_template_fast_path_changes_nothing",
    "tests.test_repair:test_truncated_json_repairs_prefix_consistently",
    "tests.test_repair:test_valid_json_round_trips",
    "tests.test_capture:test_capture_then_read_gives_the_stream_and_each_events_time",
    "tests.test_keys:test_stream_redactor_any_chunking",
    "tests.test_events:test_batch_encoding_equals_one_line_per_event",
    "tests.test_transport:test_dechunker_returns_the_payload_as_it_arrives_whatever_the_reads",
]


def run(name: str, seconds: float) -> tuple[int, float]:
    module_name, function_name = name.split(":")
    test: Any = getattr(importlib.import_module(module_name), function_name)
    examples = 0
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        # The tests carry their own @settings, which hypothesis refuses to
        # stack; the settings it reads are this attribute, so widen them here.
        test._hypothesis_internal_use_settings = settings(
            test._hypothesis_internal_use_settings,
            max_examples=2000,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        test()  # raises on a falsifying example
        examples += 2000
    return examples, time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60, help="budget per property")
    parser.add_argument("--only", help="run the properties whose name contains this")
    args = parser.parse_args()
    print("| property | examples | seconds | result |")
    print("|---|---|---|---|")
    failed = False
    for name in PROPERTIES:
        if args.only and args.only not in name:
            continue
        try:
            examples, took = run(name, args.seconds)
            result = "no failure"
        except AttributeError as exc:
            examples, took, result = 0, 0.0, f"not found: {exc}"
        except Exception as exc:  # a falsifying example: report and go on
            examples, took, result = 0, 0.0, f"FAILED: {type(exc).__name__}: {exc}"
            failed = True
        print(f"| `{name}` | {examples:,} | {took:.0f} | {result} |", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
