"""Sandbox tests run on a fake clock: each test module sets `START`, the epoch seconds it begins at."""

from __future__ import annotations

import pytest

from metricsync.sandbox.app import SandboxApp


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(request: pytest.FixtureRequest) -> FakeClock:
    return FakeClock(getattr(request.module, "START", 1_767_225_600.0))


@pytest.fixture
def sandbox_app(clock: FakeClock) -> SandboxApp:
    return SandboxApp(clock=clock)
