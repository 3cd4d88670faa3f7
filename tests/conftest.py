"""Shared fixtures: the sandbox in-process (httpx transport) and on a loopback port; and the
secret scan that checks every test (secret_scan.py)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from metricsync.sandbox.app import SandboxApp
from metricsync.sandbox.server import SandboxServer
from metricsync.sandbox.transport import SandboxTransport

pytest_plugins = ["tests.secret_scan", "pytester"]  # secret_scan: every test is checked for secrets


@pytest.fixture
def sandbox_app() -> SandboxApp:
    return SandboxApp()


@pytest.fixture
def sandbox_client(sandbox_app: SandboxApp) -> Iterator[httpx.Client]:
    """An httpx client whose requests are answered by the sandbox app, no sockets."""
    with httpx.Client(
        transport=SandboxTransport(sandbox_app), base_url="http://sandbox.test"
    ) as client:
        yield client


@pytest.fixture
def sandbox_server(sandbox_app: SandboxApp) -> Iterator[SandboxServer]:
    """The same app served on 127.0.0.1 on a free port."""
    with SandboxServer(sandbox_app) as server:
        yield server


@pytest.fixture
def sandbox_http(sandbox_server: SandboxServer) -> Iterator[httpx.Client]:
    """An httpx client talking to the loopback sandbox over real HTTP."""
    with httpx.Client(base_url=sandbox_server.url, timeout=10) as client:
        yield client
