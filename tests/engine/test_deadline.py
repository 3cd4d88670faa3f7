"""Bounded waits: one deadline for the whole run, a total time and a size per answer, and a line
on stderr for every wait a rate limit imposes."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from metricsync.client import AmbiguousWrite, ApiClient
from metricsync.deadline import Deadline, DeadlineExceeded
from metricsync.errors import ApiError, NetworkError


class FakeTime:
    """A clock that only moves when the client sleeps or the fake server makes it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def client(
    handle: httpx.MockTransport, time: FakeTime, seconds: float | None = None, **extra: object
) -> tuple[ApiClient, list[str]]:
    lines: list[str] = []
    api = ApiClient(
        "statsig-prod",
        "https://statsig.example",
        {"STATSIG-API-KEY": "console-deadline-key"},
        transport=handle,
        sleep=time.sleep,
        clock=time,
        deadline=Deadline(seconds, clock=time),
        progress=lines.append,
        **extra,  # type: ignore[arg-type]
    )
    return api, lines


def throttled(retry_after: str | None, times: int) -> httpx.MockTransport:
    answers = iter([429] * times + [200] * 100)

    def handle(request: httpx.Request) -> httpx.Response:
        status = next(answers)
        headers = {"Retry-After": retry_after} if retry_after and status == 429 else {}
        return httpx.Response(status, headers=headers, json={"data": []})

    return httpx.MockTransport(handle)


def test_every_wait_for_retry_after_is_said_on_stderr() -> None:
    time = FakeTime()
    api, lines = client(throttled("20", times=2), time, seconds=600)
    assert api.send("GET", "/console/v1/metrics/list").status_code == 200
    assert lines == [
        "statsig-prod: waiting 20 s (Retry-After)",
        "statsig-prod: waiting 20 s (Retry-After)",
    ]
    assert time.slept == [20, 20]


def test_a_429_without_retry_after_is_said_too() -> None:
    time = FakeTime()
    api, lines = client(throttled(None, times=1), time, seconds=600)
    api.send("GET", "/console/v1/metrics/list")
    assert len(lines) == 1 and lines[0].endswith(" (HTTP 429)")


def test_a_retry_after_longer_than_the_time_left_fails_at_once() -> None:
    time = FakeTime()
    api, lines = client(throttled("20", times=5), time, seconds=30)
    with pytest.raises(DeadlineExceeded) as caught:
        api.send("GET", "/console/v1/metrics/list")
    assert str(caught.value) == (
        "statsig-prod: GET https://statsig.example/console/v1/metrics/list must wait 20 s "
        "(Retry-After), more than the 10 s left of the run's deadline (--timeout 30); giving up"
    )
    assert time.slept == [20]  # the first wait fitted; the second would not
    assert lines == ["statsig-prod: waiting 20 s (Retry-After)"]


def test_pacing_under_the_rate_limit_is_said_and_bounded_by_the_deadline() -> None:
    from metricsync.pacing import Limits

    time = FakeTime()
    api, lines = client(
        throttled(None, times=0), time, seconds=15, limits=Limits(windows=((2, 10.0),))
    )
    api.send("POST", "/console/v1/tags", body={})
    api.send("POST", "/console/v1/tags", body={})
    api.send("POST", "/console/v1/tags", body={})  # waits 10 s for the window
    assert lines == ["statsig-prod: waiting 10 s (rate limit)"]
    api.send("POST", "/console/v1/tags", body={})
    with pytest.raises(DeadlineExceeded, match=r"rate limit needs a wait of 10 s, more than"):
        api.send("POST", "/console/v1/tags", body={})


def trickling(time: FakeTime, seconds_per_byte: float) -> httpx.MockTransport:
    """An answer that arrives one byte at a time: every read succeeds, the whole never ends."""

    def body() -> Iterator[bytes]:
        for _ in range(100_000):
            time.now += seconds_per_byte
            yield b" "

    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=_Stream(body()))

    return httpx.MockTransport(handle)


class _Stream(httpx.SyncByteStream):
    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks = chunks

    def __iter__(self) -> Iterator[bytes]:
        return self.chunks


def test_a_trickling_answer_is_cut_off_after_the_total_request_time() -> None:
    time = FakeTime()
    api, _ = client(trickling(time, 1.0), time, request_seconds=120)
    with pytest.raises(NetworkError) as caught:
        api.send("GET", "/console/v1/metrics/list")
    assert str(caught.value).endswith(
        "failed: ReadTimeout: the answer took longer than 120 s in total"
    )


def test_a_trickling_answer_stops_at_the_run_deadline_naming_the_target() -> None:
    time = FakeTime()
    api, _ = client(trickling(time, 1.0), time, seconds=50)
    with pytest.raises(DeadlineExceeded) as caught:
        api.send("GET", "/console/v1/metrics/list")
    assert str(caught.value) == (
        "statsig-prod: the run's deadline (--timeout 50) passed during GET "
        "https://statsig.example/console/v1/metrics/list; nothing more is sent"
    )


def test_an_answer_larger_than_the_limit_is_refused_unread() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, headers={"Content-Length": str(10**12)}, stream=_Stream(iter([b"{}"]))
        )

    api, _ = client(httpx.MockTransport(handle), FakeTime(), max_body_bytes=1024)
    with pytest.raises(ApiError) as caught:
        api.send("GET", "/console/v1/metrics/list")
    assert str(caught.value) == (
        "statsig-prod: GET https://statsig.example/console/v1/metrics/list failed with HTTP 200: "
        "the answer is larger than 1024 bytes; not read"
    )


def test_an_answer_that_grows_past_the_limit_without_saying_so_is_cut_off() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=_Stream(iter([b" " * 600] * 10)))

    api, _ = client(httpx.MockTransport(handle), FakeTime(), max_body_bytes=1024)
    with pytest.raises(ApiError, match="the answer is larger than 1024 bytes"):
        api.send("GET", "/console/v1/metrics/list")


def test_a_write_cut_off_by_the_deadline_is_ambiguous_not_merely_late() -> None:
    """The caller must look before sending it again (an Unleash count must not add up twice)."""
    time = FakeTime()

    def handle(request: httpx.Request) -> httpx.Response:
        time.now += 100  # the server took the write, and the run's time with it
        raise httpx.ReadTimeout("timed out", request=request)

    api, _ = client(httpx.MockTransport(handle), time, seconds=50)
    with pytest.raises(AmbiguousWrite):
        api.send("POST", "/api/client/metrics", body={}, resend=False)
