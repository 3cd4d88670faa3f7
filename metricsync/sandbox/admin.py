"""The operator's endpoints under /_sandbox/: health, faults, settings, seed, request log and
credentials. They sit outside every platform prefix and faults never apply to them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

from metricsync.errors import ConfigError
from metricsync.sandbox.http import Request, Response, Router

if TYPE_CHECKING:
    from metricsync.sandbox.faults import Faults
    from metricsync.sandbox.platform import SandboxPlatform
    from metricsync.sandbox.request_log import RequestLog

ADMIN_PREFIX = "/_sandbox/"


class Operated(Protocol):
    """What the admin endpoints operate (a SandboxApp)."""

    @property
    def platforms(self) -> Mapping[str, SandboxPlatform]: ...

    @property
    def faults(self) -> Faults: ...

    @property
    def requests(self) -> RequestLog: ...

    def configure(self, settings: dict[str, Any]) -> None: ...

    def seed(self, data: dict[str, Any], source: str) -> None: ...

    def credentials(self) -> dict[str, dict[str, str]]: ...


class Admin:
    def __init__(self, app: Operated) -> None:
        self.app = app
        self.router = Router()
        routes = (
            ("GET", "health", self.health),
            ("GET", "faults", self.faults),
            ("POST", "faults", self.add_faults),
            ("DELETE", "faults", self.clear_faults),
            ("GET", "settings", self.settings),
            ("POST", "settings", self.configure),
            ("POST", "seed", self.seed),
            ("GET", "requests", self.requests),
            ("DELETE", "requests", self.clear_requests),
            ("GET", "credentials", self.credentials),
        )
        for method, name, handler in routes:
            self.router.add(method, ADMIN_PREFIX + name, handler)

    def handle(self, request: Request) -> Response:
        """Answers an admin request; bad input is a 400 whose message says what is wrong."""
        request = replace(request, path=request.path.rstrip("/"))
        try:
            response = self.router.dispatch(request)
        except (ValueError, ConfigError) as exc:  # JSON syntax errors are ValueErrors too
            return Response.json(400, {"message": str(exc)})
        if response is None:
            return Response.json(
                404, {"message": f"no admin route {request.method} {request.path}"}
            )
        return response

    def health(self, request: Request) -> Response:
        return Response.json(200, {"status": "ok", "platforms": list(self.app.platforms)})

    def faults(self, request: Request) -> Response:
        return Response.json(200, self.app.faults.to_json())

    def add_faults(self, request: Request) -> Response:
        self.app.faults.load(request.json())
        return self.faults(request)

    def clear_faults(self, request: Request) -> Response:
        self.app.faults.clear()
        return self.faults(request)

    def settings(self, request: Request) -> Response:
        described = {name: p.describe_settings() for name, p in self.app.platforms.items()}
        return Response.json(200, described)

    def configure(self, request: Request) -> Response:
        self.app.configure(_mapping(request.json(), "settings"))
        return self.settings(request)

    def seed(self, request: Request) -> Response:
        data = _mapping(request.json(), "seed")
        self.app.seed(data, "POST /_sandbox/seed")
        return Response.json(200, {"seeded": list(data)})

    def requests(self, request: Request) -> Response:
        return Response.json(200, {"requests": [entry.to_json() for entry in self.app.requests]})

    def clear_requests(self, request: Request) -> Response:
        self.app.requests.clear()
        return Response.json(200, {"requests": []})

    def credentials(self, request: Request) -> Response:
        return Response.json(200, self.app.credentials())


def _mapping(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{what}: expected a JSON object of platform names to sections")
    return value
