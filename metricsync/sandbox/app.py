"""The sandbox application: routes each request to its platform by path, after the faults. Its
platforms are the registry's emulators (Platform.emulator).

`serve` says what a carrier must do (wait, answer, or drop the connection); `handle` does it
for callers without a socket. Requests under /_sandbox/ go to the admin endpoints, unfaulted.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from metricsync.platforms import PLATFORMS
from metricsync.sandbox import hostile
from metricsync.sandbox.admin import ADMIN_PREFIX, Admin
from metricsync.sandbox.faults import Decision, Faults
from metricsync.sandbox.http import Request, Response
from metricsync.sandbox.platform import Clock, SandboxPlatform
from metricsync.sandbox.store import Store


@dataclass(frozen=True)
class Outcome:
    """What a carrier does with one request: wait `delay_s`, then send `response` or, when it
    is None, close the connection without an answer. With `stream`, the response's status and
    headers go out, then the stream's pieces instead of its body (a hostile answer)."""

    response: Response | None
    delay_s: float = 0.0
    fault: str | None = None
    stream: hostile.BodyStream | None = None


class ConnectionDropped(Exception):
    """`SandboxApp.handle` could not answer: a fault dropped the connection."""


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str
    status: int | None  # None: the connection was dropped
    duration_ms: float  # handling plus injected delay: what the client waited
    fault: str | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class RequestLog:
    """The latest requests, oldest first, in a bounded ring buffer."""

    def __init__(self, size: int = 1000) -> None:
        self._entries: deque[LoggedRequest] = deque(maxlen=size)
        self._lock = threading.Lock()

    def record(self, entry: LoggedRequest) -> None:
        with self._lock:
            self._entries.append(entry)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __iter__(self) -> Iterator[LoggedRequest]:
        with self._lock:
            return iter(list(self._entries))

    def __len__(self) -> int:
        return len(self._entries)


class SandboxApp:
    def __init__(self, store: Store | None = None, clock: Clock = time.time) -> None:
        self.store = store or Store()
        self.platforms = {
            name: platform.emulator.load()(self.store, clock)
            for name, platform in PLATFORMS.items()
            if platform.emulator is not None
        }
        self.faults = Faults()
        self.requests = RequestLog()
        self._admin = Admin(self)

    def handle(self, request: Request) -> Response:
        """The answer, after sleeping any injected delay; raises ConnectionDropped on a drop."""
        outcome = self.serve(request)
        if outcome.delay_s:
            time.sleep(outcome.delay_s)
        if outcome.response is None:
            raise ConnectionDropped(f"{request.method} {request.path}: {outcome.fault}")
        return outcome.response

    def serve(self, request: Request) -> Outcome:
        if request.path.startswith(ADMIN_PREFIX):
            return Outcome(self._admin.handle(request))
        started = time.perf_counter()
        decision = self.faults.match(request.method, request.path)
        outcome = self._answer(request, decision)
        waited_ms = (time.perf_counter() - started + outcome.delay_s) * 1000
        status = outcome.response.status if outcome.response else None
        entry = LoggedRequest(
            request.method, request.path, status, round(waited_ms, 3), outcome.fault
        )
        self.requests.record(entry)
        return outcome

    def _answer(self, request: Request, decision: Decision) -> Outcome:
        effect = decision.effect
        if effect is not None and effect.drop == "before":
            return Outcome(None, decision.delay_s, decision.label)
        if effect is not None and effect.hostile is not None:
            response, stream = hostile.answer(effect.hostile, request, self.route)
            return Outcome(response, decision.delay_s, decision.label, stream)
        if effect is not None and effect.status is not None:
            response = self._error(request.path, effect.status, effect.retry_after)
        else:
            response = self.route(request)
        if effect is not None and effect.drop == "after":
            return Outcome(None, decision.delay_s, decision.label)
        return Outcome(response, decision.delay_s, decision.label)

    def route(self, request: Request) -> Response:
        """The owning platform's answer, with no faults applied."""
        platform = self.platform_for(request.path)
        if platform is None:
            return Response.json(404, {"message": f"no sandbox route for {request.path}"})
        return platform.handle(request)

    def platform_for(self, path: str) -> SandboxPlatform | None:
        return next((p for p in self.platforms.values() if p.owns(path)), None)

    def _error(self, path: str, status: int, retry_after: int | None) -> Response:
        platform = self.platform_for(path)
        if platform is not None:
            return platform.error_response(status, retry_after)
        headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
        return Response.json(status, {"message": f"HTTP {status} (sandbox fault)"}, headers)

    def seed(self, data: dict[str, Any]) -> None:
        """Applies one seed document (see seed.py); raises ConfigError naming the bad section."""
        from metricsync.sandbox.seed import apply_seed

        apply_seed(self, data, "seed")

    def configure(self, settings: dict[str, Any]) -> None:
        """Passes each platform its settings; unknown platforms and keys raise ValueError."""
        unknown = set(settings) - set(self.platforms)
        if unknown:
            raise ValueError(f"unknown platform(s) in settings: {', '.join(sorted(unknown))}")
        for name, section in settings.items():
            self.platforms[name].configure(section)

    def credentials(self) -> dict[str, dict[str, str]]:
        return {name: p.credentials() for name, p in self.platforms.items()}
