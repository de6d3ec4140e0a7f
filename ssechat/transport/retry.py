"""The retry loop of `send`: one budget of retries around attempts, both phases.

`Loop.run` sends a request (`ssechat.transport.stream`), hands the open
stream to a `Handler` (the send session), and on a `Failure` that may heal
waits (`RetryPolicy`: full jitter, or the wait the server asks for, up to
`max_retry_wait`) and asks the handler for the next request. Failures before
the answer and inside the body share the one loop and budget; the adapters'
own retries are off. docs/transport.md tells why.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import NamedTuple, Protocol

from ssechat.providers import Request
from ssechat.redact import redact_path
from ssechat.transport.failures import Failure, HTTPFailure, TimeoutFailure
from ssechat.transport.session import new_session
from ssechat.transport.stream import Stream, Timeouts, open_stream


class RetryPolicy(NamedTuple):
    """How many retries, their backoff, and the longest wait the server may ask for."""

    retries: int = 5
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    max_retry_wait: float = 60.0

    def backoff(self, retry: int, rng: random.Random) -> float:
        """Full jitter for retry number `retry` (1 for the first)."""
        cap = min(self.backoff_max, self.backoff_base * 2 ** max(retry - 1, 0))
        return rng.uniform(0.0, max(cap, 0.0))


class Handler(Protocol):
    """What the retry loop calls; the send session implements it."""

    def on_open(self, stream: Stream) -> None:
        """A 2xx response began (status and headers known)."""

    def on_chunk(self, chunk: bytes, seconds: float) -> bool:
        """Bytes arrived; True when they completed an event that carries content."""

    def on_end(self) -> None:
        """The body ended; raise StreamFailure if the response is incomplete or failed."""

    def before_retry(self, failure: Failure, retry: int, delay: float) -> Request | None:
        """A retry is about to wait `delay`: the request to send next, or None to give up."""


_RNG = random.Random()  # one shared generator is fine


class Loop:
    """The retry loop around attempts; one budget of `retries` for the whole command."""

    def __init__(
        self,
        policy: RetryPolicy,
        timeouts: Timeouts,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random = _RNG,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.policy = policy
        self.timeouts = timeouts
        self.sleep = sleep
        self.clock = clock
        self.rng = rng
        self.log = log

    def run(self, request: Request, handler: Handler) -> None:
        """Attempts until one ends well; raises the last Failure when no retry follows."""
        session = new_session()
        deadline = self.clock() + self.timeouts.total if self.timeouts.total else None
        retry = 0
        try:
            while True:
                if self.log:
                    url = redact_path(request.url)
                    self.log(f"> {request.method} {url} (attempt {retry + 1})")
                try:
                    stream = open_stream(
                        session, request, self.timeouts, deadline=deadline, clock=self.clock
                    )
                    try:
                        if self.log:
                            self.log(f"< {stream.status} {stream.content_type}")
                        handler.on_open(stream)
                        for chunk in stream.chunks():
                            if handler.on_chunk(chunk, stream.elapsed()):
                                stream.mark_content()
                        handler.on_end()
                        return
                    finally:
                        stream.close()
                except Failure as failure:
                    delay = self._delay(failure, retry, deadline)
                    if delay is None:
                        raise
                    retry += 1
                    next_request = handler.before_retry(failure, retry, delay)
                    if next_request is None:
                        raise
                    request = next_request
                    self.sleep(delay)
        finally:
            session.close()

    def _delay(self, failure: Failure, retry: int, deadline: float | None) -> float | None:
        """The wait before the next attempt, None when not to retry (or raise why not)."""
        if not failure.retryable or retry >= self.policy.retries:
            return None
        asked = failure.server_delay
        if asked is not None and asked > self.policy.max_retry_wait:
            raise HTTPFailure(
                failure.status if isinstance(failure, HTTPFailure) else 0,
                f"the server asks to wait {asked:g} s before retrying, more than "
                f"--max-retry-wait {self.policy.max_retry_wait:g}",
                retryable=False,
            )
        delay = asked if asked is not None else self.policy.backoff(retry + 1, self.rng)
        if deadline is not None and self.clock() + delay >= deadline:
            raise TimeoutFailure("total", self.timeouts.total)
        return delay
