"""How long a run may take: one deadline for the whole command (`--timeout`), against which every
request, retry and rate-limit wait of every target is measured, so that nothing waits for ever."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from metricsync.errors import NetworkError

DEFAULT_RUN_SECONDS = 1800  # a large apply under Statsig's 1,800-per-15-min limit fits
REQUEST_SECONDS = 120.0  # one request, from sending to the last byte of its answer


class DeadlineExceeded(NetworkError):
    """The run's deadline passed, or a wait the server asked for would pass it."""


@dataclass(frozen=True)
class Deadline:
    """`seconds` from `started` on `clock`; None: no deadline (library use without the CLI)."""

    seconds: float | None
    clock: Callable[[], float] = time.monotonic
    started: float = field(default=-1.0)

    def __post_init__(self) -> None:
        if self.started < 0:
            object.__setattr__(self, "started", self.clock())

    def remaining(self) -> float:
        if self.seconds is None:
            return math.inf
        return self.seconds - (self.clock() - self.started)

    def describe(self) -> str:
        return f"the run's deadline (--timeout {self.seconds:g})"


_run = Deadline(None)


def start_run(seconds: float | None) -> Deadline:
    """Starts the deadline every client created from now on measures against."""
    global _run
    _run = Deadline(seconds)
    return _run


def current() -> Deadline:
    return _run


def seconds_text(seconds: float) -> str:
    """20 s, 4.5 s, 0.3 s: as a person reads a wait."""
    return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f}".rstrip("0").rstrip(".") + " s"
