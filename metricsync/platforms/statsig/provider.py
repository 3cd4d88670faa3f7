"""Statsig metrics, the transport: the thin operations the shared plan/apply flow calls, over
the Console API (docs/platforms/statsig.md); what they send and read is `mapping.py`."""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

import httpx

from metricsync.bulk import paused_gc
from metricsync.client import Limits
from metricsync.config import Target
from metricsync.definitions import Definition
from metricsync.diff import KindDiff, top_field
from metricsync.errors import ApiError
from metricsync.listing import (
    MAX_PAGES,
    BadPagination,
    ListFormat,
    LivePage,
    check_first_page,
    check_page_count,
    fetch_pages,
    follow_links,
)
from metricsync.live import LiveObject
from metricsync.ownership import tag_owner
from metricsync.plan import Action, Change, FieldChange
from metricsync.platforms.statsig.experiments import PAGES, Pagination, experiments_using
from metricsync.platforms.statsig.mapping import (
    CREATE_ONLY,
    KIND,
    MANAGED_FIELDS,
    NORMALISATION,
    components,
    from_payload,
    to_payload,
)
from metricsync.provider import LiveState, Provider, describe_fields
from metricsync.usage import Lookup

API = "/console/v1"
PAGE_SIZE = 1000  # the client asks for this; the server may answer with smaller pages
FALLBACK_PAGE_SIZE = 100  # asked for when the server refuses PAGE_SIZE
# What a plan reads of a listed metric: its identity, the managed fields, and the modification
# time, so a saved plan's fingerprint notices any edit. Lineage, owner and creator fields are
# skipped while parsing: they are over 40% of a page and nothing compares them.
LIST = ListFormat(
    items="data",
    required=("id", "name"),
    fields=(*MANAGED_FIELDS, "lastModifiedTime"),
    envelope={"pagination": Pagination | None},
)
LEARNT_CREATE_ONLY = "learnt_create_only_fields"  # state.json key: what an apply found out
# About 1,800 requests per 15 minutes per project, shared by every key, plus a burst guard of
# unpublished size, refused attempts counting too (docs/platforms/statsig.md#rate-limits): at
# most 50 mutations per 10 s, half the burst limit Statsig once published, and 4 in flight.
LIMITS = Limits(
    windows=((50, 10.0), (1800, 900.0)),
    paced_methods=frozenset({"POST", "PUT", "PATCH", "DELETE"}),
    writes_in_flight=4,
)


def metric_path(metric_id: str) -> str:
    return f"{API}/metrics/{quote(metric_id, safe='')}"


def _page_count(page: LivePage) -> int | None:
    """How many pages the list has, as a page of it says; None when it links to a next page
    without counting."""
    pagination = page.envelope.get("pagination") or {}
    total, size = pagination.get("totalItems"), pagination.get("itemsPerPage")
    if not pagination.get("nextPage"):
        return 1
    if isinstance(total, int) and isinstance(size, int) and size > 0:
        return math.ceil(total / size)
    return None


def _envelope_data(content: bytes) -> dict[str, Any] | None:
    """The metric under `data` of an answer, or None when the answer holds none."""
    body = json.loads(content) if content.strip() else {}
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict) or "id" not in data or "name" not in data:
        return None
    return data


def _metric_data(content: bytes) -> dict[str, Any]:
    data = _envelope_data(content)
    if data is None:
        raise ValueError("no metric under `data`")
    return data


def _verify_unchanged(change: Change) -> bool:
    """The update leaves `isVerified` as the platform holds it (the plan found no difference)."""
    return all(top_field(f.path) != "isVerified" for f in change.fields)


def _unverified(body: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "isVerified"}


def _named(tag: Any) -> bool:
    return isinstance(tag, Mapping) and isinstance(tag.get("name"), str)


def _next_page(page: LivePage) -> str | None:
    link = (page.envelope.get("pagination") or {}).get("nextPage")
    return str(link) if link else None


