"""PostHog experiment saved metrics emulator (docs/platforms/posthog.md) under /api/projects/{id}/
(and /api/environments/{id}/): personal-key auth, per-key throttling, project scoping, DRF-style
errors; every behaviour the document leaves open is a setting in settings.py
(docs/sandbox/posthog.md)."""

from __future__ import annotations

import itertools
import json
import re
import time
from datetime import UTC, datetime
from typing import Any, ClassVar

from metricsync.platforms.posthog.sandbox.experiments import (
    ExperimentRoutes,
    ExperimentTable,
    Linked,
    seeded_experiment,
)
from metricsync.platforms.posthog.sandbox.fields import (
    PostHogError,
    clean,
    invalid,
    json_body,
    tagify,
)
from metricsync.platforms.posthog.sandbox.listing import links, matcher, relink, requested_window
from metricsync.platforms.posthog.sandbox.metrics import ActionTable, SavedMetricTable
from metricsync.platforms.posthog.sandbox.query import (
    LEGACY_UPDATE,
    UUID_CHANGED,
    QueryError,
    action_ids,
    comparable,
    is_legacy,
    validate,
    with_action_names,
    with_new_uuid,
)
from metricsync.platforms.posthog.sandbox.settings import CHECKS, PostHogSettings
from metricsync.sandbox import choices
from metricsync.sandbox.http import Handler, Request, Response, Router
from metricsync.sandbox.platform import SEED_OBJECT, SEED_OBJECTS, Clock, SandboxPlatform
from metricsync.sandbox.ratelimit import SlidingWindowLimiter
from metricsync.sandbox.store import Store

PROJECT_PATH = re.compile(r"^/api/(?:projects|environments)/([^/]+)(/|$)")
METRICS = "/{project}/experiment_saved_metrics"


