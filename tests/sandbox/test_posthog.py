"""The PostHog emulator against what it must reproduce, one test per behaviour, then the
documented choices (docs/sandbox/posthog.md, docs/platforms/posthog.md)."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pytest

from metricsync.platforms.posthog.sandbox.emulator import PostHog
from metricsync.sandbox.app import SandboxApp
from metricsync.sandbox.http import Request
from tests.sandbox.conftest import FakeClock

AUTH = {"Authorization": "Bearer phx_sandbox_personal_key"}
METRICS = "/api/projects/1/experiment_saved_metrics"
NOT_FOUND = {"type": "invalid_request", "code": "not_found", "detail": "Not found.", "attr": None}
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
START = 1_767_607_200.0  # 2026-01-05T10:00:00Z
MEAN = {
    "kind": "ExperimentMetric",
    "metric_type": "mean",
    "goal": "increase",
    "conversion_window": 14,
    "conversion_window_unit": "day",
    "source": {"kind": "EventsNode", "event": "purchase", "math": "sum", "math_property": "amount"},
}


@pytest.fixture
def posthog(sandbox_app: SandboxApp) -> PostHog:
    platform = sandbox_app.platforms["posthog"]
    assert isinstance(platform, PostHog)
    return platform


@pytest.fixture
def api(sandbox_client: httpx.Client) -> httpx.Client:
    sandbox_client.headers.update(AUTH)
    return sandbox_client


def create(api: httpx.Client, name: str = "Checkout revenue", **fields: Any) -> dict[str, Any]:
    response = api.post(f"{METRICS}/", json={"name": name, "query": MEAN, **fields})
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


def rejected(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    body: dict[str, Any] = response.json()
    assert body["type"] == "validation_error"
    return body


def query_detail(api: httpx.Client, query: dict[str, Any]) -> str:
    body = rejected(api.post(METRICS, json={"name": "x", "query": query}))
    assert (body["code"], body["attr"]) == ("invalid_input", None)
    detail: str = body["detail"]
    return detail


# -- 1-2. auth and paths ------------------------------------------------------------------------


def test_missing_or_unknown_key_gets_401(sandbox_client: httpx.Client) -> None:
    missing = sandbox_client.get(METRICS)
    unknown = sandbox_client.delete(f"{METRICS}/1/", headers={"Authorization": "Bearer phx_x"})

    assert (missing.status_code, missing.json()) == (
        401,
        {
            "type": "authentication_error",
            "code": "not_authenticated",
            "detail": "Authentication credentials were not provided.",
            "attr": None,
        },
    )
    assert (unknown.status_code, unknown.json()["type"]) == (401, "authentication_error")
    assert unknown.json()["detail"] == "Invalid personal API key."


def test_every_route_works_with_and_without_the_trailing_slash(api: httpx.Client) -> None:
    metric_id = create(api)["id"]
    statuses = [
        api.get(METRICS).status_code,
        api.get(f"{METRICS}/").status_code,
        api.get(f"{METRICS}/{metric_id}").status_code,
        api.patch(f"{METRICS}/{metric_id}/", json={"description": "a"}).status_code,
        api.put(f"{METRICS}/{metric_id}", json={"name": "n", "query": MEAN}).status_code,
        api.post(METRICS, json={"name": "other", "query": MEAN}).status_code,
        api.delete(f"{METRICS}/{metric_id}/").status_code,
    ]

    assert statuses == [200, 200, 200, 200, 200, 201, 204]


# -- 3-5. create, read, update, uuid --------------------------------------------------------------


def test_create_returns_201_with_the_query_plus_a_fresh_uuid(api: httpx.Client) -> None:
    sent_uuid = "5b0c7f4e-0d0e-4e8e-9d0b-3b8f5f0a9c11"
    response = api.post(METRICS, json={"name": "Revenue", "query": {**MEAN, "uuid": sent_uuid}})

    body = response.json()
    assert response.status_code == 201
    assert UUID.match(body["query"]["uuid"]) and body["query"]["uuid"] != sent_uuid
    assert {k: v for k, v in body["query"].items() if k != "uuid"} == MEAN
    assert list(body["query"]) == [*MEAN, "uuid"]
    assert body == {
        "id": 1,
        "name": "Revenue",
        "description": None,
        "query": body["query"],
        "created_by": {
            "id": 1,
            "uuid": "0190b4a2-5d6e-7000-8000-00000000a001",
            "email": "sandbox@metricsync.dev",
            "first_name": "Sandbox",
        },
        "created_at": "2026-01-05T10:00:00.000000Z",
        "updated_at": "2026-01-05T10:00:00.000000Z",
        "tags": [],
        "user_access_level": "editor",
    }


def test_get_patch_put_return_200_and_put_requires_name_and_query(api: httpx.Client) -> None:
    path = f"{METRICS}/{create(api)['id']}/"
    no_name = api.put(path, json={"query": MEAN})
    no_query = api.put(path, json={"name": "n"})

    assert [api.get(path).status_code, api.patch(path, json={}).status_code] == [200, 200]
    assert api.put(path, json={"name": "n", "query": MEAN}).status_code == 200
    assert no_name.json() == {
        "type": "validation_error",
        "code": "required",
        "detail": "This field is required.",
        "attr": "name",
    }
    assert (no_query.json()["code"], no_query.json()["attr"]) == ("required", "query")


def test_patch_keeps_the_stored_uuid_and_refuses_a_different_one(api: httpx.Client) -> None:
    created = create(api)
    path = f"{METRICS}/{created['id']}/"
    kept = api.patch(path, json={"query": {**MEAN, "goal": "decrease"}}).json()
    changed = api.patch(path, json={"query": {**MEAN, "uuid": "other"}})

    assert kept["query"]["uuid"] == created["query"]["uuid"]
    assert kept["query"]["goal"] == "decrease"
    assert rejected(changed)["detail"] == "Saved metric UUID cannot be changed"


# -- 6-8. names and lengths -------------------------------------------------------------------------


def test_names_are_unique_ignoring_case_but_a_case_only_rename_works(api: httpx.Client) -> None:
    created = create(api, "Checkout revenue")
    duplicate = api.post(METRICS, json={"name": "CHECKOUT REVENUE", "query": MEAN})
    renamed = api.patch(f"{METRICS}/{created['id']}/", json={"name": "Checkout Revenue"})

    assert duplicate.json() == {
        "type": "validation_error",
        "code": "invalid_input",
        "detail": "A shared metric with this name already exists.",
        "attr": "name",
    }
    assert (renamed.status_code, renamed.json()["name"]) == (200, "Checkout Revenue")


def test_null_name_is_400_with_code_null(api: httpx.Client) -> None:
    response = api.post(METRICS, json={"name": None, "query": MEAN})

    assert (response.status_code, response.json()) == (
        400,
        {
            "type": "validation_error",
            "code": "null",
            "detail": "This field may not be null.",
            "attr": "name",
        },
    )


@pytest.mark.parametrize("field", ["name", "description"])
def test_401_characters_is_400_max_length(api: httpx.Client, field: str) -> None:
    body = {"name": "ok", "query": MEAN, field: "x" * 401}

    assert rejected(api.post(METRICS, json=body)) == {
        "type": "validation_error",
        "code": "max_length",
        "detail": "Ensure this field has no more than 400 characters.",
        "attr": field,
    }


# -- 9-11. query validation ---------------------------------------------------------------------


def test_legacy_kinds_are_refused_on_create_and_seeded_ones_cannot_be_patched(
    api: httpx.Client, posthog: PostHog
) -> None:
    legacy = {"kind": "ExperimentTrendsQuery", "count_query": {"kind": "TrendsQuery"}}
    posthog.seed(
        {"projects": {"1": {"saved_metrics": [{"id": 9, "name": "Old", "query": legacy}]}}}
    )
    created = query_detail(api, legacy)
    patched = api.patch(f"{METRICS}/9/", json={"tags": ["x"]})

    assert "legacy metric kind 'ExperimentTrendsQuery' is no longer supported." in created
    assert rejected(patched)["detail"] == (
        "This saved metric uses a legacy query format and cannot be updated. Please create a "
        "new saved metric with the ExperimentMetric format instead."
    )
    assert api.get(f"{METRICS}/9").json()["query"] == legacy


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"kind": "ExperimentMetric", "source": MEAN["source"]}, "requires a metric_type"),
        ({**MEAN, "metric_type": "count"}, "metric_type must be 'mean', 'funnel', 'ratio', or"),
        (
            {"kind": "ExperimentMetric", "metric_type": "ratio", "numerator": MEAN["source"]},
            "'loc': ('denominator',), 'type': 'missing', 'msg': 'Field required'",
        ),
        ({**MEAN, "sampling": 0.5}, "'loc': ('sampling',), 'type': 'extra_forbidden'"),
        (
            {k: v for k, v in MEAN.items() if k != "conversion_window_unit"},
            "conversion_window is set but conversion_window_unit is missing",
        ),
        ({**MEAN, "kind": "TrendsQuery"}, "metric kind must be 'ExperimentMetric'"),
        ({}, "Query is required to create a saved metric"),
    ],
)
def test_invalid_queries_are_400_invalid_input_without_attr(
    api: httpx.Client, query: dict[str, Any], expected: str
) -> None:
    assert expected in query_detail(api, query)


def test_actions_must_exist_and_are_read_back_with_their_current_name(
    api: httpx.Client, posthog: PostHog
) -> None:
    posthog.seed({"projects": {"1": {"actions": [{"id": 7, "name": "Signed up"}]}}})
    funnel = {"kind": "ExperimentMetric", "metric_type": "funnel", "series": []}
    missing = query_detail(api, {**funnel, "series": [{"kind": "ActionsNode", "id": 8}]})
    stored = create(
        api, query={**funnel, "series": [{"kind": "ActionsNode", "id": 7, "name": "x"}]}
    )
    posthog.seed({"projects": {"1": {"actions": [{"id": 7, "name": "Registered"}]}}})

    assert "Action 8 not found or deleted. Each ActionsNode must reference" in missing
    assert stored["query"]["series"] == [{"kind": "ActionsNode", "id": 7, "name": "Signed up"}]
    read = api.get(f"{METRICS}/{stored['id']}").json()["query"]["series"]
    assert read == [{"kind": "ActionsNode", "id": 7, "name": "Registered"}]


# -- 12-14. tags and updated_at -----------------------------------------------------------------


def test_tags_are_normalised_created_cleared_and_kept_when_omitted(api: httpx.Client) -> None:
    created = create(api, tags=[" Checkout", "checkout ", "REVENUE"])
    path = f"{METRICS}/{created['id']}/"
    kept = api.patch(path, json={"description": "d"}).json()
    project_tags = api.get("/api/projects/1/tags/").json()
    cleared = api.patch(path, json={"tags": []}).json()

    assert created["tags"] == ["checkout", "revenue"]
    assert kept["tags"] == ["checkout", "revenue"]
    assert project_tags == ["checkout", "revenue"]
    assert cleared["tags"] == []
    assert api.get("/api/projects/1/tags").json() == []


def test_tag_writes_are_silently_ignored_without_the_tagging_feature(
    api: httpx.Client, posthog: PostHog
) -> None:
    posthog.configure({"tagging": False})
    created = create(api, tags=["checkout"])
    patched = api.patch(f"{METRICS}/{created['id']}", json={"tags": ["a"]})
    listed = api.get(METRICS).json()["results"]

    assert created["tags"] == []
    assert (patched.status_code, patched.json()["tags"]) == (200, [])
    assert listed[0]["tags"] == []


def test_tags_only_patch_keeps_updated_at_and_a_rename_bumps_it(
    api: httpx.Client, clock: FakeClock
) -> None:
    path = f"{METRICS}/{create(api)['id']}/"
    clock.now += 60
    tagged = api.patch(path, json={"tags": ["a"]}).json()
    clock.now += 60
    renamed = api.patch(path, json={"name": "Renamed"}).json()

    assert tagged["updated_at"] == "2026-01-05T10:00:00.000000Z"
    assert renamed["updated_at"] == "2026-01-05T10:02:00.000000Z"
    assert renamed["created_at"] == "2026-01-05T10:00:00.000000Z"


# -- 15-18. delete, projects, list, unknown keys --------------------------------------------------


def test_delete_is_204_empty_then_get_and_delete_are_404(api: httpx.Client) -> None:
    path = f"{METRICS}/{create(api)['id']}/"
    deleted = api.delete(path)
    read, again = api.get(path), api.delete(path)

    assert (deleted.status_code, deleted.content) == (204, b"")
    assert (read.status_code, read.json()) == (404, NOT_FOUND)
    assert (again.status_code, again.json()) == (404, NOT_FOUND)


def test_a_metric_of_another_project_is_404(api: httpx.Client, posthog: PostHog) -> None:
    metric_id = create(api)["id"]
    other = api.get(f"/api/projects/2/experiment_saved_metrics/{metric_id}/")
    posthog.configure({"projects": [1]})
    unlisted = api.get("/api/projects/3/experiment_saved_metrics/")

    assert (other.status_code, other.json()) == (404, NOT_FOUND)
    assert (unlisted.status_code, unlisted.json()) == (404, NOT_FOUND)
    assert api.get(f"/api/environments/1/experiment_saved_metrics/{metric_id}").status_code == 200


def test_list_pages_by_limit_and_offset_with_absolute_links(
    api: httpx.Client, posthog: PostHog
) -> None:
    metrics = [{"name": f"Metric {i:03d}", "query": MEAN} for i in range(101)]
    posthog.seed({"projects": {"1": {"saved_metrics": metrics}}})
    first = api.get(f"{METRICS}/").json()
    last = api.get(f"{METRICS}/?limit=100&offset=100").json()

    assert (first["count"], len(first["results"]), first["previous"]) == (101, 100, None)
    assert first["next"] == f"http://sandbox.test{METRICS}/?limit=100&offset=100"
    assert [m["name"] for m in last["results"]] == ["Metric 100"]
    assert last["next"] is None
    assert last["previous"] == f"http://sandbox.test{METRICS}/?limit=100"


def test_list_filters_by_search_and_by_event(api: httpx.Client, posthog: PostHog) -> None:
    posthog.seed(
        {"projects": {"1": {"actions": [{"id": 7, "name": "Signup", "steps": [{"event": "signed_up"}]}]}}}
    )  # fmt: skip
    create(api, "Revenue", tags=["money"])
    create(api, "Activation", description="Users who sign up",
           query={"kind": "ExperimentMetric", "metric_type": "funnel",
                  "series": [{"kind": "ActionsNode", "id": 7}]})  # fmt: skip

    def names(query: str) -> list[str]:
        return [m["name"] for m in api.get(f"{METRICS}/?{query}").json()["results"]]

    assert names("") == ["Activation", "Revenue"]
    assert names("search=MONEY") == ["Revenue"]
    assert names("search=sign") == ["Activation"]
    assert names("event=purchase") == ["Revenue"]
    assert names("event=signed_up") == ["Activation"]


def test_unknown_and_read_only_top_level_keys_are_ignored(api: httpx.Client) -> None:
    extra = {"id": 999, "created_at": "2020-01-01T00:00:00Z", "foo": "bar"}
    created = create(api, **extra)
    patched = api.patch(f"{METRICS}/{created['id']}/", json={**extra, "description": "d"})

    assert (created["id"], created["created_at"]) == (1, "2026-01-05T10:00:00.000000Z")
    assert "foo" not in created
    assert (patched.status_code, patched.json()["id"]) == (200, 1)


# -- 19-20. throttling and the error shape ------------------------------------------------------


def test_requests_over_the_minute_limit_get_429_with_matching_retry_after(
    api: httpx.Client, clock: FakeClock
) -> None:
    for _ in range(480):
        assert api.get(f"{METRICS}/1/").status_code == 404
    clock.now += 15
    throttled = api.get(METRICS)

    assert (throttled.status_code, throttled.json()) == (
        429,
        {
            "type": "throttled_error",
            "code": "throttled",
            "detail": "Request was throttled. Expected available in 45 seconds.",
            "attr": None,
        },
    )
    assert throttled.headers["Retry-After"] == "45"


def test_requests_over_the_hour_limit_get_429(api: httpx.Client, posthog: PostHog) -> None:
    posthog.configure({"rate_limits": [[480, 60], [3, 3600]]})
    statuses = [api.get(METRICS).status_code for _ in range(4)]

    assert statuses == [200, 200, 200, 429]


def test_error_bodies_carry_exactly_type_code_detail_attr(api: httpx.Client) -> None:
    responses = [
        api.post(METRICS, json={"query": MEAN}),
        api.post(METRICS, content=b"{not json", headers={"Content-Type": "application/json"}),
        api.post(METRICS, json={"name": "x", "query": {**MEAN, "a": 1, "b": 2}}),
        api.get(f"{METRICS}/abc/"),
        api.post(f"{METRICS}/1/", json={}),
        api.get(METRICS, headers={"Authorization": "Bearer nope"}),
    ]

    for response in responses:
        assert set(response.json()) == {"type", "code", "detail", "attr"}, response.text
    assert [r.status_code for r in responses] == [400, 400, 400, 404, 405, 401]
    assert responses[1].json()["code"] == "parse_error"


# -- documented choices -------------------------------------------------------------------------


def test_null_tags_and_null_description_follow_the_settings(
    api: httpx.Client, posthog: PostHog
) -> None:
    path = f"{METRICS}/{create(api, description='d', tags=['a'])['id']}/"
    null_tags = api.patch(path, json={"tags": None})
    cleared = api.patch(path, json={"description": None}).json()
    posthog.configure({"null_tags": "ignore", "null_description": "ignore"})
    api.patch(path, json={"description": "again"})
    ignored = api.patch(path, json={"tags": None, "description": None}).json()

    assert rejected(null_tags) == {
        "type": "validation_error",
        "code": "null",
        "detail": "This field may not be null.",
        "attr": "tags",
    }
    assert cleared["description"] is None
    assert (ignored["description"], ignored["tags"]) == ("again", ["a"])


def test_an_unchanged_query_is_not_revalidated(api: httpx.Client, posthog: PostHog) -> None:
    posthog.seed({"projects": {"1": {"actions": [{"id": 7, "name": "Signup"}]}}})
    query = {"kind": "ExperimentMetric", "metric_type": "funnel",
             "series": [{"kind": "ActionsNode", "id": 7}]}  # fmt: skip
    created = create(api, query=query)
    posthog.seed({"projects": {"1": {"actions": [{"id": 7, "name": "Signup", "deleted": True}]}}})
    resent = api.patch(f"{METRICS}/{created['id']}/", json={"name": "New", "query": query})

    assert resent.status_code == 200
    assert resent.json()["query"]["uuid"] == created["query"]["uuid"]


def test_list_limit_is_uncapped_unless_configured(api: httpx.Client, posthog: PostHog) -> None:
    posthog.seed({"projects": {"1": {"saved_metrics": [{"name": f"m{i}"} for i in range(5)]}}})
    uncapped = api.get(f"{METRICS}/?limit=1000").json()
    posthog.configure({"max_page_size": 2})
    capped = api.get(f"{METRICS}/?limit=1000").json()

    assert len(uncapped["results"]) == 5
    assert len(capped["results"]) == 2
    assert capped["next"] == f"http://sandbox.test{METRICS}/?limit=2&offset=2"


def test_a_list_page_of_10000_metrics_is_cheap(posthog: PostHog) -> None:
    metrics = [{"name": f"Metric {i:05d}", "query": MEAN} for i in range(10_000)]
    posthog.seed({"projects": {"1": {"saved_metrics": metrics}}})
    request = Request.build("GET", f"{METRICS}/?limit=100&offset=5000", AUTH)

    started = time.perf_counter()
    response = posthog.handle(request)
    elapsed = time.perf_counter() - started

    assert response.payload()["results"][0]["name"] == "Metric 05000"
    assert elapsed < 0.05  # measured ~2 ms


# -- over real HTTP -----------------------------------------------------------------------------


def test_create_and_read_over_http(sandbox_http: httpx.Client) -> None:
    created = sandbox_http.post(METRICS, json={"name": "Revenue", "query": MEAN}, headers=AUTH)
    read = sandbox_http.get(f"{METRICS}/{created.json()['id']}/", headers=AUTH)

    assert created.status_code == 201
    assert read.json()["query"]["uuid"] == created.json()["query"]["uuid"]


def test_list_links_are_absolute_over_http(sandbox_http: httpx.Client) -> None:
    for name in ("a", "b"):
        sandbox_http.post(METRICS, json={"name": name, "query": MEAN}, headers=AUTH)
    page = sandbox_http.get(f"{METRICS}/?limit=1", headers=AUTH).json()

    base = str(sandbox_http.base_url).rstrip("/")
    assert page["next"] == f"{base}{METRICS}/?limit=1&offset=1"


def test_delete_over_http_is_204_with_an_empty_body(sandbox_http: httpx.Client) -> None:
    created = sandbox_http.post(METRICS, json={"name": "Revenue", "query": MEAN}, headers=AUTH)
    deleted = sandbox_http.delete(f"{METRICS}/{created.json()['id']}", headers=AUTH)

    assert (deleted.status_code, deleted.content) == (204, b"")
