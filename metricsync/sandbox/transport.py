"""Runs the sandbox inside the calling process as an httpx transport: no sockets, real cycles."""

from __future__ import annotations

import httpx

from metricsync.sandbox.app import SandboxApp
from metricsync.sandbox.http import Request


class SandboxTransport(httpx.BaseTransport):
    def __init__(self, app: SandboxApp) -> None:
        self.app = app

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        target = url.raw_path.decode("ascii")
        base = f"{url.scheme}://{url.netloc.decode('ascii')}"
        sandbox_request = Request.build(
            request.method, target, dict(request.headers), request.read(), base_url=base
        )
        response = self.app.handle(sandbox_request)
        return httpx.Response(response.status, headers=response.headers, content=response.body)