class PostHog(SandboxPlatform):
    name = "posthog"
    prefixes = ("/api/projects/", "/api/environments/")
    seed_shape: ClassVar[dict[str, Any]] = {
        "type": ["object", "null"],
        "properties": {
            "settings": SEED_OBJECT,
            "projects": {
                "type": ["object", "null"],
                "additionalProperties": {
                    "type": "object",
                    "properties": {"saved_metrics": SEED_OBJECTS, "actions": SEED_OBJECTS},
                },
            },
        },
    }

    def __init__(self, store: Store, clock: Clock = time.time) -> None:
        super().__init__(store, clock)
        self.settings = PostHogSettings()
        self.metrics = SavedMetricTable(store)
        self.actions = ActionTable(store)
        self.experiments = ExperimentTable(store, self._linked, self._now)
        self.limiter = SlidingWindowLimiter(self._limits(), clock)
        self.router = Router()
        item = METRICS + "/{metric_id}"
        routes: list[tuple[str, str, Handler]] = [
            ("GET", METRICS, self.list_metrics),
            ("POST", METRICS, self.create),
            ("GET", item, self.read),
            ("PATCH", item, self.patch),
            ("PUT", item, self.put),
            ("DELETE", item, self.delete),
            ("GET", "/{project}/tags", self.list_tags),
            *ExperimentRoutes(self.experiments, lambda: self.settings).routes(),
        ]
        for method, template, handler in routes:
            # Both prefixes, with and without the trailing slash: links echo the path as sent.
            for prefix, slash in itertools.product(self.prefixes, ("", "/")):
                self.router.add(method, prefix.rstrip("/") + template + slash, handler)

    # -- the platform seam --------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        try:
            return self._serve(request)
        except PostHogError as error:
            return error.response()

    def seed(self, data: dict[str, Any]) -> None:
        _only(data, ("projects", "settings"), "seed")
        self.configure(data.get("settings") or {})
        for raw_id, section in (data.get("projects") or {}).items():
            project = int(raw_id)
            _only(section, ("saved_metrics", "actions", "experiments"), f"seed project {raw_id}")
            for action in section.get("actions") or []:
                self.actions.put(project, action)
                self.metrics.forget_encodings()  # read-back shows the actions' current names
            for seeded in section.get("saved_metrics") or []:
                self.metrics.put(self._seeded(project, seeded))
            for seeded in section.get("experiments") or []:
                named = lambda name, p=project: self.metrics.name_holder(p, name)  # noqa: E731
                self.experiments.put(seeded_experiment(seeded, project, self.experiments, named))

    def provide(self, data: dict[str, Any]) -> None:
        """Actions the definitions reference, under the names they give them; an action that
        exists already (seeded, even deleted) is kept as it is."""
        for raw_id, section in (data.get("projects") or {}).items():
            project = int(raw_id)
            for action in section.get("actions") or []:
                if not self.actions.known(project, action["id"]):
                    self.actions.put(project, action)
                    self.metrics.forget_encodings()

    def configure(self, settings: dict[str, Any]) -> None:
        self.settings = choices.updated(self.settings, settings, CHECKS, self.name)
        self.limiter.limits = self._limits()
        self.metrics.forget_encodings()  # rendering depends on tagging and user_access_level

    def credentials(self) -> dict[str, str]:
        return {"api_key": self.settings.api_keys[0]} if self.settings.api_keys else {}

    def describe_settings(self) -> dict[str, Any]:
        return choices.describe(self.settings)

    # -- routes -------------------------------------------------------------------------------

    def relink(
        self, payload: dict[str, Any], request: Request, cyclic: bool, origin: str | None
    ) -> None:
        relink(payload, request, cyclic, origin)

    def list_metrics(self, request: Request, project: str) -> Response:
        pid, settings = int(project), self.settings
        window = requested_window(request, settings.default_page_size, settings.max_page_size)
        keep = matcher(
            request, self._tags, lambda ids: self.actions.events(pid, ids), settings.list_search
        )
        if keep is None:
            count, docs = self.metrics.window(pid, window.offset, window.limit)
        else:
            matched = [doc for doc in self.metrics.in_project(pid) if keep(doc)]
            count, docs = len(matched), matched[window.offset : window.offset + window.limit]
        following, previous = links(request, window, count)
        head = {"count": count, "next": following, "previous": previous}
        # Assembled from each metric's cached JSON: a page costs no per-request re-encoding.
        body = b"".join(
            (
                json.dumps(head, separators=(",", ":"))[:-1].encode(),
                b',"results":[',
                b",".join(self.metrics.encoded(docs, self._render)),
                b"]}",
            )
        )
        return Response(200, body, {"Content-Type": "application/json"})

    def create(self, request: Request, project: str) -> Response:
        pid, fields = int(project), self._fields(request, partial=False)
        with self.store.lock:
            self._check_name(pid, fields["name"], None)
            self._validate(pid, fields["query"], exempt=[])
            now = self._now()
            doc = {
                "id": self.metrics.new_id(),
                "project": pid,
                "name": fields["name"],
                "description": fields.get("description"),
                "query": with_new_uuid(fields["query"]),
                "tags": tagify(fields.get("tags", [])) if self.settings.tagging else [],
                "created_by": self.settings.created_by,
                "created_at": now,
                "updated_at": now,
            }
            self.metrics.put(doc)
        return Response.json(201, self._render(doc))

    def read(self, request: Request, project: str, metric_id: str) -> Response:
        return Response.json(200, self._render(self._stored(project, metric_id)))

    def patch(self, request: Request, project: str, metric_id: str) -> Response:
        return self._update(request, project, metric_id, partial=True)

    def put(self, request: Request, project: str, metric_id: str) -> Response:
        return self._update(request, project, metric_id, partial=False)

    def delete(self, request: Request, project: str, metric_id: str) -> Response:
        with self.store.lock:
            doc = self._stored(project, metric_id)
            self.metrics.remove(doc)
            self.experiments.unlink(doc["id"])  # every link to it cascades away
        return Response(204)

    def list_tags(self, request: Request, project: str) -> Response:
        """The project's tags: exactly those some saved metric carries (unused ones are deleted)."""
        if not self.settings.tagging:
            detail = "Tagging is not available on this organization's plan."
            raise PostHogError(402, "invalid_request", "payment_required", detail)
        docs = self.metrics.in_project(int(project))
        return Response.json(200, sorted({tag for doc in docs for tag in doc["tags"]}))

    def error_response(self, status: int, retry_after: int | None) -> Response:
        """Injected faults in PostHog's error shape: throttling, or a server error."""
        headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
        if status == 429:
            wait = retry_after if retry_after is not None else 1
            detail = f"Request was throttled. Expected available in {wait} second"
            detail += "." if wait == 1 else "s."
            return PostHogError(
                429, "throttled_error", "throttled", detail, headers=headers
            ).response()
        detail = "A server error occurred." if status >= 500 else "Injected error."
        kind = "server_error" if status >= 500 else "invalid_request"
        return PostHogError(status, kind, "error", detail, headers=headers).response()

    # -- request steps ------------------------------------------------------------------------

    def _serve(self, request: Request) -> Response:
        key = self._authenticate(request)
        match = PROJECT_PATH.match(request.path)
        if match is None or not self._project_allowed(match.group(1)):
            raise self._not_found()
        wait = self.limiter.hit(key)
        if wait is not None:
            detail = f"Request was throttled. Expected available in {wait} second"
            detail += "." if wait == 1 else "s."
            headers = {"Retry-After": str(wait)}
            raise PostHogError(429, "throttled_error", "throttled", detail, headers=headers)
        response = self.router.dispatch(request)
        if response is not None:
            return response
        if any(route.pattern.match(request.path) for route in self.router.routes):
            detail = f'Method "{request.method}" not allowed.'
            raise PostHogError(405, "invalid_request", "method_not_allowed", detail)
        raise self._not_found()

    def _authenticate(self, request: Request) -> str:
        """Bearer header first, then `personal_api_key` in the query string or JSON body."""
        scheme, _, token = request.header("authorization").partition(" ")
        key = token.strip() if scheme.lower() == "bearer" else ""
        key = key or request.param("personal_api_key") or _body_key(request)
        if not key:
            detail = "Authentication credentials were not provided."
            raise PostHogError(401, "authentication_error", "not_authenticated", detail)
        if key not in self.settings.api_keys:
            detail = "Invalid personal API key."
            raise PostHogError(401, "authentication_error", "authentication_failed", detail)
        return key

    def _project_allowed(self, raw: str) -> bool:
        if not raw.isdigit():
            return False
        return not self.settings.projects or int(raw) in self.settings.projects

    def _fields(self, request: Request, partial: bool) -> dict[str, Any]:
        settings = self.settings
        body = json_body(request)
        return clean(body, partial, settings.null_description, settings.null_tags)

    def _update(self, request: Request, project: str, metric_id: str, partial: bool) -> Response:
        with self.store.lock:
            doc = self._stored(project, metric_id)
            fields = self._fields(request, partial)
            if is_legacy(doc["query"]):
                raise invalid(LEGACY_UPDATE)
            if "name" in fields:
                self._check_name(doc["project"], fields["name"], doc["id"])
            if "query" in fields:
                fields["query"] = self._updated_query(doc, fields["query"])
            for ignored in self.settings.update_ignores:  # accepted and checked, not stored
                fields.pop(ignored, None)
            if any(key in fields for key in ("name", "description", "query")):
                doc["updated_at"] = self._now()
            doc.update({k: fields[k] for k in ("name", "description", "query") if k in fields})
            if "tags" in fields and self.settings.tagging:
                doc["tags"] = tagify(fields["tags"])
            self.metrics.put(doc)
        return Response.json(200, self._render(doc))

    def _updated_query(self, doc: dict[str, Any], query: Any) -> Any:
        """The stored uuid is kept (re-inserted when omitted, a different one refused); a query
        equal to the stored one is not re-validated, so old metrics stay editable."""
        stored = doc["query"]
        if query and isinstance(query, dict):
            if "uuid" in stored:
                if "uuid" in query and query["uuid"] != stored["uuid"]:
                    raise invalid(UUID_CHANGED)
                query = {**query, "uuid": stored["uuid"]}
            if comparable(query) == comparable(stored):
                return query
        self._validate(doc["project"], query, exempt=action_ids(stored))
        return query

    def _validate(self, project: int, query: Any, exempt: list[int]) -> None:
        try:
            validate(query, lambda i: i in exempt or self.actions.usable(project, i))
        except QueryError as error:
            raise invalid(error.detail) from None

    def _check_name(self, project: int, name: str, own_id: int | None) -> None:
        holder = self.metrics.name_holder(project, name)
        if holder is not None and holder != own_id:
            raise invalid("A shared metric with this name already exists.", "name")

    def _stored(self, project: str, metric_id: str) -> dict[str, Any]:
        doc = self.metrics.get(int(project), int(metric_id)) if metric_id.isdigit() else None
        if doc is None:
            raise self._not_found()
        return doc

    def _render(self, doc: dict[str, Any]) -> dict[str, Any]:
        project = doc["project"]
        return {
            "id": doc["id"],
            "name": doc["name"],
            "description": doc["description"],
            "query": with_action_names(doc["query"], lambda i: self.actions.name(project, i)),
            "created_by": doc["created_by"],
            "created_at": doc["created_at"],
            "updated_at": doc["updated_at"],
            "tags": self._tags(doc),
            "user_access_level": self.settings.user_access_level,
        }

    def _linked(self, project: int, metric_id: int) -> Linked | None:
        """A saved metric as experiment links show it: read live, current action names."""
        doc = self.metrics.get(project, metric_id)
        if doc is None:
            return None
        return Linked(
            doc["name"], with_action_names(doc["query"], lambda i: self.actions.name(project, i))
        )

    def _tags(self, doc: dict[str, Any]) -> list[str]:
        return list(doc["tags"]) if self.settings.tagging else []

    def _seeded(self, project: int, seeded: dict[str, Any]) -> dict[str, Any]:
        """A pre-existing metric, taken as given (legacy queries too); server fields filled in."""
        if not isinstance(seeded, dict) or not isinstance(seeded.get("name"), str):
            raise ValueError(f"seeded posthog saved metric needs a name: {seeded!r}")
        query, metric_id = seeded.get("query") or {}, seeded.get("id")
        if not isinstance(query, dict) or not isinstance(metric_id, int | None):
            raise ValueError(
                f"seeded posthog saved metric needs an object query, an int id: {seeded!r}"
            )
        if query.get("kind") == "ExperimentMetric" and "uuid" not in query:
            query = with_new_uuid(query)
        now = self._now()
        return {
            "id": metric_id or self.metrics.new_id(),
            "project": project,
            "name": seeded["name"],
            "description": seeded.get("description"),
            "query": query,
            "tags": tagify(seeded.get("tags") or []),
            "created_by": seeded.get("created_by", self.settings.created_by),
            "created_at": seeded.get("created_at", now),
            "updated_at": seeded.get("updated_at", now),
        }

    def _not_found(self) -> PostHogError:
        detail = self.settings.not_found_detail
        return PostHogError(404, "invalid_request", "not_found", detail)

    def _limits(self) -> list[tuple[int, float]]:
        return [(int(count), float(seconds)) for count, seconds in self.settings.rate_limits]

    def _now(self) -> str:
        return datetime.fromtimestamp(self.clock(), UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _body_key(request: Request) -> str:
    try:
        body = request.json()
    except ValueError:
        return ""
    key = body.get("personal_api_key") if isinstance(body, dict) else None
    return key if isinstance(key, str) else ""


def _only(section: Any, allowed: tuple[str, ...], where: str) -> None:
    if not isinstance(section, dict):
        raise ValueError(f"posthog {where} must be an object, got {section!r}")
    unknown = sorted(set(section) - set(allowed))
    if unknown:
        raise ValueError(f"unknown posthog {where} key(s): {', '.join(unknown)}")
