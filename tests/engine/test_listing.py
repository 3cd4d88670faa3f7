"""Live reads: pages requested concurrently (the expected ones alongside the first), decoded into
only the fields a plan reads, and checked against what the first page says exists."""

from __future__ import annotations

import json
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from metricsync.config import Policy, Target
from metricsync.errors import ApiError
from metricsync.listing import ListFormat, fetch_pages
from metricsync.planner import build_plan, open_session
from metricsync.platforms.posthog import provider as posthog
from metricsync.platforms.statsig import provider as statsig
from metricsync.provider import Provider
from metricsync.sandbox.app import SandboxApp
from metricsync.sandbox.transport import SandboxTransport
from tests.engine.conftest import POSTHOG_KEY, STATSIG_KEY, Project

OWNER = "managed-by-metricsync"
SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"  # links to where each schema ships


def statsig_target(url: str = "http://statsig.sandbox") -> Target:
    key = {"api_key": STATSIG_KEY}
    return Target("statsig-test", "statsig", (), url, Policy(), {}, fixed_credentials=key)


def posthog_target() -> Target:
    settings = {"project_id": "1", "sync_tags": True}
    key = {"api_key": POSTHOG_KEY}
    url = "http://posthog.sandbox"
    return Target("posthog-test", "posthog", (), url, Policy(), settings, fixed_credentials=key)


def statsig_app(count: int, **settings: Any) -> SandboxApp:
    app = SandboxApp()
    metrics = [
        {"name": f"metric {i:05d}", "type": "sum", "description": f"Revenue {i}",
         "unitTypes": ["userID"], "metricEvents": [{"name": "purchase", "type": "value"}],
         "tags": [OWNER]}
        for i in range(count)
    ]  # fmt: skip
    app.seed({"statsig": {"metrics": metrics, "settings": settings}})
    return app


def posthog_app(count: int, **settings: Any) -> SandboxApp:
    app = SandboxApp()
    metrics = [
        {"name": f"metric {i:05d}", "description": f"Mean order {i}", "tags": [OWNER],
         "query": {"kind": "ExperimentMetric", "metric_type": "mean",
                   "source": {"kind": "EventsNode", "event": "purchase", "math": "sum"}}}
        for i in range(count)
    ]  # fmt: skip
    app.seed({"posthog": {"settings": settings, "projects": {"1": {"saved_metrics": metrics}}}})
    return app


def list_requests(app: SandboxApp, path: str) -> int:
    return sum(1 for r in app.requests if r.method == "GET" and r.path == path)


STATSIG_LIST = "/console/v1/metrics/list"
POSTHOG_LIST = "/api/projects/1/experiment_saved_metrics/"


# -- what is decoded -----------------------------------------------------------------------------


def test_only_the_fields_a_plan_reads_are_decoded() -> None:
    page = ListFormat("data", required=("id", "name"), fields=("description",)).decode(
        b'{"data": [{"id": "a::sum", "name": "a", "description": "d", "owner": {"name": "x"},'
        b' "lineage": {"events": []}}], "message": "ok"}'
    )
    assert page == {"data": [{"id": "a::sum", "name": "a", "description": "d"}]}


def test_an_object_without_an_id_is_refused_with_where_it_is() -> None:
    listing = ListFormat("data", required=("id", "name"), fields=())
    with pytest.raises(ValueError, match=r"missing required field `id` - at `\$\.data\[1\]`"):
        listing.decode(b'{"data": [{"id": "a", "name": "a"}, {"name": "b"}]}')


def test_statsig_reads_back_every_field_a_definition_may_set() -> None:
    schema = json.loads((SCHEMAS / "statsig" / "metric.schema.json").read_text())
    settable = {k for k, v in schema["properties"]["spec"]["properties"].items() if "not" not in v}
    assert set(statsig.MANAGED_FIELDS) == settable


def test_posthog_reads_back_every_field_a_definition_may_set() -> None:
    schema = json.loads((SCHEMAS / "posthog" / "saved_metric.schema.json").read_text())
    settable = {k for k, v in schema["properties"]["spec"]["properties"].items() if "not" not in v}
    assert set(posthog.MANAGED_FIELDS) == settable


def test_a_saved_plan_fingerprint_changes_when_only_the_modification_time_does() -> None:
    raw = {"id": "a::sum", "name": "a", "type": "sum", "tags": [OWNER]}
    before = statsig.from_payload({**raw, "lastModifiedTime": 1}, OWNER)
    after = statsig.from_payload({**raw, "lastModifiedTime": 2}, OWNER)
    assert before.fingerprint != after.fingerprint


# -- how pages are requested -----------------------------------------------------------------------


def same(page: int) -> int:
    return page


def test_expected_pages_are_requested_while_the_first_is_still_in_flight() -> None:
    started = {key: threading.Event() for key in (1, 2, 3)}

    def fetch(key: int) -> int:
        started[key].set()
        if key == 1:  # the first page answers only once the expected ones were sent too
            assert started[2].wait(5) and started[3].wait(5), "expected pages waited for page 1"
        return key

    assert fetch_pages(fetch, same, 1, [2, 3], lambda first: [2, 3], concurrency=8) == [1, 2, 3]


