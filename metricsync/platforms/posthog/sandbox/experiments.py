"""PostHog experiments in the sandbox (docs/sandbox/posthog.md): the experiments routes, the
links to saved metrics (read live from the saved metric, dropped when it is deleted), the status
derived from the dates and the flag, and seeded experiments of any status."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from metricsync.platforms.posthog.sandbox.fields import PostHogError, invalid, json_body
from metricsync.platforms.posthog.sandbox.listing import links, requested_window
from metricsync.sandbox.http import Request, Response
from metricsync.sandbox.store import Store

METRIC_FIELDS = ("metrics", "metrics_secondary", "saved_metrics")  # omitted from list items
WRITABLE = ("name", "description", "feature_flag_key", "start_date", "end_date", "archived",
            "deleted", "metrics", "metrics_secondary")  # fmt: skip
LIST_STATUSES = {"draft", "running", "paused", "stopped", "complete", "all"}
ACTIONS = ("launch", "end", "pause", "resume", "reset", "archive", "unarchive", "ship_variant")
SEED_STATUSES = ("draft", "running", "paused", "stopped")
SEED_START = "2026-01-05T10:00:00Z"  # dates a seeded `status:` stands for
SEED_END = "2026-02-02T10:00:00Z"


@dataclass(frozen=True)
class Linked:
    """What an experiment link shows of a saved metric: read at the moment of the request."""

    name: str
    query: Any


SavedMetricOf = Callable[[int, int], "Linked | None"]  # (project, saved metric id)


def status(doc: dict[str, Any]) -> str:
    """Draft without start_date, stopped with end_date, else running or (flag off) paused."""
    if not doc.get("start_date"):
        return "draft"
    if doc.get("end_date"):
        return "stopped"
    return "running" if doc.get("flag_active", True) else "paused"


def fingerprint(query: Any, start_date: str | None) -> str:
    """The results cache key: the query without uuid, name, kind and fingerprint, and the start."""
    kept = {
        k: v for k, v in (query or {}).items() if k not in ("uuid", "name", "kind", "fingerprint")
    }
    text = json.dumps([kept, start_date], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class ExperimentTable:
    def __init__(self, store: Store, saved_metric: SavedMetricOf, now: Callable[[], str]) -> None:
        self.lock, self.now = store.lock, now
        self._store, self._saved_metric = store, saved_metric
        self._docs = store.collection("posthog_experiments")  # str(id) -> doc with "project"

    # -- state ----------------------------------------------------------------------------------

    def get(self, project: int, experiment_id: str) -> dict[str, Any] | None:
        doc = self._docs.get(experiment_id) if experiment_id.isdigit() else None
        if doc is None or doc["project"] != project or doc.get("deleted"):
            return None
        return dict(doc)

    def put(self, doc: dict[str, Any]) -> None:
        self._docs.put(str(doc["id"]), doc)

    def in_project(self, project: int) -> list[dict[str, Any]]:
        docs = [d for d in self._docs.values() if d["project"] == project and not d.get("deleted")]
        return sorted(docs, key=lambda d: (d["created_at"], d["id"]), reverse=True)

    def unlink(self, saved_metric_id: int) -> None:
        """A deleted saved metric's links cascade away; ordering arrays keep its uuid."""
        with self.lock:
            for doc in self._docs.values():
                kept = [link for link in doc["links"] if link["saved_metric"] != saved_metric_id]
                if len(kept) != len(doc["links"]):
                    self.put({**doc, "links": kept})

    def new_id(self, counter: str) -> int:
        return self._store.next_id(counter)

    # -- rendering ------------------------------------------------------------------------------

    def render(self, doc: dict[str, Any], full: bool = True) -> dict[str, Any]:
        shown = {k: v for k, v in doc.items() if k not in ("project", "links", "flag_active")}
        shown["status"] = status(doc)
        shown["feature_flag"] = {
            "key": doc.get("feature_flag_key"),
            "active": doc.get("flag_active", True),
        }
        if full:
            shown["saved_metrics"] = [self._link(doc, link) for link in doc["links"]]
        else:
            for key in METRIC_FIELDS:
                shown.pop(key, None)
        return shown

    def _link(self, doc: dict[str, Any], link: dict[str, Any]) -> dict[str, Any]:
        linked = self._saved_metric(doc["project"], link["saved_metric"])
        query = dict(linked.query) if linked and isinstance(linked.query, dict) else {}
        query["fingerprint"] = fingerprint(query, doc.get("start_date"))
        return {
            **link,
            "experiment": doc["id"],
            "name": linked.name if linked else None,
            "query": query,
        }

    # -- writes ---------------------------------------------------------------------------------

    def links_from(self, project: int, value: Any, old: list[dict[str, Any]]) -> list[Any]:
        """`saved_metrics_ids` as PostHog validates it: the full new set of links (ids kept for
        the saved metrics that stay linked)."""
        if value is None:
            return []
        if not isinstance(value, list):
            kind = "dict" if isinstance(value, dict) else type(value).__name__
            raise invalid(f'Expected a list of items but got type "{kind}".', "saved_metrics_ids")
        existing = {link["saved_metric"]: link for link in old}
        result = []
        for item in value:
            metric_id, metadata = _link_item(item)
            if self._saved_metric(project, metric_id) is None:
                detail = "Saved metric does not exist or does not belong to this project"
                raise invalid(detail, "saved_metrics_ids")
            link = existing.get(metric_id) or {
                "id": self.new_id("posthog_experiment_link"),
                "saved_metric": metric_id,
                "created_at": self.now(),
            }
            result.append({**link, "metadata": metadata})
        return result

    def order(self, doc: dict[str, Any]) -> None:
        """Linking appends the saved metric's query uuid to the primary or secondary order."""
        for link in doc["links"]:
            linked = self._saved_metric(doc["project"], link["saved_metric"])
            uuid = linked.query.get("uuid") if linked and isinstance(linked.query, dict) else None
            primary = link["metadata"].get("type", "primary") == "primary"
            key = f"{'primary' if primary else 'secondary'}_metrics_ordered_uuids"
            if uuid and uuid not in doc[key]:
                doc[key] = [*doc[key], uuid]


