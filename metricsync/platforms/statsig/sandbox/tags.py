"""Statsig tags (docs/platforms/statsig.md#tags): the stored tags and the `/console/v1/tags`
routes. Metric bodies carry tag names, the list filter takes tag ids, so both lookups live here."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from metricsync.platforms.statsig.sandbox.listing import pagination, requested_page
from metricsync.platforms.statsig.sandbox.parsing import (
    INVALID_REQUEST,
    NOT_FOUND,
    TAG_CREATE,
    TAG_PATCH,
    StatsigError,
    parse,
)
from metricsync.sandbox.http import Request, Response, Router
from metricsync.sandbox.store import Store


class TagTable:
    """Tags by id (`{"seq", "tag"}` records); few enough that lookups may scan them."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._records = store.collection("statsig_tags")
        self.lock = store.lock

    def all(self) -> list[dict[str, Any]]:
        records = sorted(self._records.values(), key=lambda record: record["seq"])
        return [dict(record["tag"]) for record in records]

    def get(self, tag_id: str) -> dict[str, Any] | None:
        record = self._records.get(tag_id)
        return None if record is None else dict(record["tag"])

    def names_by_id(self) -> dict[str, str]:
        return {tag["id"]: tag["name"] for tag in self.all()}

    def named(self, name: str) -> dict[str, Any] | None:
        return next((tag for tag in self.all() if tag["name"] == name), None)

    def add(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Stores a tag; the id is the one given (seeds) or a new `sandbox-tag-<n>`."""
        with self._store.lock:
            seq = self._store.next_id("statsig_tag")
            tag = {
                "id": str(fields.get("id") or f"sandbox-tag-{seq}"),
                "name": fields["name"],
                "description": fields.get("description", ""),
                "isCore": fields.get("isCore", False),
            }
            self._records.put(tag["id"], {"seq": seq, "tag": tag})
            return tag

    def ensure(self, names: Iterable[str]) -> None:
        """Creates every named tag that does not exist yet, with an empty description."""
        with self._store.lock:
            known = set(self.names_by_id().values())
            for name in dict.fromkeys(names):
                if name not in known:
                    self.add({"name": name})

    def replace(self, tag: dict[str, Any]) -> None:
        with self._store.lock:
            record = self._records.get(tag["id"])
            if record is not None:
                self._records.put(tag["id"], {"seq": record["seq"], "tag": tag})

    def remove(self, tag_id: str) -> bool:
        return self._records.delete(tag_id)


class TagRoutes:
    """The five tag routes. Renaming or deleting a tag leaves metrics' tag names as they are."""

    def __init__(self, tags: TagTable, settings: Callable[[], Any]) -> None:
        self.tags, self.settings = tags, settings

    def register(self, router: Router) -> None:
        router.add("GET", "/console/v1/tags", self.list_tags)
        router.add("POST", "/console/v1/tags", self.create)
        router.add("GET", "/console/v1/tags/{tag_id}", self.read)
        router.add("PATCH", "/console/v1/tags/{tag_id}", self.update)
        router.add("DELETE", "/console/v1/tags/{tag_id}", self.delete)

    def list_tags(self, request: Request) -> Response:
        settings = self.settings()
        page = requested_page(request, settings.default_page_size, settings.max_page_size)
        tags = self.tags.all()
        data = tags[page.start : page.start + page.size]
        body = {
            "message": "Tags listed successfully",
            "data": data,
            "pagination": pagination(request, page, len(tags)),
        }
        return Response.json(200, body)

    def create(self, request: Request) -> Response:
        fields = parse(TAG_CREATE, json_body(request))
        with self.tags.lock:
            if self.tags.named(fields["name"]) is not None:
                raise StatsigError(400, self.settings().duplicate_message)
            tag = self.tags.add(fields)
        return Response.json(200, {"message": "Tag created successfully", "data": tag})

    def read(self, request: Request, tag_id: str) -> Response:
        return Response.json(200, {"message": "Tag read successfully", "data": self._tag(tag_id)})

    def update(self, request: Request, tag_id: str) -> Response:
        fields = parse(TAG_PATCH, json_body(request))
        with self.tags.lock:
            tag = {**self._tag(tag_id), **fields}
            holder = self.tags.named(tag["name"])
            if holder is not None and holder["id"] != tag_id:
                raise StatsigError(400, self.settings().duplicate_message)
            self.tags.replace(tag)
        return Response.json(200, {"message": "Tag updated successfully", "data": tag})

    def delete(self, request: Request, tag_id: str) -> Response:
        if not self.tags.remove(tag_id):
            raise StatsigError(404, NOT_FOUND)
        return Response.json(200, {"message": "Tag deleted successfully"})

    def _tag(self, tag_id: str) -> dict[str, Any]:
        tag = self.tags.get(tag_id)
        if tag is None:
            raise StatsigError(404, NOT_FOUND)
        return tag


def json_body(request: Request) -> dict[str, Any]:
    """The JSON object a mutation sends; anything else is the generic 400."""
    try:
        body = request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise StatsigError(400, INVALID_REQUEST)
    return body
