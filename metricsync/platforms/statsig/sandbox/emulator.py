"""Statsig Console API emulator (docs/platforms/statsig.md): metric definitions and tags under
/console/v1/, behind the console-key check and the mutation rate limits; every behaviour the
document leaves open is a setting in settings.py (docs/sandbox/statsig.md)."""

from __future__ import annotations

import json
import time
from http import HTTPStatus
from typing import Any, ClassVar

from metricsync.platforms.statsig.sandbox.experiments import ExperimentRoutes
from metricsync.platforms.statsig.sandbox.listing import (
    pagination,
    relink,
    requested_page,
    tag_filter,
)
from metricsync.platforms.statsig.sandbox.metrics import (
    MetricTable,
    merged_metric,
    new_metric,
    seeded_metric,
)
from metricsync.platforms.statsig.sandbox.parsing import (
    CREATE,
    CREATE_TYPES,
    NOT_FOUND,
    RENAME,
    RENAME_CONTRACT,
    UPDATE,
    UPDATE_CONTRACT,
    Issue,
    Parse,
    StatsigError,
    issue,
    parse,
    type_rules,
)
from metricsync.platforms.statsig.sandbox.settings import CHECKS, StatsigSettings
from metricsync.platforms.statsig.sandbox.tags import TagRoutes, TagTable, json_body
from metricsync.sandbox import choices
from metricsync.sandbox.http import Request, Response, Router
from metricsync.sandbox.platform import SEED_OBJECT, SEED_OBJECTS, Clock, SandboxPlatform
from metricsync.sandbox.ratelimit import SlidingWindowLimiter
from metricsync.sandbox.store import Store

BUILT_IN_UNIT_TYPES = ("userID", "stableID")
MUTATIONS = ("POST", "PATCH", "PUT", "DELETE")


