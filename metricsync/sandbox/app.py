"""The sandbox application: routes each request to its platform by path, after the faults. Its
platforms are the registry's emulators (Platform.emulator).

`serve` says what a carrier must do (wait, answer, or drop the connection); `handle` does it
for callers without a socket. Requests under /_sandbox/ go to the admin endpoints, unfaulted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from metricsync.platforms import PLATFORMS
from metricsync.sandbox import hostile
from metricsync.sandbox.admin import ADMIN_PREFIX, Admin
from metricsync.sandbox.faults import Decision, Faults
from metricsync.sandbox.http import Request, Response
from metricsync.sandbox.platform import Clock, SandboxPlatform
from metricsync.sandbox.request_log import LoggedRequest, RequestLog
from metricsync.sandbox.store import Store


@dataclass(frozen=True)
class Reply:
    """What a carrier does with one request: wait `delay_s`, then send `response` or, when it
    is None, close the connection without an answer. With `stream`, the response's status and
    headers go out, then the stream's pieces instead of its body (a hostile answer)."""

    response: Response | None
    delay_s: float = 0.0
    fault: str | None = None
    stream: hostile.BodyStream | None = None


class ConnectionDropped(Exception):
    """`SandboxApp.handle` could not answer: a fault dropped the connection."""


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
        reply = self.serve(request)
        if reply.delay_s:
            time.sleep(reply.delay_s)
        if reply.response is None:
            raise ConnectionDropped(f"{request.method} {request.path}: {reply.fault}")
        return reply.response

    def serve(self, request: Request) -> Reply:
        if request.path.startswith(ADMIN_PREFIX):
            return Reply(self._admin.handle(request))
        started = time.perf_counter()
        decision = self.faults.match(request.method, request.path)
        reply = self._answer(request, decision)
        waited_ms = (time.perf_counter() - started + reply.delay_s) * 1000
        status = reply.response.status if reply.response else None
        entry = LoggedRequest(
            request.method, request.path, status, round(waited_ms, 3), reply.fault
        )
        self.requests.record(entry)
        return reply

    def _answer(self, request: Request, decision: Decision) -> Reply:
        effect = decision.effect
        if effect is not None and effect.drop == "before":
            return Reply(None, decision.delay_s, decision.label)
        if effect is not None and effect.hostile is not None:
            response, stream = hostile.answer(
                effect.hostile, request, self.route, self.platform_for(request.path)
            )
            return Reply(response, decision.delay_s, decision.label, stream)
        if effect is not None and effect.status is not None:
            response = self._error(request.path, effect.status, effect.retry_after)
        else:
            response = self.route(request)
        if effect is not None and effect.drop == "after":
            return Reply(None, decision.delay_s, decision.label)
        return Reply(response, decision.delay_s, decision.label)

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

    def seed(self, data: dict[str, Any], source: str = "seed") -> None:
        """Applies one seed document (see seed.py); raises ConfigError naming `source` and the
        bad section."""
        # not at the top: seeding needs the YAML loader and the schema validator, serving does not
        from metricsync.sandbox.seed import apply_seed

        apply_seed(self, data, source)

    def configure(self, settings: dict[str, Any]) -> None:
        """Passes each platform its settings; unknown platforms and keys raise ValueError."""
        unknown = set(settings) - set(self.platforms)
        if unknown:
            raise ValueError(f"unknown platform(s) in settings: {', '.join(sorted(unknown))}")
        for name, section in settings.items():
            self.platforms[name].configure(section)

    def credentials(self) -> dict[str, dict[str, str]]:
        return {name: p.credentials() for name, p in self.platforms.items()}
