"""Sliding-window request counters, as the platforms document their limits."""

from __future__ import annotations

import math
import threading
from collections import deque

from metricsync.sandbox.platform import Clock


class SlidingWindowLimiter:
    """Allows at most `count` hits per `seconds` for every (count, seconds) pair, per key."""

    def __init__(self, limits: list[tuple[int, float]], clock: Clock) -> None:
        self.limits, self.clock = limits, clock
        self.enabled = True
        self.count_refused = False  # whether a refused hit uses up quota too
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> int | None:
        """Records a hit and returns None, or refuses it and returns whole seconds to wait."""
        if not self.enabled or not self.limits:
            return None
        now = self.clock()
        longest = max(seconds for _, seconds in self.limits)
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - longest:
                hits.popleft()
            wait = max((self._wait(hits, count, seconds, now) for count, seconds in self.limits))
            if wait <= 0 or self.count_refused:
                hits.append(now)
            return max(1, math.ceil(wait)) if wait > 0 else None

    @staticmethod
    def _wait(hits: deque[float], count: int, seconds: float, now: float) -> float:
        recent = [t for t in hits if t > now - seconds] if len(hits) >= count else []
        if len(recent) < count:
            return 0.0
        return recent[-count] + seconds - now

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()