class Statsig(SandboxPlatform):
    name = "statsig"
    prefixes = ("/console/v1/",)
    seed_shape: ClassVar[dict[str, Any]] = {
        "type": ["object", "null"],
        "properties": {"metrics": SEED_OBJECTS, "tags": SEED_OBJECTS, "settings": SEED_OBJECT},
    }

    def __init__(self, store: Store, clock: Clock = time.time) -> None:
        super().__init__(store, clock)
        self.settings = StatsigSettings()
        self.metrics = MetricTable(store)
        self.tags = TagTable(store)
        self.experiments = ExperimentRoutes(store, self.metrics.get, lambda: self.settings)
        self.limiter = SlidingWindowLimiter(self._limits(), clock)
        self.limiter.count_refused = self.settings.rate_limit_counts_refused
        self.router = Router()
        self._add_routes()

    def _add_routes(self) -> None:
        add, metric = self.router.add, "/console/v1/metrics/{metric_id}"
        self.experiments.register(self.router)  # first: its lineage path has two segments too
        add("GET", "/console/v1/metrics/list", self.list_metrics)
        add("POST", "/console/v1/metrics", self.create)
        add("GET", metric, self.read)
        add("GET", "/console/v1/metrics/{name}/{kind}", self.read_by_name)
        add("POST", metric, self.update)
        add("DELETE", metric, self.delete)
        add("PUT", f"{metric}/schedule_archive", self.archive_action)
        add("PUT", f"{metric}/cancel_archive", self.archive_action)
        add("PUT", f"{metric}/unarchive", self.archive_action)
        TagRoutes(self.tags, lambda: self.settings).register(self.router)

    # -- the platform seam --------------------------------------------------------------------

    def error_response(self, status: int, retry_after: int | None) -> Response:
        """Injected faults in Statsig's error shape: {"status", "message"}."""
        headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
        message = (
            "Too Many Requests"
            if status == 429
            else super().error_response(status, None).payload()["message"]
        )
        return StatsigError(status, message, headers=headers).response()

    def handle(self, request: Request) -> Response:
        try:
            key = self._authenticate(request)
            self._throttle(request, key)
            response = self.router.dispatch(request)
            return response if response is not None else self._unrouted(request)
        except StatsigError as error:
            return error.response()

    def seed(self, data: dict[str, Any]) -> None:
        unknown = set(data) - {"metrics", "tags", "settings", "experiments"}
        if unknown:
            raise ValueError(f"unknown statsig seed key(s): {', '.join(sorted(unknown))}")
        self.configure(data.get("settings") or {})
        for tag in data.get("tags") or []:
            if not isinstance(tag, dict) or not isinstance(tag.get("name"), str):
                raise ValueError(f"seeded statsig tag needs a string name: {tag!r}")
            if self.tags.named(tag["name"]) is None:
                self.tags.add(tag)
        now, owner = self._now_ms(), self.settings.owner
        metrics = [seeded_metric(m, now, owner) for m in data.get("metrics") or []]
        self.tags.ensure(tag for metric in metrics for tag in metric["tags"])
        for metric in metrics:
            self.metrics.put(metric)
        self.experiments.seed(data.get("experiments") or [])

    def configure(self, settings: dict[str, Any]) -> None:
        self.settings = choices.updated(self.settings, settings, CHECKS, self.name)
        self.limiter.limits = self._limits()
        self.limiter.count_refused = self.settings.rate_limit_counts_refused

    def credentials(self) -> dict[str, str]:
        return {"api_key": self.settings.api_keys[0]} if self.settings.api_keys else {}

    def describe_settings(self) -> dict[str, Any]:
        return choices.describe(self.settings)

    # -- metrics ------------------------------------------------------------------------------

    def relink(
        self, payload: dict[str, Any], request: Request, cyclic: bool, origin: str | None
    ) -> None:
        relink(payload, request, cyclic, origin)

    def list_metrics(self, request: Request) -> Response:
        settings = self.settings
        refuse = settings.over_max_page_size == "refuse"
        page = requested_page(request, settings.default_page_size, settings.max_page_size, refuse)
        show_hidden = request.param("showHiddenMetrics") == "true"
        keep = tag_filter(request, self.tags.names_by_id())
        stop = page.start + page.size
        if keep is None:
            total, ids = self.metrics.window(show_hidden, page.start, stop)
        else:
            matched = self.metrics.matching(show_hidden, keep)
            total, ids = len(matched), matched[page.start : stop]
        # The page is assembled from each metric's cached JSON: no per-request re-encoding.
        body = b"".join(
            (
                b'{"message":"Metrics listed successfully.","data":[',
                b",".join(self.metrics.encoded(ids)),
                b'],"pagination":',
                json.dumps(pagination(request, page, total), separators=(",", ":")).encode(),
                b"}",
            )
        )
        return Response(200, body, {"Content-Type": "application/json"})

    def read(self, request: Request, metric_id: str) -> Response:
        return _metric_response(200, "Metric read successfully.", self._metric(metric_id))

    def read_by_name(self, request: Request, name: str, kind: str) -> Response:
        """Off by default: the route is in older notes but not in the vendor's specification."""
        metric = self.metrics.find(name, kind) if self.settings.name_type_route else None
        if metric is None:
            raise StatsigError(404, NOT_FOUND)
        return _metric_response(200, "Metric read successfully.", metric)

    def create(self, request: Request) -> Response:
        fields = parse(CREATE, json_body(request))
        if fields["type"] == "percentile" and self.settings.percentile_on_create == "reject":
            options = " | ".join(f"'{t}'" for t in CREATE_TYPES if t != "percentile")
            message = f"Invalid enum value. Expected {options}, received 'percentile'"
            raise StatsigError.invalid([issue(("type",), message)])
        metric = new_metric(fields, self._now_ms(), self.settings.owner)
        self._check_rules(metric, None)
        self._check_verify(fields, fields.get("isVerified") is True)
        with self.store.lock:
            if self.metrics.clashes(metric["name"], metric["type"], metric["id"]):
                raise StatsigError(400, self.settings.duplicate_message)
            if not fields.get("dryRun"):
                self._store_metric(metric)
        return _metric_response(201, "Metric created successfully.", metric)

    def update(self, request: Request, metric_id: str) -> Response:
        body = json_body(request)
        with self.store.lock:
            stored = self._metric(metric_id)
            renaming = "name" in body and body["name"] != stored["name"]
            fields = parse(self._update_schema(renaming), body)
            metric = merged_metric(stored, fields, self._now_ms())
            self._check_rules(metric, set(fields))
            self._check_verify(
                fields, fields.get("isVerified", stored["isVerified"]) != stored["isVerified"]
            )
            if renaming and self.metrics.clashes(
                metric["name"], metric["type"], metric_id, metric_id
            ):
                raise StatsigError(400, self.settings.duplicate_message)
            if not fields.get("dryRun"):
                self._store_metric(metric)
        return _metric_response(200, "Metric updated successfully.", metric)

    def delete(self, request: Request, metric_id: str) -> Response:
        if not self.metrics.remove(metric_id):
            raise StatsigError(404, NOT_FOUND)
        return Response.json(200, {"message": "Metric deleted successfully."})

    def archive_action(self, request: Request, metric_id: str) -> Response:
        """The archive state is not modelled: no documented field of the metric shows it."""
        self._metric(metric_id)
        messages = {
            "schedule_archive": "Metric archive scheduled successfully for next day.",
            "cancel_archive": "Metric archival cancelled successfully.",
            "unarchive": "Metric unarchived successfully.",
        }
        return Response.json(200, {"message": messages[request.path.rsplit("/", 1)[-1]]})

    # -- helpers ------------------------------------------------------------------------------

    def _authenticate(self, request: Request) -> str:
        key = request.header("statsig-api-key")
        if key in self.settings.api_keys:
            return key
        # The key is echoed, as Statsig does, but only its `console-` sized prefix.
        shown = f"{key[:8]}xxx" if key else "undefined"
        message = (
            "This endpoint only accepts an active CONSOLE key, but an invalid key was sent. "
            f"Key: {shown}"
        )
        raise StatsigError(401, message)

    def _throttle(self, request: Request, key: str) -> None:
        if request.method not in MUTATIONS and not self.settings.rate_limit_reads:
            return
        wait = self.limiter.hit(key if self.settings.rate_limit_per_key else "project")
        if wait is not None:
            headers = {"Retry-After": str(wait)} if self.settings.retry_after else None
            raise StatsigError(429, "Too Many Requests", headers=headers)

    def _unrouted(self, request: Request) -> Response:
        """A path some route serves under another method gets the configured status."""
        if not any(route.pattern.match(request.path) for route in self.router.routes):
            raise StatsigError(404, NOT_FOUND)
        status = self.settings.unrouted_method_status
        message = NOT_FOUND if status == 404 else HTTPStatus(status).phrase
        raise StatsigError(status, message)

    def _update_schema(self, renaming: bool) -> Parse:
        if self.settings.update_definition_fields == "ignore":
            return RENAME_CONTRACT if renaming else UPDATE_CONTRACT
        return RENAME if renaming else UPDATE

    def _metric(self, metric_id: str) -> dict[str, Any]:
        metric = self.metrics.get(metric_id)
        if metric is None:
            raise StatsigError(404, NOT_FOUND)
        return metric

    def _check_rules(self, metric: dict[str, Any], sent: set[str] | None) -> None:
        """Per-type rules, unit types and tag names; on update only for the fields sent."""
        issues = [
            i for i in type_rules(metric) if sent is None or i["property"].split(".")[0] in sent
        ]
        if sent is None or "unitTypes" in sent:
            known = (*BUILT_IN_UNIT_TYPES, *self.settings.unit_types)
            for index, unit in enumerate(metric["unitTypes"]):
                if unit not in known:
                    message = f"Unknown unit type '{unit}'. Known unit types: {', '.join(known)}"
                    issues.append(issue(("unitTypes", index), message))
        if (sent is None or "tags" in sent) and self.settings.unknown_tags == "reject":
            issues.extend(self._unknown_tags(metric["tags"]))
        if issues:
            raise StatsigError.invalid(issues)

    def _unknown_tags(self, names: list[str]) -> list[Issue]:
        known = set(self.tags.names_by_id().values())
        message = "Tag '{}' does not exist; create it first with POST /console/v1/tags"
        return [issue(("tags",), message.format(name)) for name in names if name not in known]

    def _check_verify(self, fields: dict[str, Any], changes_verification: bool) -> None:
        """A key without the verify permission is refused a change of `isVerified`, or with
        `verify_refusal: any` any write that carries the field, even unchanged (unconfirmed)."""
        if self.settings.can_verify:
            return
        if changes_verification or (
            self.settings.verify_refusal == "any" and "isVerified" in fields
        ):
            raise StatsigError(403, "Forbidden resource")

    def _store_metric(self, metric: dict[str, Any]) -> None:
        if self.settings.unknown_tags == "create":
            self.tags.ensure(metric["tags"])
        self.metrics.put(metric)

    def _limits(self) -> list[tuple[int, float]]:
        return [(int(count), float(seconds)) for count, seconds in self.settings.rate_limits]

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)


def _metric_response(status: int, message: str, metric: dict[str, Any]) -> Response:
    return Response.json(status, {"message": message, "data": metric})
