"""Statsig's rate limits as currently documented: about 1,800 requests per 15 minutes shared by
every key, a burst guard, refused attempts counting; metricsync paces itself below them."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable

import httpx

from metricsync.apply import Status
from metricsync.client import ApiClient
from metricsync.deadline import Deadline
from metricsync.platforms.statsig.provider import LIMITS
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


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _client(
    handle: httpx.MockTransport, time: FakeTime, sleep: Callable[[float], None]
) -> ApiClient:
    return ApiClient(
        "statsig-prod",
        "https://statsig.example",
        {"STATSIG-API-KEY": "console-pacing-key"},
        limits=LIMITS,
        transport=handle,
        sleep=sleep,
        clock=time,
        deadline=Deadline(1800, clock=time),
        progress=lambda line: None,
    )


def test_a_retry_after_of_several_minutes_is_waited_in_full() -> None:
    time, slept = FakeTime(), []
    answers = iter([429, 200])

    def handle(request: httpx.Request) -> httpx.Response:
        status = next(answers)
        return httpx.Response(status, headers={"Retry-After": "600"} if status == 429 else {})

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        time.now += seconds

    api = _client(httpx.MockTransport(handle), time, sleep)
    api.send("POST", "/console/v1/tags", body={"name": "a", "description": ""})
    assert slept == [600]  # a retry before then would be refused, and counted, again


def test_after_a_429_no_other_write_leaves_before_retry_after() -> None:
    time, sent = FakeTime(), []
    answers = iter([429, 200, 200])

    def handle(request: httpx.Request) -> httpx.Response:
        sent.append((json.loads(request.content)["name"], time.now))
        status = next(answers)
        return httpx.Response(status, headers={"Retry-After": "30"} if status == 429 else {})

    waits = []

    def sleep(seconds: float) -> None:  # while the first write waits, a second one is sent
        waits.append(seconds)
        if len(waits) == 1:
            api.send("POST", "/console/v1/tags", body={"name": "b", "description": ""})
        time.now += seconds

    api = _client(httpx.MockTransport(handle), time, sleep)
    api.send("POST", "/console/v1/tags", body={"name": "a", "description": ""})
    assert sent == [("a", 1000.0), ("b", 1030.0), ("a", 1060.0)]