def test_expected_pages_the_first_does_not_confirm_are_dropped() -> None:
    fetched: list[int] = []

    def fetch(key: int) -> int:
        fetched.append(key)
        return key

    pages = fetch_pages(fetch, same, 1, [2, 3, 4], lambda first: [2], concurrency=8)
    assert pages == [1, 2]
    assert set(fetched) <= {1, 2, 3, 4}


def test_at_most_one_round_of_pages_is_guessed() -> None:
    fetched = Counter[int]()

    def fetch(key: int) -> int:
        fetched[key] += 1
        return key

    assert fetch_pages(fetch, same, 1, list(range(2, 50)), lambda first: [], concurrency=4) == [1]
    assert set(fetched) <= {1, 2, 3, 4}  # the first and concurrency - 1 guesses, never 49


def test_a_connection_takes_the_next_page_while_the_last_one_is_parsed() -> None:
    sent = {key: threading.Event() for key in (1, 2, 3)}

    def get(key: int) -> int:
        sent[key].set()
        return key

    def parse(key: int) -> int:
        if key == 2:  # one connection only: page 3 can go out now only if 2 no longer holds it
            assert sent[3].wait(5), "page 3 waited until page 2 was parsed"
        return key

    assert fetch_pages(get, parse, 1, [], lambda first: [2, 3], concurrency=1) == [1, 2, 3]


def test_pages_are_parsed_as_they_arrive_the_first_one_first() -> None:
    parsed: list[int] = []
    three_parsed = threading.Event()

    def get(key: int) -> int:
        if key == 2:  # page 2 arrives only after page 3 was parsed
            assert three_parsed.wait(5), "page 3 was not parsed until page 2 arrived"
        return key

    def parse(key: int) -> int:
        parsed.append(key)
        if key == 3:
            three_parsed.set()
        return key

    assert fetch_pages(get, parse, 1, [2, 3], lambda first: [2, 3], concurrency=3) == [1, 2, 3]
    assert parsed == [1, 3, 2]


def test_a_failed_first_page_fails_the_read() -> None:
    def fetch(key: int) -> int:
        if key == 1:
            raise ApiError("t", "GET", "/list", 500, "boom")
        return key

    with pytest.raises(ApiError, match="boom"):
        fetch_pages(fetch, same, 1, [2, 3], lambda first: [2, 3], concurrency=8)


# -- whole reads against the sandbox ---------------------------------------------------------------


def read_names(provider: Provider, expected: int) -> list[str]:
    try:
        return [obj.name for obj in provider.read(expected).objects]
    finally:
        provider.close()


def read_statsig(app: SandboxApp, expected: int) -> list[str]:
    return read_names(statsig.StatsigProvider(statsig_target(), SandboxTransport(app)), expected)


def read_posthog(app: SandboxApp, expected: int) -> list[str]:
    return read_names(posthog.PostHogProvider(posthog_target(), SandboxTransport(app)), expected)


def names(count: int) -> list[str]:
    return [f"metric {i:05d}" for i in range(count)]


@pytest.fixture(scope="module")
def statsig_2500() -> SandboxApp:
    return statsig_app(2500)


@pytest.mark.parametrize("expected", [0, 2500, 10_000])
def test_statsig_reads_every_metric_once_in_the_fewest_requests(
    statsig_2500: SandboxApp, expected: int
) -> None:
    statsig_2500.requests.clear()
    assert read_statsig(statsig_2500, expected) == names(2500)
    sent = list_requests(statsig_2500, STATSIG_LIST)
    if expected <= 2500:
        assert sent == 3  # ceil(2500 / 1000): a right guess or none costs nothing extra
    else:
        assert 3 <= sent <= 8  # a high guess wastes at most one round of concurrency


def test_statsig_pages_smaller_than_asked_for_are_all_read() -> None:
    app = statsig_app(2300, max_page_size=500)
    assert read_statsig(app, expected=2300) == names(2300)
    assert list_requests(app, STATSIG_LIST) == 5


def test_a_statsig_page_size_the_server_refuses_falls_back_to_100() -> None:
    app = statsig_app(250, max_page_size=100, over_max_page_size="refuse")
    assert read_statsig(app, expected=250) == names(250)
    limits = [r.status for r in app.requests if r.path == STATSIG_LIST]
    assert limits == [400, 200, 200, 200]


def test_a_refused_statsig_page_of_100_is_an_error() -> None:
    app = statsig_app(5, max_page_size=50, over_max_page_size="refuse")
    with pytest.raises(ApiError, match="Number must be less than or equal to 50"):
        read_statsig(app, expected=5)


def test_posthog_reads_every_metric_once_in_the_fewest_requests() -> None:
    app = posthog_app(2100)
    got = read_posthog(app, expected=2100)
    assert sorted(got) == names(2100)
    assert list_requests(app, POSTHOG_LIST) == 3


