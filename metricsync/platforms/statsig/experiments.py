"""Which Statsig experiments use a metric: the lineage route per metric, and the experiments list
once for scorecards that take metrics in by tag (whether the lineage route counts those is
unconfirmed, so they are matched here as well): docs/platforms/statsig.md, "Experiments that use
a metric"."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypedDict
from urllib.parse import quote

from metricsync.client import ApiClient
from metricsync.errors import MetricsyncError
from metricsync.listing import Count, Link, envelope_decoder
from metricsync.live import LiveObject
from metricsync.plan import Use
from metricsync.secrets import redact
from metricsync.usage import Lookup

API = "/console/v1"
PAGE_SIZE = 100  # every API version accepts it (docs/platforms/statsig.md, Listing); links follow
# Not (or no longer) assigning or analysing. Every other status counts as running, the two the
# spec lists (`active`, `assignment_stopped`) and any it does not list yet: a status metricsync
# cannot place must not let a delete through.
NOT_RUNNING = frozenset({"setup", "decision_made", "abandoned", "archived", "experiment_stopped"})
TAG_REFERENCES = ("primaryMetricTags", "secondaryMetricTags")


def use(experiment: Mapping[str, Any]) -> Use:
    status = str(experiment.get("status") or "unknown")
    name = experiment.get("name") or experiment.get("id")
    return Use(str(experiment.get("id")), str(name), status, status not in NOT_RUNNING)


def tagged(experiment: Mapping[str, Any], tags: set[str]) -> bool:
    return any(tags & set(experiment.get(key) or []) for key in TAG_REFERENCES)


def experiments_using(client: ApiClient, objects: Sequence[LiveObject]) -> Lookup:
    """Lineage for every metric at once (the client's concurrency), plus one read of the
    experiments list when any of them carries tags; each failure leaves its usage unknown."""
    before = sum(client.requests.values())
    tags = {obj.id: set(_tags(obj)) for obj in objects}
    with ThreadPoolExecutor(max_workers=client.limits.concurrency) as pool:
        listing = pool.submit(_all_experiments, client) if any(tags.values()) else None
        lineage = {obj.id: pool.submit(_lineage, client, obj.id) for obj in objects}
        used: dict[str, tuple[Use, ...]] = {}
        unknown: dict[str, str] = {}
        every = _result(listing.result) if listing is not None else []
        for metric_id, read in lineage.items():
            found = _result(read.result)
            if isinstance(found, str):
                unknown[metric_id] = found
                continue
            if tags[metric_id] and isinstance(every, str):
                unknown[metric_id] = every  # its tag-based use could not be read
                continue
            by_tag = [e for e in every if isinstance(e, dict) and tagged(e, tags[metric_id])]
            unique = {str(e.get("id")): e for e in [*found, *by_tag]}
            used[metric_id] = tuple(use(e) for e in unique.values())
    requests = sum(client.requests.values()) - before
    return Lookup(used, unknown, requests, _paced(client, requests))


class Pagination(TypedDict, total=False):
    """The `pagination` of a Statsig list page (docs/platforms/statsig.md)."""

    totalItems: Count
    itemsPerPage: Count
    nextPage: Link


PAGES = envelope_decoder("data", {"pagination": Pagination | None})


def _tags(obj: LiveObject) -> list[str]:
    raw = obj.raw.get("tags") if isinstance(obj.raw, Mapping) else obj.spec.get("tags")
    raw = [raw] if isinstance(raw, str) else raw or []
    return [t for t in raw if isinstance(t, str)]


def _result(read: Callable[[], list[dict[str, Any]]]) -> list[dict[str, Any]] | str:
    try:
        return read()
    except MetricsyncError as exc:
        return f"lookup failed: {redact(str(exc))}"


def _lineage(client: ApiClient, metric_id: str) -> list[dict[str, Any]]:
    return list(_pages(client, f"{API}/metrics/{quote(metric_id, safe='')}/experiments"))


def _all_experiments(client: ApiClient) -> list[dict[str, Any]]:
    return list(_pages(client, f"{API}/experiments"))


def _pages(client: ApiClient, path: str) -> Iterator[dict[str, Any]]:
    """Every item of a Statsig list, following `nextPage` links."""
    response = client.send("GET", path, params={"page": 1, "limit": PAGE_SIZE})
    while True:
        body = client.decode(response, PAGES.decode)
        yield from (e for e in body.get("data") or [] if isinstance(e, dict))
        link = (body.get("pagination") or {}).get("nextPage")
        if not link:
            return
        response = client.send("GET", str(link))


def _paced(client: ApiClient, requests: int) -> int:
    return requests if "GET" in client.limits.paced_methods else 0
