"""Generate the benchmark captures into bench/data/ (git-ignored).

One generator for every benchmark, deterministic (fixed seed), so every
runner and every machine times the same bytes:

- openai-1m.sse      1,000,000 events of one OpenAI chat-completions stream
                     (role chunk, text deltas, finish chunk, usage chunk,
                     `[DONE]`), about 260 MB;
- openai-200k.sse    the same shape with 200,000 events (the memory check
                     compares it with openai-1m);
- anthropic-200k.sse 200,000 events of one Anthropic Messages stream
                     (`event:` lines, pings, text deltas);
- tools-200k.sse     200,000 events of one OpenAI stream with 8 parallel tool
                     calls whose arguments stream in small fragments and
                     join into valid JSON;
- tiny.sse           a 3-event stream for the start-up timings.

Usage: python bench/gen_captures.py [--only NAME ...] [--force]
Existing files are kept unless --force.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
from collections.abc import Callable, Iterator
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
SEED = 20261122

# Words of a plausible answer; a few non-ASCII ones so UTF-8 decoding is real.
_WORD_TEXT = (
    "the of and to in is that it for on with as was at by an be this from or "
    "stream event server token model response request latency buffer chunk "
    "parser decoder output pipeline shell json line delta answer tool call "
    "arguments function weather city temperature forecast naïve café résumé "
    "Zürich 東京 данные 🙂 — “quoted” \\ back\\slash tab\t"
)
WORDS = _WORD_TEXT.split(" ")

OPENAI_HEAD = (
    'data: {"id":"chatcmpl-AXq7Lm2RzT9bV4kP0sNwYcE1uHdGf","object":"chat.completion.chunk",'
    '"created":1763776800,"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_7f4d2c9e1a",'
    '"choices":[{"index":0,"delta":'
)
OPENAI_TAIL = ',"logprobs":null,"finish_reason":null}]}\n\n'


def _q(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _words(rng: random.Random) -> Iterator[str]:
    choice = rng.choice
    while True:
        yield " " + choice(WORDS) if rng.random() < 0.85 else choice(WORDS) + ","


def openai_text(n: int) -> Iterator[str]:
    """n events of an OpenAI chat-completions text stream."""
    rng = random.Random(SEED)
    yield OPENAI_HEAD + '{"role":"assistant","content":"","refusal":null}' + OPENAI_TAIL
    words = _words(rng)
    for _ in range(n - 4):
        yield OPENAI_HEAD + '{"content":' + _q(next(words)) + "}" + OPENAI_TAIL
    yield OPENAI_HEAD + '{},"logprobs":null,"finish_reason":"stop"}]}\n\n'
    yield (
        'data: {"id":"chatcmpl-AXq7Lm2RzT9bV4kP0sNwYcE1uHdGf","object":"chat.completion.chunk",'
        '"created":1763776800,"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_7f4d2c9e1a",'
        f'"choices":[],"usage":{{"prompt_tokens":41,"completion_tokens":{n - 4},'
        f'"total_tokens":{n + 37}}}}}\n\n'
    )
    yield "data: [DONE]\n\n"


def anthropic_text(n: int) -> Iterator[str]:
    """n events of an Anthropic Messages text stream (with a ping every 1000)."""
    rng = random.Random(SEED + 1)
    yield (
        "event: message_start\n"
        'data: {"type":"message_start","message":{"id":"msg_01XFDUDYJgAACzvnptvVoYEL",'
        '"type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[],'
        '"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"output_tokens":1}}}'
        "\n\n"
    )
    yield (
        "event: content_block_start\n"
        'data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}'
        "\n\n"
    )
    words = _words(rng)
    for i in range(n - 5):
        if i % 1000 == 999:
            yield 'event: ping\ndata: {"type":"ping"}\n\n'
            continue
        yield (
            "event: content_block_delta\n"
            'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":'
            + _q(next(words))
            + "}}\n\n"
        )
    yield 'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n'
    yield (
        "event: message_delta\n"
        'data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},'
        f'"usage":{{"output_tokens":{n}}}}}\n\n'
    )
    yield 'event: message_stop\ndata: {"type":"message_stop"}\n\n'


def openai_tools(n: int, calls: int = 8) -> Iterator[str]:
    """n events of an OpenAI stream with `calls` parallel tool calls.

    Each call's arguments are one JSON object {"records": [...]} cut into
    fragments of 1 to 12 characters, one fragment per event, so the joined
    arguments of every call are valid JSON.
    """
    rng = random.Random(SEED + 2)
    yield OPENAI_HEAD + '{"role":"assistant","content":null,"refusal":null}' + OPENAI_TAIL
    per_call = (n - 3) // calls
    extra = (n - 3) - per_call * calls
    for index in range(calls):
        fragments = per_call + (1 if index < extra else 0)
        start = (
            f'{{"tool_calls":[{{"index":{index},"id":"call_{index:08d}Qx","type":"function",'
            '"function":{"name":"lookup_records","arguments":""}}]}'
        )
        yield OPENAI_HEAD + start + OPENAI_TAIL
        for piece in _argument_fragments(rng, fragments - 1):
            yield (
                OPENAI_HEAD
                + f'{{"tool_calls":[{{"index":{index},"function":{{"arguments":{_q(piece)}}}}}]}}'
                + OPENAI_TAIL
            )
    yield OPENAI_HEAD + '{},"logprobs":null,"finish_reason":"tool_calls"}]}\n\n'
    yield "data: [DONE]\n\n"


def _argument_fragments(rng: random.Random, count: int) -> list[str]:
    """`count` fragments (count >= 2) that join into one valid JSON object."""
    words = _words(rng)
    pieces: list[str] = ['{"records":[']
    text_len = 0
    record = 0
    # Build records until there is enough text to cut into count-1 fragments.
    body: list[str] = []
    target = (count - 1) * 6
    while text_len < target:
        item = json.dumps(
            {"id": record, "name": next(words).strip(), "score": rng.randint(0, 999)},
            ensure_ascii=False,
            separators=(",", ":"),
        )
        body.append(item)
        text_len += len(item) + 1
        record += 1
    text = ",".join(body) + "]}"
    # count-1 cut points, unique, inside the text (a fragment is never empty).
    cuts = sorted(rng.sample(range(1, len(text)), count - 2))
    bounds = [0, *cuts, len(text)]
    pieces.extend(text[a:b] for a, b in itertools.pairwise(bounds))
    return pieces


def tiny(n: int) -> Iterator[str]:
    yield from openai_text(max(n, 4))


CAPTURES: dict[str, tuple[Callable[[int], Iterator[str]], int]] = {
    "openai-1m.sse": (openai_text, 1_000_000),
    "openai-200k.sse": (openai_text, 200_000),
    "anthropic-200k.sse": (anthropic_text, 200_000),
    "tools-200k.sse": (openai_tools, 200_000),
    "tiny.sse": (tiny, 4),
}


def write(name: str, force: bool = False) -> Path:
    """Write one capture (unless it exists already); returns its path."""
    make, count = CAPTURES[name]
    path = DATA / name
    if path.exists() and not force:
        return path
    DATA.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as out:
        batch: list[str] = []
        for event in make(count):
            batch.append(event)
            if len(batch) >= 10_000:
                out.write("".join(batch))
                batch.clear()
        out.write("".join(batch))
    tmp.replace(path)
    return path


def ensure(*names: str) -> list[Path]:
    """The paths of these captures, generating any that are missing (for the runners)."""
    return [write(name) for name in names]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=sorted(CAPTURES), default=sorted(CAPTURES))
    parser.add_argument("--force", action="store_true", help="regenerate existing files")
    args = parser.parse_args()
    for name in args.only:
        path = write(name, force=args.force)
        print(f"{path}  {path.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
