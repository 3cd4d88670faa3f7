"""Experiments in the sandbox, as docs/sandbox/statsig.md (lineage, list, read, seeding) and
docs/sandbox/posthog.md (links, status, cascade, live reads, 405) describe them."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from metricsync.sandbox.app import SandboxApp
from metricsync.sandbox.seed import SeedError, apply_seed
from metricsync.sandbox.transport import SandboxTransport

QUERY = {
    "kind": "ExperimentMetric",
    "metric_type": "funnel",
    "series": [{"kind": "EventsNode", "event": "checkout"}],
}
PH = "/api/projects/12345"


def statsig(app: SandboxApp) -> httpx.Client:
    return httpx.Client(
        transport=SandboxTransport(app),
        base_url="http://statsig",
        headers={"STATSIG-API-KEY": "console-sandbox-key"},
    )


def posthog(app: SandboxApp) -> httpx.Client:
    return httpx.Client(
        transport=SandboxTransport(app),
        base_url="http://posthog",
        headers={"Authorization": "Bearer phx_sandbox_personal_key"},
    )


@pytest.fixture
def seeded_statsig(sandbox_app: SandboxApp) -> SandboxApp:
    sandbox_app.seed(
        {
            "statsig": {
                "metrics": [
                    {"name": "Checkout", "type": "sum", "tags": ["core"]},
                    {"name": "Unused", "type": "sum"},
                ],
                "experiments": [
                    {"id": "checkout_v2", "status": "active", "startTime": 1720218271796,
                     "primaryMetrics": [{"name": "Checkout", "type": "sum"}]},
                    {"id": "by_tag", "status": "decision_made", "secondaryMetricTags": ["core"]},
                    {"id": "other", "status": "archived",
                     "otherMetrics": [{"name": "Checkout", "type": "sum"}]},
                    {"id": "unrelated", "status": "setup"},
                ],
            }
        }
    )  # fmt: skip
    return sandbox_app


def ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [e["id"] for e in response.json()["data"]]


def test_statsig_lineage_lists_experiments_using_a_metric_directly_or_by_tag(
    seeded_statsig: SandboxApp,
) -> None:
    client = statsig(seeded_statsig)
    path = "/console/v1/metrics/Checkout%3A%3Asum/experiments"
    response = client.get(path)
    assert ids(response) == ["checkout_v2", "by_tag", "other"]
    body = response.json()
    assert body["message"] == "Experiments listed successfully."
    assert body["data"][0]["primaryMetrics"] == [{"name": "Checkout", "type": "sum"}]
    assert ids(client.get(path, params={"status": "active"})) == ["checkout_v2"]
    two = client.get(path, params=[("status", "active"), ("status", "archived")])
    assert ids(two) == ["checkout_v2", "other"]
    paged = client.get(path, params={"limit": 2}).json()["pagination"]
    assert (paged["totalItems"], paged["nextPage"]) == (3, f"{path}?page=2&limit=2")
    empty = client.get("/console/v1/metrics/Unused%3A%3Asum/experiments").json()
    assert (empty["data"], empty["pagination"]["nextPage"]) == ([], None)
    missing = client.get("/console/v1/metrics/Gone%3A%3Asum/experiments")
    assert missing.status_code == 404


def test_statsig_tag_usage_and_unknown_metrics_are_settings(seeded_statsig: SandboxApp) -> None:
    seeded_statsig.configure(
        {"statsig": {"lineage_includes_tags": False, "lineage_unknown_metric": "empty"}}
    )
    client = statsig(seeded_statsig)
    assert ids(client.get("/console/v1/metrics/Checkout%3A%3Asum/experiments")) == [
        "checkout_v2",
        "other",
    ]
    assert ids(client.get("/console/v1/metrics/Gone%3A%3Asum/experiments")) == []


def test_statsig_experiments_list_and_read(seeded_statsig: SandboxApp) -> None:
    client = statsig(seeded_statsig)
    everything = client.get("/console/v1/experiments")
    assert ids(everything) == ["checkout_v2", "by_tag", "other", "unrelated"]
    assert everything.json()["message"] == "Experiments listed successfully."
    filtered = client.get("/console/v1/experiments?status=active&status=setup")
    assert ids(filtered) == ["checkout_v2", "unrelated"]
    one = client.get("/console/v1/experiments/by_tag").json()
    assert (one["message"], one["data"]["status"]) == (
        "Experiment read successfully.",
        "decision_made",
    )
    assert client.get("/console/v1/experiments/nope").status_code == 404
    assert client.get("/console/v1/experiments?status=running").status_code == 400


def test_statsig_seeded_experiments_are_checked(sandbox_app: SandboxApp) -> None:
    with pytest.raises(SeedError, match="status must be one of"):
        apply_seed(sandbox_app, {"statsig": {"experiments": [{"id": "x", "status": "on"}]}}, "s")


@pytest.fixture
def seeded_posthog(sandbox_app: SandboxApp) -> SandboxApp:
    metrics = [
        {"id": 42, "name": "Checkout conversion", "query": QUERY},
        {"id": 43, "name": "Other", "query": QUERY},
    ]
    experiments: list[dict[str, Any]] = [
        {"id": 7, "name": "checkout-v2", "status": "running", "saved_metrics": ["Checkout conversion"]},
        {"id": 8, "name": "paused one", "status": "paused", "saved_metrics": [{"id": 43, "metadata": {"type": "secondary"}}]},
        {"id": 9, "name": "ended", "status": "stopped", "archived": True, "saved_metrics": [42]},
        {"id": 10, "name": "draft one"},
    ]  # fmt: skip
    sandbox_app.seed(
        {"posthog": {"projects": {"12345": {"saved_metrics": metrics, "experiments": experiments}}}}
    )
    return sandbox_app


def test_posthog_list_omits_metric_fields_and_filters_archived_and_status(
    seeded_posthog: SandboxApp,
) -> None:
    client = posthog(seeded_posthog)
    listed = client.get(f"{PH}/experiments/").json()
    assert [(e["id"], e["status"]) for e in listed["results"]] == [
        (10, "draft"), (8, "paused"), (7, "running"),
    ]  # fmt: skip
    assert all("saved_metrics" not in e and "metrics" not in e for e in listed["results"])
    archived = client.get(f"{PH}/experiments/", params={"archived": "true"}).json()
    assert [e["id"] for e in archived["results"]] == [9]
    running = client.get(f"{PH}/experiments/", params={"status": "running"}).json()
    assert [e["id"] for e in running["results"]] == [7]
    seeded_posthog.configure({"posthog": {"list_full_experiments": True}})
    full = client.get(f"{PH}/experiments/").json()["results"]
    assert [len(e["saved_metrics"]) for e in full] == [0, 1, 1]


def test_posthog_links_read_live_and_cascade_on_delete(seeded_posthog: SandboxApp) -> None:
    client = posthog(seeded_posthog)
    [link] = client.get(f"{PH}/experiments/7/").json()["saved_metrics"]
    assert (link["experiment"], link["saved_metric"], link["name"]) == (
        7,
        42,
        "Checkout conversion",
    )
    assert link["metadata"] == {"type": "primary"}
    before = link["query"]["fingerprint"]
    client.patch(f"{PH}/experiment_saved_metrics/42/", json={"name": "Checkout CVR"})
    [link] = client.get(f"{PH}/experiments/7/").json()["saved_metrics"]
    assert (link["name"], link["query"]["fingerprint"]) == ("Checkout CVR", before)
    changed = {**QUERY, "series": [{"kind": "EventsNode", "event": "purchase"}]}
    client.patch(f"{PH}/experiment_saved_metrics/42/", json={"query": changed})
    [link] = client.get(f"{PH}/experiments/7/").json()["saved_metrics"]
    assert link["query"]["series"] == changed["series"]
    assert link["query"]["fingerprint"] != before
    assert client.delete(f"{PH}/experiment_saved_metrics/42/").status_code == 204
    assert client.get(f"{PH}/experiments/7/").json()["saved_metrics"] == []
    saved = client.get(f"{PH}/experiment_saved_metrics/43/").json()
    assert not {"experiments", "linked_experiments"} & set(saved)


def test_posthog_saved_metrics_ids_replace_links_and_are_validated(
    seeded_posthog: SandboxApp,
) -> None:
    client = posthog(seeded_posthog)
    url = f"{PH}/experiments/10/"
    client.patch(url, json={"saved_metrics_ids": [{"id": 42, "metadata": {"type": "tertiary"}}]})
    assert [link["saved_metric"] for link in client.get(url).json()["saved_metrics"]] == [42]
    client.patch(url, json={"name": "renamed"})
    assert len(client.get(url).json()["saved_metrics"]) == 1
    client.patch(url, json={"saved_metrics_ids": None})
    assert client.get(url).json()["saved_metrics"] == []
    cases = [
        ({"a": 1}, 'Expected a list of items but got type "dict".'),
        ([1], "Saved metric must be an object"),
        ([{}], "Saved metric must have an id"),
        ([{"id": 42, "metadata": 1}], "Metadata must be an object"),
        ([{"id": 42, "metadata": {}}], "Metadata must have a type key"),
        ([{"id": 999}], "Saved metric does not exist or does not belong to this project"),
    ]
    for value, detail in cases:
        response = client.patch(url, json={"saved_metrics_ids": value})
        assert (response.status_code, response.json()["detail"]) == (400, detail)


def test_posthog_experiment_delete_archive_and_soft_delete(seeded_posthog: SandboxApp) -> None:
    client = posthog(seeded_posthog)
    response = client.delete(f"{PH}/experiments/7/")
    assert (response.status_code, response.content) == (405, b"")
    archive = client.post(f"{PH}/experiments/7/archive/")
    assert archive.json()["detail"] == "Experiment must be ended before it can be archived."
    assert client.post(f"{PH}/experiments/9/archive/").json()["detail"] == (
        "Experiment is already archived."
    )
    assert client.patch(f"{PH}/experiments/7/", json={"archived": True}).status_code == 200
    assert client.patch(f"{PH}/experiments/7/", json={"deleted": True}).status_code == 200
    assert client.get(f"{PH}/experiments/7/").status_code == 404
    ended = client.post(f"{PH}/experiments/8/end/").json()
    assert ended["status"] == "stopped"