def test_posthog_pages_smaller_than_asked_for_are_all_read_once() -> None:
    app = posthog_app(2100, max_page_size=300)
    got = read_posthog(app, expected=2100)  # guessed offsets 1000 and 2000 are not 300-steps
    assert sorted(got) == names(2100)
    assert 7 <= list_requests(app, POSTHOG_LIST) <= 7 + 2  # 7 pages of 300, 2 guesses wasted


# -- servers that answer differently ----------------------------------------------------------------


def statsig_fake(pages: list[dict[str, Any]]) -> httpx.MockTransport:
    """A Statsig list that links its pages but never counts them (totalItems is optional)."""

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/console/v1/tags":
            return httpx.Response(200, json={"data": [], "pagination": {"nextPage": None}})
        number = int(request.url.params.get("page", "1"))
        return httpx.Response(200, json=pages[number - 1])

    return httpx.MockTransport(handle)


def page_of(names: list[str], next_page: str | None) -> dict[str, Any]:
    data = [{"id": f"{n}::sum", "name": n, "type": "sum", "tags": [OWNER]} for n in names]
    pagination = {"itemsPerPage": 2, "pageNumber": 1, "nextPage": next_page, "previousPage": None}
    return {"message": "Metrics listed successfully.", "data": data, "pagination": pagination}


def test_statsig_pages_without_a_count_are_followed_by_their_links() -> None:
    pages = [
        page_of(["a", "b"], "/console/v1/metrics/list?page=2&limit=2"),
        page_of(["c", "d"], "/console/v1/metrics/list?page=3&limit=2"),
        page_of(["e"], None),
    ]
    provider = statsig.StatsigProvider(statsig_target(), statsig_fake(pages))
    assert [o.name for o in provider.read(expected=5).objects] == ["a", "b", "c", "d", "e"]


def test_statsig_pages_that_count_items_but_not_their_size_are_followed_by_their_links() -> None:
    pages = [
        page_of(["a", "b"], "/console/v1/metrics/list?page=2&limit=2"),
        page_of(["c"], None),
    ]
    for page in pages:
        del page["pagination"]["itemsPerPage"]
        page["pagination"]["totalItems"] = 3
    provider = statsig.StatsigProvider(statsig_target(), statsig_fake(pages))
    assert [o.name for o in provider.read(expected=3).objects] == ["a", "b", "c"]


def test_a_list_page_that_is_not_the_documented_envelope_is_a_clear_error() -> None:
    broken = {"message": "ok", "data": [{"name": "no id"}], "pagination": {}}
    provider = statsig.StatsigProvider(statsig_target(), statsig_fake([broken]))
    with pytest.raises(ApiError) as caught:
        provider.read()
    assert str(caught.value) == (
        "statsig-test: GET http://statsig.sandbox/console/v1/metrics/list failed with HTTP 200: "
        "unexpected response body: Object missing required field `id` - at `$.data[0]`"
    )


def test_a_later_page_that_is_not_the_documented_envelope_fails_the_read() -> None:
    counted = {"itemsPerPage": 2, "totalItems": 4, "nextPage": "/console/v1/metrics/list?page=2"}
    first = {**page_of(["a", "b"], None), "pagination": counted}
    broken = {"message": "ok", "data": [{"id": "c::sum"}], "pagination": {}}
    provider = statsig.StatsigProvider(statsig_target(), statsig_fake([first, broken]))
    with pytest.raises(ApiError) as caught:
        provider.read(expected=4)
    assert str(caught.value) == (
        "statsig-test: GET http://statsig.sandbox/console/v1/metrics/list failed with HTTP 200: "
        "unexpected response body: Object missing required field `name` - at `$.data[0]`"
    )


# -- a plan reads its targets at once ---------------------------------------------------------------


class MeetingTransport(httpx.BaseTransport):
    """Holds a target's first list request until the other target's list request arrives."""

    def __init__(self, app: SandboxApp, meeting: threading.Barrier) -> None:
        self.inner, self.meeting, self.met = SandboxTransport(app), meeting, False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        listing = request.url.path.endswith(("/metrics/list", "/experiment_saved_metrics/"))
        if listing and not self.met:
            self.met = True
            self.meeting.wait()  # BrokenBarrierError if the other target is read after
        return self.inner.handle_request(request)


def test_a_plan_reads_every_target_at_once(project: Project) -> None:
    meeting = threading.Barrier(2, timeout=10)
    with open_session(
        project.root / "metricsync.yaml",
        transport_for=lambda _: MeetingTransport(project.app, meeting),
    ) as session:
        plan = build_plan(session.workspace, session.providers)
    assert [t.target for t in plan.targets] == ["statsig-test", "posthog-test"]


def test_a_failed_read_names_the_first_target_in_config_order(project: Project) -> None:
    project.app.faults.add("GET /console/v1/metrics/list=403")
    project.app.faults.add("GET /api/projects/12345/experiment_saved_metrics/=401")
    with pytest.raises(ApiError, match=r"^statsig-test: GET .* HTTP 403"):
        project.plan()