def _link_item(item: Any) -> tuple[int, dict[str, Any]]:
    if not isinstance(item, dict):
        raise invalid("Saved metric must be an object", "saved_metrics_ids")
    if "id" not in item:
        raise invalid("Saved metric must have an id", "saved_metrics_ids")
    metadata = item.get("metadata", {})
    if not isinstance(metadata, dict):
        raise invalid("Metadata must be an object", "saved_metrics_ids")
    if "metadata" in item and "type" not in metadata:
        raise invalid("Metadata must have a type key", "saved_metrics_ids")
    if not isinstance(item["id"], int) or isinstance(item["id"], bool):
        raise invalid("Saved metric does not exist or does not belong to this project")
    return item["id"], dict(metadata)


class ExperimentRoutes:
    """`/api/projects/{id}/experiments/…` handlers; the platform authenticates and throttles."""

    def __init__(self, table: ExperimentTable, settings: Callable[[], Any]) -> None:
        self.table, self.settings = table, settings

    def routes(self) -> list[tuple[str, str, Callable[..., Response]]]:
        base, item = "/{project}/experiments", "/{project}/experiments/{experiment_id}"
        found: list[tuple[str, str, Callable[..., Response]]] = [
            ("GET", base, self.list_experiments),
            ("POST", base, self.create),
            ("GET", item, self.read),
            ("PATCH", item, self.patch),
            ("PUT", item, self.patch),
            ("DELETE", item, self.delete),
        ]
        found += [("POST", f"{item}/{action}", self.action) for action in ACTIONS]
        return found

    def list_experiments(self, request: Request, project: str) -> Response:
        docs = self.table.in_project(int(project))
        archived = (request.param("archived") or "").lower() in ("true", "1")
        docs = [d for d in docs if bool(d.get("archived")) == archived]
        wanted = request.param("status")
        if wanted in LIST_STATUSES - {"all"}:
            wanted = "stopped" if wanted == "complete" else wanted
            docs = [d for d in docs if status(d) == wanted]
        search = (request.param("search") or "").lower()
        docs = [d for d in docs if search in str(d.get("name") or "").lower()]
        settings = self.settings()
        window = requested_window(request, settings.default_page_size, settings.max_page_size)
        page = docs[window.offset : window.offset + window.limit]
        following, previous = links(request, window, len(docs))
        full = settings.list_full_experiments
        return Response.json(
            200,
            {
                "count": len(docs),
                "next": following,
                "previous": previous,
                "results": [self.table.render(d, full) for d in page],
            },
        )

    def read(self, request: Request, project: str, experiment_id: str) -> Response:
        return Response.json(200, self.table.render(self._doc(project, experiment_id)))

    def create(self, request: Request, project: str) -> Response:
        body, pid = json_body(request), int(project)
        if not isinstance(body.get("name"), str) or not body["name"].strip():
            raise invalid("This field is required.", "name", "required")
        now = self.table.now()
        doc: dict[str, Any] = {
            "id": self.table.new_id("posthog_experiment"),
            "project": pid,
            "description": "",
            "start_date": None,
            "end_date": None,
            "archived": False,
            "deleted": False,
            "metrics": [],
            "metrics_secondary": [],
            "flag_active": True,
            "created_at": now,
            "updated_at": now,
            "primary_metrics_ordered_uuids": [],
            "secondary_metrics_ordered_uuids": [],
            "links": [],
        }
        doc.update({k: body[k] for k in WRITABLE if k in body})
        self._relink(doc, body)
        self.table.put(doc)
        return Response.json(201, self.table.render(doc))

    def patch(self, request: Request, project: str, experiment_id: str) -> Response:
        body = json_body(request)
        with self.table.lock:
            doc = self._doc(project, experiment_id)
            doc.update({k: body[k] for k in WRITABLE if k in body})
            self._relink(doc, body)
            doc["updated_at"] = self.table.now()
            self.table.put(doc)
        return Response.json(200, self.table.render(doc))

    def delete(self, request: Request, project: str, experiment_id: str) -> Response:
        """ForbidDestroyModel: 405 with an empty body; soft delete is PATCH {"deleted": true}."""
        self._doc(project, experiment_id)
        return Response(405)

    def action(self, request: Request, project: str, experiment_id: str) -> Response:
        name = request.path.rstrip("/").rsplit("/", 1)[-1]
        with self.table.lock:
            doc = self._doc(project, experiment_id)
            _act(doc, name, self.table.now())
            self.table.put(doc)
        return Response.json(200, self.table.render(doc))

    def _relink(self, doc: dict[str, Any], body: dict[str, Any]) -> None:
        if "saved_metrics_ids" not in body:
            return  # omitted: links unchanged
        doc["links"] = self.table.links_from(
            doc["project"], body["saved_metrics_ids"], doc["links"]
        )
        self.table.order(doc)

    def _doc(self, project: str, experiment_id: str) -> dict[str, Any]:
        doc = self.table.get(int(project), experiment_id)
        if doc is None:
            raise PostHogError(
                404, "invalid_request", "not_found", self.settings().not_found_detail
            )
        return doc


