"""The sandbox application: one handler that routes each request to its platform by path."""

from __future__ import annotations

import time
from typing import Any

from metricsync.sandbox.http import Request, Response
from metricsync.sandbox.platform import Clock, SandboxPlatform
from metricsync.sandbox.posthog import PostHog
from metricsync.sandbox.statsig import Statsig
from metricsync.sandbox.store import Store
from metricsync.sandbox.unleash import Unleash
from metricsync.sandbox.userflux import UserFlux

PLATFORMS: tuple[type[SandboxPlatform], ...] = (Statsig, PostHog, UserFlux, Unleash)


class SandboxApp:
    def __init__(self, store: Store | None = None, clock: Clock = time.time) -> None:
        self.store = store or Store()
        self.platforms = {cls.name: cls(self.store, clock) for cls in PLATFORMS}

    def handle(self, request: Request) -> Response:
        for platform in self.platforms.values():
            if platform.owns(request.path):
                return platform.handle(request)
        return Response.json(404, {"message": f"no sandbox route for {request.path}"})

    def seed(self, data: dict[str, Any]) -> None:
        unknown = set(data) - set(self.platforms)
        if unknown:
            raise ValueError(f"unknown platform(s) in seed: {', '.join(sorted(unknown))}")
        for name, section in data.items():
            self.platforms[name].seed(section)

    def credentials(self) -> dict[str, dict[str, str]]:
        return {name: p.credentials() for name, p in self.platforms.items()}
