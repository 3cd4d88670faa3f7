"""Which PostHog experiments link a saved metric (docs/platforms/posthog.md): nothing on the
saved metric says so, and current list items omit the links, so the experiments are listed
(archived and not) and each one's links read from its detail, running experiments first.
Servers whose list items still carry `saved_metrics` cost the list alone."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from metricsync.client import ApiClient
from metricsync.errors import MetricsyncError
from metricsync.listing import OBJECT, Count, Link, envelope_decoder
from metricsync.live import LiveObject
from metricsync.plan import Use
from metricsync.secrets import redact
from metricsync.usage import Lookup

PAGE_SIZE = 1000


def running(experiment: Mapping[str, Any]) -> bool:
    """Launched and not ended, whatever `archived` or the flag say (docs/platforms/posthog.md)."""
    return bool(experiment.get("start_date")) and not experiment.get("end_date")


def use(experiment: Mapping[str, Any]) -> Use:
    status = experiment.get("status")
    if not isinstance(status, str):  # much older servers: derive it from the dates
        status = "draft" if not experiment.get("start_date") else "stopped"
        status = "running" if running(experiment) else status
    label = experiment.get("name") or f"experiment {experiment.get('id')}"
    return Use(str(experiment.get("id")), str(label), status, running(experiment))


def linked_ids(experiment: Mapping[str, Any]) -> set[str]:
    links = experiment.get("saved_metrics") or []
    return {str(link.get("saved_metric")) for link in links if isinstance(link, dict)}


def experiments_using(client: ApiClient, base: str, objects: Sequence[LiveObject]) -> Lookup:
    """`base` is the project path (`/api/projects/<id>`). Any failed read leaves every
    object's usage unknown: an experiment not read could be the one that uses it."""
    before = sum(client.requests.values())
    wanted = {obj.id for obj in objects}
    try:
        experiments = _experiments(client, base)
    except MetricsyncError as exc:
        reason = f"lookup failed: {redact(str(exc))}"
        requests = sum(client.requests.values()) - before
        return Lookup({}, dict.fromkeys(wanted, reason), requests, requests)
    used: dict[str, list[Use]] = {metric_id: [] for metric_id in wanted}
    for experiment in experiments:
        for metric_id in linked_ids(experiment) & wanted:
            used[metric_id].append(use(experiment))
    requests = sum(client.requests.values()) - before
    return Lookup({k: tuple(v) for k, v in used.items()}, {}, requests, requests)


PAGES = envelope_decoder("results", {"count": Count, "next": Link})  # a PostHog list page


def _experiments(client: ApiClient, base: str) -> list[dict[str, Any]]:
    """Every experiment (archived or not) with its links; detail reads run concurrently, the
    running experiments' first, since those decide whether a delete is refused."""
    with ThreadPoolExecutor(max_workers=client.limits.concurrency) as pool:
        lists = [pool.submit(_list, client, base, archived) for archived in ("false", "true")]
        listed = [e for read in lists for e in read.result()]
        complete = [e for e in listed if "saved_metrics" in e]
        partial = sorted((e for e in listed if "saved_metrics" not in e), key=running, reverse=True)
        details = [pool.submit(_detail, client, base, e["id"]) for e in partial]
        return [*complete, *(read.result() for read in details)]


def _list(client: ApiClient, base: str, archived: str) -> list[dict[str, Any]]:
    return list(_pages(client, f"{base}/experiments/", archived))


def _pages(client: ApiClient, path: str, archived: str) -> Iterator[dict[str, Any]]:
    params = {"limit": PAGE_SIZE, "archived": archived}
    response = client.send("GET", path, params=params)
    while True:
        body = client.decode(response, PAGES.decode)
        yield from (e for e in body.get("results") or [] if isinstance(e, dict) and "id" in e)
        link = body.get("next")
        if not link:
            return
        response = client.send("GET", str(link))


def _detail(client: ApiClient, base: str, experiment_id: Any) -> dict[str, Any]:
    response = client.send("GET", f"{base}/experiments/{experiment_id}/")
    return client.decode(response, OBJECT.decode)