def _act(doc: dict[str, Any], action: str, now: str) -> None:
    if action == "launch":
        doc.update(start_date=doc.get("start_date") or now, flag_active=True)
    elif action in ("end", "ship_variant"):
        doc["end_date"] = doc.get("end_date") or now
    elif action in ("pause", "resume"):
        doc["flag_active"] = action == "resume"
    elif action == "reset":
        doc.update(start_date=None, end_date=None, archived=False)
    elif action == "archive":
        if doc.get("archived"):
            raise invalid("Experiment is already archived.")
        if status(doc) != "stopped":
            raise invalid("Experiment must be ended before it can be archived.")
        doc["archived"] = True
    elif action == "unarchive":
        doc["archived"] = False


def seeded_experiment(
    seed: Any, project: int, table: ExperimentTable, saved_metric_named: Callable[[str], int | None]
) -> dict[str, Any]:
    """A pre-existing experiment. `status` (draft, running, paused, stopped) stands for dates
    and the flag unless they are given; `saved_metrics` items are saved metric ids or names,
    or `{"id" or "name", "metadata"}`."""
    if not isinstance(seed, dict) or not isinstance(seed.get("name"), str):
        raise ValueError(f"seeded posthog experiment needs a name: {seed!r}")
    wanted = seed.get("status", "draft")
    if wanted not in SEED_STATUSES:
        raise ValueError(f"seeded posthog experiment status must be one of {SEED_STATUSES}")
    now = table.now()
    doc: dict[str, Any] = {
        "id": seed.get("id") or table.new_id("posthog_experiment"),
        "project": project,
        "name": seed["name"],
        "description": seed.get("description", ""),
        "feature_flag_key": seed.get("feature_flag_key", f"experiment-{seed['name']}".lower()),
        "start_date": seed.get("start_date", None if wanted == "draft" else SEED_START),
        "end_date": seed.get("end_date", SEED_END if wanted == "stopped" else None),
        "flag_active": seed.get("flag_active", wanted != "paused"),
        "archived": bool(seed.get("archived", False)),
        "deleted": bool(seed.get("deleted", False)),
        "metrics": [],
        "metrics_secondary": [],
        "created_at": seed.get("created_at", now),
        "updated_at": now,
        "primary_metrics_ordered_uuids": [],
        "secondary_metrics_ordered_uuids": [],
        "links": [],
    }
    items = [_seed_link(item, saved_metric_named) for item in seed.get("saved_metrics") or []]
    try:
        doc["links"] = table.links_from(project, items, [])
    except PostHogError as error:
        raise ValueError(f"seeded posthog experiment {seed['name']!r}: {error.detail}") from None
    table.order(doc)
    return doc


def _seed_link(item: Any, named: Callable[[str], int | None]) -> dict[str, Any]:
    if isinstance(item, int | str):
        item = {"id": item} if isinstance(item, int) else {"name": item}
    if not isinstance(item, dict):
        raise ValueError(f"a seeded experiment link is an id, a name or an object: {item!r}")
    metric_id = item.get("id")
    if metric_id is None and isinstance(item.get("name"), str):
        metric_id = named(item["name"])
        if metric_id is None:
            raise ValueError(f"no seeded saved metric is named {item['name']!r}")
    return {"id": metric_id, "metadata": item.get("metadata", {"type": "primary"})}
