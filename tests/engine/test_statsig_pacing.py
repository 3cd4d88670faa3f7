"""Statsig's rate limits as currently documented: about 1,800 requests per 15 minutes shared by
every key, a burst guard, refused attempts counting; metricsync paces itself below them."""

from __future__ import annotations

import threading
import time

import httpx

from metricsync.apply import Status
from metricsync.sandbox.transport import SandboxTransport
from tests.engine.conftest import Project
from tests.engine.test_scenarios import SUM


class InFlight(httpx.BaseTransport):
    """Counts the metric writes in flight at once (each held briefly, as a real server would)."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner, self.now, self.most = inner, 0, 0
        self.lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method != "POST" or request.url.path != "/console/v1/metrics":
            return self.inner.handle_request(request)
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            time.sleep(0.02)
            return self.inner.handle_request(request)
        finally:
            with self.lock:
                self.now -= 1


def _metrics(project: Project, count: int) -> None:
    documents = [
        SUM.format(name=f"Revenue {i:03d}", type="sum", description="Revenue") for i in range(count)
    ]
    project.write("definitions/statsig/many.yaml", "---\n".join(documents))


def test_apply_keeps_at_most_four_statsig_writes_in_flight(project: Project) -> None:
    _metrics(project, 16)
    counter = InFlight(SandboxTransport(project.app))
    project.transport = lambda _target: counter  # type: ignore[method-assign]
    report = project.apply()
    assert {o.status for o in report.outcomes} == {Status.APPLIED}
    assert 1 <= counter.most <= 4


def test_the_plan_says_how_long_statsig_limits_make_an_apply(project: Project) -> None:
    _metrics(project, 120)
    [statsig] = [t for t in project.plan().targets if t.target == "statsig-test"]
    assert statsig.api_calls == 121  # the ownership tag, then 120 creates
    assert statsig.minimum_seconds == 20.0  # 50 mutations per 10 s
