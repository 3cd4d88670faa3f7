"""A seeded sandbox with added latency, served on loopback from a child process, so a benchmark's
client and the emulated server do not share one interpreter (and its GIL)."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from metricsync.sandbox.app import SandboxApp
from metricsync.sandbox.server import SandboxServer

Seed = Callable[[], dict[str, Any]]


def _serve(seed: Seed, latency_ms: int, ready: Any, stop: Any) -> None:
    app = SandboxApp()
    app.seed(seed())  # built in the child: the parent never holds the seeded objects
    app.faults.set_latency(latency_ms)
    with SandboxServer(app) as server:
        ready.put(server.url)
        stop.wait()


@contextmanager
def sandbox_in_child(seed: Seed, latency_ms: int, timeout: float = 300) -> Iterator[str]:
    """Yields the sandbox's URL; the child stops when the block ends."""
    context = multiprocessing.get_context("fork")
    ready, stop = context.Queue(), context.Event()
    child = context.Process(target=_serve, args=(seed, latency_ms, ready, stop), daemon=True)
    child.start()
    try:
        yield ready.get(timeout=timeout)
    finally:
        stop.set()
        child.join(timeout=10)
