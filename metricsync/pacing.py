"""Pacing under a platform's documented rate limits: the limits as data, the pacer every request
of a target waits on, and the backoff between retries. No I/O besides the waiting itself."""

from __future__ import annotations

import random
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """A platform's documented rate limits: at most `count` paced requests per `seconds`."""

    windows: tuple[tuple[int, float], ...] = ()
    paced_methods: frozenset[str] = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
    concurrency: int = 8  # requests in flight while reading
    writes_in_flight: int = 8  # changes apply runs at once

    def minimum_seconds(self, requests: int) -> float:
        """The least time `requests` paced requests can take from a standing start."""
        slowest = 0.0
        for count, seconds in self.windows:
            slowest = max(slowest, ((requests - 1) // count) * seconds if requests else 0.0)
        return slowest


class Pacer:
    """Blocks callers so that no window of `Limits` is ever exceeded (client-side pacing)."""

    def __init__(
        self,
        limits: Limits,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        before_wait: Callable[[float], None] = lambda seconds: None,
    ):
        self.limits, self.clock, self.sleep = limits, clock, sleep
        self.before_wait = before_wait  # may raise: a wait the run has no time for
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()
        self._resume_at = 0.0  # set by a 429's Retry-After: no paced request leaves before

    def hold(self, seconds: float) -> None:
        """Holds every paced request for `seconds`: what the platform asked after a 429. A
        request sent earlier would be refused again, and refused attempts use up quota."""
        with self._lock:
            self._resume_at = max(self._resume_at, self.clock() + seconds)

    def acquire(self, sleep: Callable[[float], None] | None = None) -> None:
        while True:
            with self._lock:
                wait = self._wait(self.clock())
                if wait <= 0:
                    self._sent.append(self.clock())
                    return
            self.before_wait(wait)
            (sleep or self.sleep)(wait)

    def _wait(self, now: float) -> float:
        longest = max((s for _, s in self.limits.windows), default=0.0)
        while self._sent and self._sent[0] <= now - longest:
            self._sent.popleft()
        wait = self._resume_at - now
        for count, seconds in self.limits.windows:
            recent = [t for t in self._sent if t > now - seconds]
            if len(recent) >= count:
                wait = max(wait, recent[-count] + seconds - now)
        return wait


@dataclass
class RetryPolicy:
    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 8.0
    # Statsig's longest window is 15 minutes; the run's deadline bounds every wait anyway.
    max_retry_after: float = 900.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        return random.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))
