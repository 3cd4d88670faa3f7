"""UserFlux API emulator (being written; see shared/api/userflux.md)."""

from __future__ import annotations

from typing import Any

from metricsync.sandbox.http import Request, Response
from metricsync.sandbox.platform import SandboxPlatform


class UserFlux(SandboxPlatform):
    name = "userflux"
    prefixes = ("/metrics/",)

    def handle(self, request: Request) -> Response:
        return Response.json(404, {"message": "not implemented yet"})

    def seed(self, data: dict[str, Any]) -> None:
        pass

    def configure(self, settings: dict[str, Any]) -> None:
        pass

    def credentials(self) -> dict[str, str]:
        return {}