class StatsigProvider(Provider):
    limits = LIMITS
    # What a scorecard computes: the type, the events and components it reads, their windows.
    measuring_fields = (
        "type", "metricEvents", "metricComponentMetrics", "rollupTimeWindow",
        "customRollUpStart", "customRollUpEnd", "funnelEventList", "funnelCountDistinct",
        "warehouseNative",
    )  # fmt: skip

    def __init__(self, target: Target, transport: httpx.BaseTransport | None = None) -> None:
        super().__init__(target, transport)
        self.owner_tag = target.policy.owner_tag
        self._tags: set[str] = set()  # tag names that exist on the project
        self._page_size = PAGE_SIZE
        self.configured_create_only = tuple(target.settings.get("create_only_fields") or ())
        self.learnt_create_only = tuple(target.settings.get(LEARNT_CREATE_ONLY) or ())
        self._learning = threading.Lock()
        self._verify_refused = False  # this key was refused an unchanged isVerified (403)

    def headers(self) -> dict[str, str]:
        return {"STATSIG-API-KEY": self.target.secret("api_key"), "STATSIG-API-VERSION": "20240601"}

    def read(self, expected: int = 0) -> LiveState:
        with ThreadPoolExecutor(max_workers=1) as side, paused_gc(keep=True):
            tags = side.submit(self._tag_names)  # independent of the metric pages: overlap them
            try:
                objects = self._metrics(expected)
            except ApiError as exc:
                if exc.status != 400 or self._page_size == FALLBACK_PAGE_SIZE:
                    raise
                # The API declares no maximum page size: a server that refuses ours is asked
                # for pages of 100, the size every version accepts (docs/platforms/statsig.md).
                self._page_size = FALLBACK_PAGE_SIZE
                objects = self._metrics(expected)
            self._tags = tags.result()
        state = LiveState(objects)
        learnt = [f for f in self.learnt_create_only if f not in self.configured_create_only]
        if learnt:
            state.notes.append(
                f"an earlier apply found that this project does not change {', '.join(learnt)} "
                "in place, so a change to them is planned as a replace (remembered in "
                ".metricsync/state.json, which CI checkouts do not keep: add "
                f"`create_only_fields: [{', '.join(learnt)}]` to this target in metricsync.yaml)"
            )
        return state

    def _metrics(self, expected: int) -> list[LiveObject]:
        guessed = list(range(2, math.ceil(expected / self._page_size) + 1))
        pages = fetch_pages(
            self._get, self._parse, 1, guessed, self._counted, self.client.limits.concurrency
        )
        objects = [obj for page in pages for obj in page.objects]
        return objects + self._follow(pages[0])

    def _get(self, page: int) -> httpx.Response:
        params = {"page": page, "limit": self._page_size, "showHiddenMetrics": "true"}
        return self.client.send("GET", f"{API}/metrics/list", params=params)

    def _parse(self, response: httpx.Response) -> LivePage:
        body = self.client.decode(response, LIST.decode)
        return LIST.page(body, from_payload, self.owner_tag)

    def _counted(self, first: LivePage) -> list[int]:
        """Page numbers from the first page's counts (the server's own page size, which may be
        smaller than asked for); none when it does not count its pages."""
        counted = _page_count(first)
        count = counted or 1
        pagination = first.envelope.get("pagination") or {}
        if counted == 1 and pagination.get("nextPage"):  # counted, and linking a next page
            check_first_page(self.target.name, pagination["totalItems"], len(first.objects))
        check_page_count(self.target.name, count)
        return list(range(2, count + 1))

    def _follow(self, first: LivePage) -> list[LiveObject]:
        """A server that links its pages without counting them (totalItems is optional) is read
        one link after another, sequentially."""
        if _page_count(first) is not None:
            return []
        pages = follow_links(self.target.name, self._get_link, self._parse, first, _next_page)
        return [obj for page in pages for obj in page.objects]

    def _get_link(self, link: str) -> httpx.Response:
        return self.client.send("GET", link)

    def _tag_names(self) -> set[str]:
        names: set[str] = set()
        page, more = 1, True
        while more:
            if page > MAX_PAGES:
                raise BadPagination(
                    f"{self.target.name}: the tag list goes on past {MAX_PAGES} pages"
                )
            response = self.client.send("GET", f"{API}/tags", params={"page": page, "limit": 100})
            payload = self.client.decode(response, PAGES.decode)
            names.update(str(t["name"]) for t in payload.get("data") or [] if _named(t))
            more, page = bool((payload.get("pagination") or {}).get("nextPage")), page + 1
        return names

    def missing_tags(self, changes: Sequence[Change]) -> list[str]:
        """Tags the changes use that do not exist yet: Statsig wants tags created first
        (docs/platforms/statsig.md#tags)."""
        wanted: dict[str, None] = {}
        for change in changes:
            if change.definition is not None and change.action != "delete":
                for tag in to_payload(change.definition, self.owner_tag)["tags"]:
                    wanted.setdefault(tag)
        return [tag for tag in wanted if tag not in self._tags]

    def setup_calls(self, changes: Sequence[Change]) -> int:
        return len(self.missing_tags(changes))

    def kind_diff(self, state: LiveState) -> KindDiff:
        return KindDiff(
            kind=KIND,
            normalisation=NORMALISATION,
            replace_fields=("type",),
            create_only=(*self.configured_create_only, *self.learnt_create_only),
            depends=components,
            prune=self.target.policy.prune,
            foreign=tag_owner(self.owner_tag, self.target.policy.foreign_owner_prefix),
        )

    def prepare(self, changes: Sequence[Change]) -> None:
        for tag in self.missing_tags(changes):
            description = (
                "Objects managed by metricsync from Git"
                if tag == self.owner_tag
                else "Created by metricsync for a metric definition"
            )
            try:
                self.client.send(
                    "POST", f"{API}/tags", body={"name": tag, "description": description}
                )
            except ApiError as exc:  # "Name is already in use": made by another run since the plan
                if exc.status != 400 or tag not in self._tag_names():
                    raise
            self._tags.add(tag)

    def create(self, change: Change) -> LiveObject:
        assert change.definition is not None
        definition = change.definition
        body = to_payload(definition, self.owner_tag)

        def send() -> LiveObject:
            # a new metric is unverified: an isVerified of false is what it gets without one
            unchanged = body.get("isVerified") is False
            response = self._write(f"{API}/metrics", body, unchanged, resend=False)
            return self._answered(response, f"{definition.name}::{definition.spec['type']}")

        return self.create_once(
            change.name,
            send,
            lambda: self._exists(definition),
            taken=lambda refused: refused.status == 400,  # "Name is already in use" (never 409)
        )

    def _exists(self, definition: Definition) -> LiveObject | None:
        """The metric a create whose outcome is unknown may have made, read by its id: a new
        metric's id is `name::type` (the vendor's API has no documented name lookup)."""
        metric_id = f"{definition.name}::{definition.spec['type']}"
        response = self.client.send("GET", metric_path(metric_id), ok=(404,))
        if response.status_code != 200:
            return None
        found = from_payload(self.client.decode(response, _metric_data), self.owner_tag)
        return found if found.name == definition.name else None  # an id kept across a rename

    def update(self, change: Change) -> LiveObject:
        assert change.definition is not None and change.live_id is not None
        body = to_payload(change.definition, self.owner_tag, update=True)
        response = self._write(metric_path(change.live_id), body, _verify_unchanged(change))
        return self._answered(response, change.live_id)

    def _write(
        self, path: str, body: dict[str, Any], unchanged: bool, *, resend: bool = True
    ) -> httpx.Response:
        """Sends a create or update. Whether Statsig refuses `isVerified` from a key without the
        verify permission when the value does not change is unconfirmed
        (docs/platforms/statsig.md#defaults): after such a 403, a write that leaves the
        flag as it is goes again without it, and so does every later one of this run; the
        answer is still checked. A change of the flag is never dropped: its 403 stands."""
        if unchanged and self._verify_refused:
            return self.client.send("POST", path, body=_unverified(body), resend=resend)
        try:
            return self.client.send("POST", path, body=body, resend=resend)
        except ApiError as exc:
            if exc.status != 403 or not unchanged or "isVerified" not in body:
                raise
            response = self.client.send("POST", path, body=_unverified(body), resend=resend)
        with self._learning:
            if not self._verify_refused:
                self._verify_refused = True
                self.notes.append(
                    f"{self.target.name}: Statsig refused isVerified from this API key (403) "
                    "although the value did not change; writes that leave it as it is are sent "
                    "without it. Changing isVerified needs a key whose role may verify metrics"
                )
        return response

    def _answered(self, response: httpx.Response, metric_id: str) -> LiveObject:
        """The metric a create or update answered with (`data` of the envelope), to be checked
        against what was sent; an answer without it is checked against a read of the metric."""
        data = self.client.decode(response, _envelope_data)
        if data is None:
            read = self.client.send("GET", metric_path(metric_id))
            data = self.client.decode(read, _metric_data)
        return from_payload(data, self.owner_tag)

    def not_taken(self, change: Change, fields: Sequence[FieldChange]) -> str:
        """An update that did not take a create-only field teaches this checkout to plan such
        changes as replaces (docs/platforms/statsig.md); any other field gets the general advice."""
        create_only = sorted({top_field(f.path) for f in fields} & set(CREATE_ONLY))
        if change.action not in (Action.UPDATE, Action.ADOPT) or not create_only:
            return super().not_taken(change, fields)
        with self._learning:
            known = self.learnt.get(LEARNT_CREATE_ONLY, self.learnt_create_only)
            self.learnt[LEARNT_CREATE_ONLY] = sorted({*known, *create_only})
        listed = ", ".join(create_only)
        return (
            f"Statsig accepted the update but did not take {describe_fields(fields)}: this "
            f"project does not change {listed} in place (Statsig's update contract does not "
            "list them). The next plan from this checkout shows the change as a replace "
            "(delete, then create: results start again and experiments using the metric lose "
            "it); where .metricsync/ is not kept (CI), add "
            f"`create_only_fields: [{listed}]` to target {self.target.name} in metricsync.yaml"
        )

    def dry_run(self, change: Change) -> None:
        """Sends a create or update with dryRun: Statsig validates it and stores nothing.
        Tags apply would create first are left out, because a dry run creates nothing."""
        assert change.definition is not None
        creating = change.action in ("create", "replace")
        body = to_payload(change.definition, self.owner_tag, update=not creating)
        missing = set(self.missing_tags([change]))
        body["tags"] = [tag for tag in body["tags"] if tag not in missing]
        path = f"{API}/metrics" if creating else metric_path(str(change.live_id))
        unchanged = body.get("isVerified") is False if creating else _verify_unchanged(change)
        self._write(path, {**body, "dryRun": True}, unchanged)

    def usage(self, objects: Sequence[LiveObject]) -> Lookup:
        return experiments_using(self.client, objects)

    def delete(self, change: Change) -> None:
        assert change.live_id is not None
        try:
            self.client.send("DELETE", metric_path(change.live_id))
        except ApiError as exc:
            if exc.status != 404:  # gone already (e.g. a retried delete): the goal holds
                raise
