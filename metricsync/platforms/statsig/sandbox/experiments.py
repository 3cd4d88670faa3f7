"""Statsig experiments in the sandbox: seeded experiments of any status, the experiments routes
and the lineage route that lists the experiments using a metric, directly or (a setting) through
the metric tags their scorecards name (docs/platforms/statsig.md#experiments-that-use-a-metric)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from metricsync.platforms.statsig.sandbox.listing import pagination, requested_page
from metricsync.platforms.statsig.sandbox.parsing import NOT_FOUND, StatsigError, issue
from metricsync.sandbox.http import Request, Response, Router
from metricsync.sandbox.store import Store

STATUSES = (
    "active", "setup", "decision_made", "abandoned", "archived", "experiment_stopped",
    "assignment_stopped",
)  # fmt: skip
REFERENCES = ("primaryMetrics", "secondaryMetrics", "otherMetrics")
TAG_REFERENCES = ("primaryMetricTags", "secondaryMetricTags")
LISTED = "Experiments listed successfully."
DEFAULTS: dict[str, Any] = {
    "description": "", "hypothesis": "", "idType": "userID", "status": "setup",
    "startTime": None, "endTime": None, "decisionTime": None, "decisionReason": None,
    "launchedGroupID": None, "layerID": None, "allocation": 100, "targetingGateID": "",
    "primaryMetrics": [], "secondaryMetrics": [], "primaryMetricTags": [],
    "secondaryMetricTags": [], "tags": [], "groups": [], "bonferroniCorrection": False,
    "defaultConfidenceInterval": "95", "healthCheckStatus": "PASSED",
}  # fmt: skip


def seeded_experiment(seed: Any) -> dict[str, Any]:
    """A pre-existing experiment: `id` required; every other field has its default."""
    if not isinstance(seed, dict) or not isinstance(seed.get("id"), str) or not seed["id"]:
        raise ValueError(f"seeded statsig experiment needs a string id: {seed!r}")
    experiment = {"id": seed["id"], "name": seed["id"], **DEFAULTS, **seed}
    if experiment["status"] not in STATUSES:
        raise ValueError(
            f"seeded statsig experiment {seed['id']!r}: status must be one of "
            f"{', '.join(STATUSES)}, got {experiment['status']!r}"
        )
    for key in REFERENCES:
        refs = experiment.get(key) or []
        if not all(isinstance(r, dict) and {"name", "type"} <= set(r) for r in refs):
            raise ValueError(
                f"seeded statsig experiment {seed['id']!r}: {key} items are {{name, type}}"
            )
    return experiment


def uses(experiment: Mapping[str, Any], metric: Mapping[str, Any], by_tag: bool) -> bool:
    """Whether the experiment's scorecard holds the metric: a `{name, type}` reference to its
    id or to its current name (renamed metrics keep their id), or, with `by_tag`, a scorecard
    tag the metric carries."""
    names = {metric["id"], f"{metric['name']}::{metric['type']}"}
    for key in REFERENCES:
        for ref in experiment.get(key) or []:
            if f"{ref.get('name')}::{ref.get('type')}" in names:
                return True
    if by_tag:
        tags = set(metric.get("tags") or [])
        return any(tags & set(experiment.get(key) or []) for key in TAG_REFERENCES)
    return False


class ExperimentRoutes:
    """The experiments list, one experiment, and a metric's lineage; register them before the
    metric routes, whose `/metrics/{name}/{type}` would otherwise take the lineage path."""

    def __init__(
        self,
        store: Store,
        metric: Callable[[str], dict[str, Any] | None],
        settings: Callable[[], Any],
    ) -> None:
        self.table = store.collection("statsig_experiments")
        self.metric, self.settings = metric, settings

    def register(self, router: Router) -> None:
        router.add("GET", "/console/v1/experiments", self.list_experiments)
        router.add("GET", "/console/v1/experiments/{experiment_id}", self.read)
        router.add("GET", "/console/v1/metrics/{metric_id}/experiments", self.lineage)

    def seed(self, experiments: Any) -> None:
        if not isinstance(experiments, list):
            raise ValueError(f"statsig experiments must be a list, got {experiments!r}")
        for seed in experiments:
            experiment = seeded_experiment(seed)
            self.table.put(experiment["id"], experiment)

    def list_experiments(self, request: Request) -> Response:
        return self._page(request, self.table.values())

    def read(self, request: Request, experiment_id: str) -> Response:
        experiment = self.table.get(experiment_id)
        if experiment is None:
            raise StatsigError(404, NOT_FOUND)
        return Response.json(200, {"message": "Experiment read successfully.", "data": experiment})

    def lineage(self, request: Request, metric_id: str) -> Response:
        metric = self.metric(metric_id)
        if metric is None:
            if self.settings().lineage_unknown_metric == "not_found":
                raise StatsigError(404, NOT_FOUND)
            return self._page(request, [])
        by_tag = self.settings().lineage_includes_tags
        return self._page(request, [e for e in self.table.values() if uses(e, metric, by_tag)])

    def _page(self, request: Request, experiments: list[dict[str, Any]]) -> Response:
        statuses = request.query.get("status", [])
        wrong = [s for s in statuses if s not in STATUSES]
        if wrong:
            expected = " | ".join(f"'{s}'" for s in STATUSES)
            message = f"Invalid enum value. Expected {expected}, received '{wrong[0]}'"
            raise StatsigError.invalid([issue(("status",), message)])
        chosen = [e for e in experiments if not statuses or e["status"] in statuses]
        settings = self.settings()
        page = requested_page(request, settings.default_page_size, settings.max_page_size)
        body = {
            "message": LISTED,
            "data": chosen[page.start : page.start + page.size],
            "pagination": pagination(request, page, len(chosen), ("status",)),
        }
        return Response(200, json.dumps(body).encode(), {"Content-Type": "application/json"})
