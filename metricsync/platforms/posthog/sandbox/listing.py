"""PostHog list queries (docs/sandbox/posthog.md): DRF limit/offset pagination with absolute links,
and the `search` / `event` filters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from metricsync.platforms.posthog.sandbox.query import nodes
from metricsync.sandbox.hostile import link
from metricsync.sandbox.http import Request


@dataclass(frozen=True)
class Window:
    limit: int
    offset: int


def requested_window(request: Request, default_limit: int, max_limit: int | None) -> Window:
    """As DRF reads them: a bad or non-positive limit means the default, a bad offset means 0."""
    limit = _positive(request.param("limit"), strict=True) or default_limit
    if max_limit is not None:
        limit = min(limit, max_limit)
    return Window(limit, _positive(request.param("offset"), strict=False) or 0)


def _positive(raw: str | None, strict: bool) -> int | None:
    try:
        value = int(raw or "")
    except ValueError:
        return None
    return None if value < 0 or (strict and value == 0) else value


def links(request: Request, window: Window, count: int) -> tuple[str | None, str | None]:
    """`next` and `previous` as absolute URLs with the query parameters sorted, as DRF does."""
    url = request.base_url + request.path

    def with_params(**changes: int | None) -> str:
        params = {k: v for k, v in request.query.items()}
        for key, value in changes.items():
            if value is None:
                params.pop(key, None)
            else:
                params[key] = [str(value)]
        return f"{url}?{urlencode(sorted(params.items()), doseq=True)}"

    limit, offset = window.limit, window.offset
    following = with_params(limit=limit, offset=offset + limit) if offset + limit < count else None
    if offset <= 0:
        return following, None
    if offset - limit <= 0:
        return following, with_params(limit=limit, offset=None)
    return following, with_params(limit=limit, offset=offset - limit)


def matcher(
    request: Request,
    tags_of: Callable[[dict[str, Any]], list[str]],
    events_of_actions: Callable[[list[int]], set[str]],
    search_supported: bool = True,
) -> Callable[[dict[str, Any]], bool] | None:
    """The `search` (name, description, tag names; case-insensitive) and `event` filters;
    without `search_supported` (older servers) `search` is ignored like any unknown parameter."""
    search = (request.param("search") or "").lower() if search_supported else ""
    event = request.param("event")
    if not search and not event:
        return None

    def keep(doc: dict[str, Any]) -> bool:
        if search:
            texts = [doc["name"], doc.get("description") or "", *tags_of(doc)]
            if not any(search in text.lower() for text in texts):
                return False
        return not event or event in referenced_events(doc["query"], events_of_actions)

    return keep


def referenced_events(query: Any, events_of_actions: Callable[[list[int]], set[str]]) -> set[str]:
    """Events a query reads directly (EventsNode) or through its actions' steps."""
    found = {n["event"] for n in nodes(query) if n["kind"] == "EventsNode" and n.get("event")}
    action_ids = [n["id"] for n in nodes(query) if n["kind"] == "ActionsNode"]
    return found | events_of_actions(action_ids)


def relink(payload: dict[str, Any], request: Request, cyclic: bool, origin: str | None) -> None:
    """A hostile list page (SandboxPlatform.relink): `next`, an absolute URL on this server
    unless `origin` is given, names the next page (or this one), and `count` is gone."""
    if "next" not in payload:
        return
    step = int(request.param("limit") or 0) or len(payload.get("results") or []) or 100
    changes = {} if cyclic else {"offset": int(request.param("offset") or 0) + step}
    payload.pop("count", None)
    payload["next"] = (request.base_url if origin is None else origin) + link(request, changes)
