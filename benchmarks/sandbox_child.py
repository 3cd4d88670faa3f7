"""A seeded sandbox with added latency, served on loopback from a child process, so a benchmark's
client and the emulated server do not share one interpreter (and its GIL)."""

from __future__ import annotations

import multiprocessing
import queue
import time
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
        yield _url(ready, child, time.monotonic() + timeout)
    finally:
        stop.set()
        child.join(timeout=10)


def _url(ready: Any, child: Any, deadline: float) -> str:
    """The URL the child announces; a child that dies first (a seed it refused) is an error at
    once, not a wait of the whole timeout."""
    while time.monotonic() < deadline:
        try:
            return str(ready.get(timeout=0.2))
        except queue.Empty:
            if not child.is_alive():
                message = f"the sandbox child exited ({child.exitcode}) before serving"
                raise RuntimeError(message) from None
    raise TimeoutError("the sandbox child did not serve in time")
