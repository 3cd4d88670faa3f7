"""Statsig list queries (docs/platforms/statsig.md#listing): `page`/`limit` read as zod coerces
them, the tag filters, and the pagination block whose next/previous links are relative paths."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from metricsync.platforms.statsig.sandbox.parsing import INVALID_REQUEST, Issue, StatsigError, issue
from metricsync.sandbox.hostile import link
from metricsync.sandbox.http import Request

FILTER_PARAMS = ("showHiddenMetrics", "tags", "filters")
MetricFilter = Callable[[Mapping[str, Any]], bool]


@dataclass(frozen=True)
class Page:
    number: int
    size: int

    @property
    def start(self) -> int:
        return (self.number - 1) * self.size


def requested_page(
    request: Request, default_size: int, max_size: int, refuse: bool = False
) -> Page:
    """`page` (1-based) and `limit`; a limit above `max_size` is clamped, or refused with a 400
    when `refuse` is set."""
    issues: list[Issue] = []
    number = _positive_int(request.param("page"), "page", 1, issues)
    size = _positive_int(request.param("limit"), "limit", default_size, issues)
    if refuse and size > max_size:
        issues.append(issue(("limit",), f"Number must be less than or equal to {max_size}"))
    if issues:
        raise StatsigError.invalid(issues)
    return Page(number, min(size, max_size))


def _positive_int(raw: str | None, name: str, default: int, issues: list[Issue]) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if math.isnan(value):
        issues.append(issue((name,), "Expected number, received nan"))
    elif not value.is_integer():
        issues.append(issue((name,), "Expected integer, received float"))
    elif value < 1:
        issues.append(issue((name,), "Number must be greater than or equal to 1"))
    else:
        return int(value)
    return default


def pagination(
    request: Request, page: Page, total: int, filters: tuple[str, ...] = FILTER_PARAMS
) -> dict[str, Any]:
    """The `pagination` block. Links keep the request's filters, so following `nextPage` lists
    the same set."""
    kept = [(k, v) for k in filters for v in request.query.get(k, [])]
    last = max(1, math.ceil(total / page.size))

    def link(number: int) -> str:
        return f"{request.path}?{urlencode([('page', number), ('limit', page.size), *kept])}"

    return {
        "itemsPerPage": page.size,
        "pageNumber": page.number,
        "totalItems": total,
        "nextPage": link(page.number + 1) if page.number < last else None,
        "previousPage": link(min(page.number, last + 1) - 1) if page.number > 1 else None,
        "all": request.path + (f"?{urlencode(kept)}" if kept else ""),
    }


def tag_filter(request: Request, tag_names: Mapping[str, str]) -> MetricFilter | None:
    """The metric filter asked for by `tags=<tag id>` (any of them) and `filters` (a JSON object
    `{"tags": {"anyOf": [ids]}}` or `{"tags": {"allOf": [ids]}}`), or None when there is none."""
    any_of = request.query.get("tags", [])
    all_of: list[str] = []
    raw = request.param("filters")
    if raw:
        wanted = _parse_filters(raw)
        any_of = [*any_of, *wanted.get("anyOf", [])]
        all_of = wanted.get("allOf", [])
    if not any_of and not all_of:
        return None
    any_names = {tag_names.get(tag_id) for tag_id in any_of} - {None}
    all_names = {tag_names.get(tag_id) for tag_id in all_of}

    def keep(metric: Mapping[str, Any]) -> bool:
        tags = set(metric.get("tags") or [])
        return (not any_of or bool(tags & any_names)) and all_names <= tags

    return keep


def _parse_filters(raw: str) -> dict[str, list[str]]:
    try:
        parsed = json.loads(raw)
    except ValueError:
        raise StatsigError(400, INVALID_REQUEST) from None
    tags = parsed.get("tags", {}) if isinstance(parsed, dict) else None
    if not isinstance(tags, dict) or not set(tags) <= {"anyOf", "allOf"}:
        raise StatsigError(400, INVALID_REQUEST)
    if not all(isinstance(v, list) and all(isinstance(i, str) for i in v) for v in tags.values()):
        raise StatsigError(400, INVALID_REQUEST)
    return tags


def relink(payload: dict[str, Any], request: Request, cyclic: bool, origin: str | None) -> None:
    """A hostile list page (SandboxPlatform.relink): `nextPage`, a relative path unless `origin`
    is given, names the next page (or this one), and `totalItems` is gone."""
    block = payload.get("pagination")
    if not isinstance(block, dict):
        return
    changes = {} if cyclic else {"page": int(request.param("page") or 1) + 1}
    block.pop("totalItems", None)
    block["nextPage"] = ("" if origin is None else origin) + link(request, changes)
