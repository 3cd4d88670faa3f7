"""The sandbox's narrow seam: plain request and response values and a router.

Platform modules are pure handlers over these values; `server.py` and `transport.py` carry them
over a loopback socket or an in-process httpx transport.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote


@dataclass
class Request:
    method: str
    path: str  # percent-decoding is left to each route: Statsig ids carry encoded slashes
    query: dict[str, list[str]]
    headers: dict[str, str]  # keys lower-cased
    body: bytes = b""
    client: str = "127.0.0.1"
    base_url: str = "http://127.0.0.1"  # scheme://host:port the client used, for absolute links

    @classmethod
    def build(
        cls,
        method: str,
        target: str,
        headers: dict[str, str],
        body: bytes = b"",
        client: str = "127.0.0.1",
        base_url: str = "http://127.0.0.1",
    ) -> Request:
        path, _, query = target.partition("?")
        return cls(
            method.upper(),
            path,
            parse_qs(query, keep_blank_values=True),
            {k.lower(): v for k, v in headers.items()},
            body,
            client,
            base_url,
        )

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def json(self) -> Any:
        """The body as JSON; raises ValueError when it is not JSON."""
        return json.loads(self.body.decode("utf-8")) if self.body else None


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
        merged = {"Content-Type": "application/json"}
        merged.update(headers or {})
        return cls(status, json.dumps(payload, separators=(",", ":")).encode(), merged)

    @classmethod
    def text(cls, status: int, text: str, headers: dict[str, str] | None = None) -> Response:
        merged = {"Content-Type": "text/plain; charset=utf-8"}
        merged.update(headers or {})
        return cls(status, text.encode(), merged)

    def payload(self) -> Any:
        return json.loads(self.body) if self.body else None


Handler = Callable[..., Response]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler


class Router:
    """Routes by method and a path pattern whose `{name}` parts match one path segment.

    Captured segments are percent-decoded before they reach the handler.
    """

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, method: str, template: str, handler: Handler) -> None:
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
        self.routes.append(Route(method.upper(), re.compile(f"^{regex}$"), handler))

    def dispatch(self, request: Request) -> Response | None:
        """The handler's response, or None when no route matches path and method."""
        for route in self.routes:
            if route.method != request.method:
                continue
            match = route.pattern.match(request.path)
            if match:
                params = {k: unquote(v) for k, v in match.groupdict().items()}
                return route.handler(request, **params)
        return None
