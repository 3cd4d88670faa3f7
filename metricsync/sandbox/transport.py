"""Runs the sandbox inside the calling process as an httpx transport: no sockets, real cycles.

Faults reach the client as the errors a real connection gives: a dropped connection raises
httpx.RemoteProtocolError, and a delay beyond the read timeout raises httpx.ReadTimeout at once
instead of sleeping, so in-process tests of timeouts stay fast.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx

from metricsync.sandbox.app import SandboxApp
from metricsync.sandbox.hostile import BodyStream
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
        outcome = self.app.serve(sandbox_request)
        if outcome.delay_s:
            _wait(request, outcome.delay_s)
        if outcome.response is None:
            # the words httpcore uses when a server closes the connection without answering
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            )
        response = outcome.response
        if outcome.stream is not None:
            headers = {**response.headers, "Content-Length": str(outcome.stream.length)}
            return httpx.Response(response.status, headers=headers, stream=_Pieces(outcome.stream))
        return httpx.Response(response.status, headers=response.headers, content=response.body)


class _Pieces(httpx.SyncByteStream):
    """A hostile stream's pieces, each after its interval (really waited: a trickle is slow)."""

    def __init__(self, stream: BodyStream) -> None:
        self.stream = stream

    def __iter__(self) -> Iterator[bytes]:
        for piece in self.stream.pieces():
            if self.stream.interval_s:
                time.sleep(self.stream.interval_s)
            yield piece


def _wait(request: httpx.Request, seconds: float) -> None:
    timeouts = request.extensions.get("timeout") or {}
    read_timeout = timeouts.get("read")
    if read_timeout is not None and seconds >= read_timeout:
        raise httpx.ReadTimeout("timed out", request=request)
    time.sleep(seconds)
