"""The PostHog emulator against the corrections taken from the vendor's own source, one test
per item of the table in docs/sandbox/posthog.md ("Corrections from the vendor's own source")."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from metricsync.platforms.posthog.sandbox.emulator import PostHog
from tests.sandbox.test_posthog import AUTH, METRICS, create, query_detail, rejected

START = 1_767_607_200.0  # 2026-01-05T10:00:00Z
SOURCE = {"kind": "EventsNode", "event": "purchase"}
EARLY_2025 = {
    "kind": "ExperimentMetric",
    "metric_type": "count",
    "metric_config": {"kind": "ExperimentEventMetricConfig", "event": "purchase"},
}
RETENTION = {
    "kind": "ExperimentMetric",
    "metric_type": "retention",
    "start_event": {"kind": "ExperimentExposureNode"},
    "completion_event": {"kind": "EventsNode", "event": "$pageview"},
    "retention_window_start": 0,
    "retention_window_end": 7,
    "retention_window_unit": "day",
    "start_handling": "first_seen",
}


@pytest.fixture
def api(sandbox_client: httpx.Client) -> httpx.Client:
    sandbox_client.headers.update(AUTH)
    return sandbox_client


@pytest.fixture
def posthog(sandbox_app: Any) -> PostHog:
    platform = sandbox_app.platforms["posthog"]
    assert isinstance(platform, PostHog)
    return platform


def test_0_1_names_are_trimmed_and_capped_at_400(api: httpx.Client) -> None:
    created = create(api, "  Revenue \n")
    assert created["name"] == "Revenue"
    duplicate = rejected(api.post(f"{METRICS}/", json={"name": "revenue ", "query": created["query"]}))  # fmt: skip
    assert (duplicate["attr"], duplicate["detail"]) == ("name", "A shared metric with this name already exists.")  # fmt: skip
    assert rejected(api.post(f"{METRICS}/", json={"name": "x" * 401, "query": created["query"]}))["code"] == "max_length"  # fmt: skip


def test_0_2_an_early_2025_experiment_metric_is_patched_like_any_other(
    api: httpx.Client, posthog: PostHog
) -> None:
    posthog.seed({"projects": {"1": {"saved_metrics": [{"id": 5, "name": "Old", "query": EARLY_2025}]}}})  # fmt: skip
    tagged = api.patch(f"{METRICS}/5/", json={"tags": ["kept"]})
    assert tagged.status_code == 200 and tagged.json()["query"]["metric_config"]
    current = {"kind": "ExperimentMetric", "metric_type": "mean", "source": SOURCE}
    updated = api.patch(f"{METRICS}/5/", json={"query": current})
    assert updated.status_code == 200, updated.text
    assert updated.json()["id"] == 5 and updated.json()["query"]["metric_type"] == "mean"


@pytest.mark.parametrize(
    "node",
    [
        {**SOURCE, "optionalInFunnel": True},
        {**SOURCE, "math": "sum", "math_property": "price",
         "math_property_revenue_currency": {"property": None, "static": "EUR"}},
        {**SOURCE, "fixedProperties": [{"key": "email", "type": "person", "value": "a"}]},
        {**SOURCE, "limit": 100, "orderBy": ["timestamp DESC"], "version": 1, "response": None},
        {"kind": "ActionsNode", "id": 7, "optionalInFunnel": None, "limit": None, "orderBy": None},
        {**SOURCE, "properties": [{}]},  # the schema's EmptyPropertyFilter: a filter left blank
    ],
)  # fmt: skip
def test_0_4_nodes_take_the_keys_of_the_current_schema(
    api: httpx.Client, posthog: PostHog, node: dict[str, Any]
) -> None:
    posthog.seed({"projects": {"1": {"actions": [{"id": 7, "name": "Paid"}]}}})
    query = {"kind": "ExperimentMetric", "metric_type": "funnel", "version": 2, "response": None,
             "series": [SOURCE, node]}  # fmt: skip
    response = api.post(f"{METRICS}/", json={"name": "Funnel", "query": query})
    assert response.status_code == 201, response.text


def test_0_4_an_exposure_starts_a_retention_window_without_window_or_last_seen(
    api: httpx.Client,
) -> None:
    assert api.post(f"{METRICS}/", json={"name": "R", "query": RETENTION}).status_code == 201
    windowed = {**RETENTION, "conversion_window": 3, "conversion_window_unit": "day"}
    assert "conversion window cannot be combined with an experiment exposure start" in (
        query_detail(api, windowed)
    )
    last_seen = {**RETENTION, "start_handling": "last_seen"}
    assert "'last_seen' cannot be combined with an experiment exposure start" in (
        query_detail(api, last_seen)
    )
    completion = {**RETENTION, "completion_event": {"kind": "ExperimentExposureNode"}}
    assert "'loc': ('completion_event',), 'type': 'union_tag_invalid'" in (
        query_detail(api, completion)
    )


def test_0_5_older_servers_ignore_search(api: httpx.Client, posthog: PostHog) -> None:
    create(api, "Revenue")
    create(api, "Activation")

    def names() -> list[str]:
        return [m["name"] for m in api.get(f"{METRICS}/?search=rev").json()["results"]]

    assert names() == ["Revenue"]
    posthog.configure({"list_search": False})
    assert names() == ["Activation", "Revenue"]


@pytest.mark.parametrize(("setting", "after"), [("clear", None), ("ignore", "Old text")])
def test_0_6_description_null_follows_the_setting_and_empty_text_always_clears(
    api: httpx.Client, posthog: PostHog, setting: str, after: str | None
) -> None:
    posthog.configure({"null_description": setting})
    metric = create(api, "Revenue", description="Old text")
    nulled = api.patch(f"{METRICS}/{metric['id']}/", json={"description": None}).json()
    assert nulled["description"] == after
    emptied = api.patch(f"{METRICS}/{metric['id']}/", json={"description": ""}).json()
    assert emptied["description"] == ""


def test_update_ignores_plays_a_server_that_does_not_take_a_field(
    api: httpx.Client, posthog: PostHog
) -> None:
    metric = create(api, "Revenue", description="Old text")
    posthog.configure({"update_ignores": ["description"]})
    answered = api.patch(f"{METRICS}/{metric['id']}/", json={"description": "New", "tags": ["t"]})
    assert answered.status_code == 200
    assert (answered.json()["description"], answered.json()["tags"]) == ("Old text", ["t"])
    with pytest.raises(ValueError, match="update_ignores must be a list of fields"):
        posthog.configure({"update_ignores": ["uuid"]})
