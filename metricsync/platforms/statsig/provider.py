"""Statsig metrics, the transport: the thin operations the shared plan/apply flow calls, over
the Console API (docs/platforms/statsig.md); what they send and read is `mapping.py`."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

import httpx

from metricsync.bulk import paused_gc
from metricsync.config import Target
from metricsync.definitions import Definition
from metricsync.diff import DeclaredKind, KindDiff, top_field
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
from metricsync.live import LiveObject, LiveRead
from metricsync.ownership import tag_owner
from metricsync.pacing import Limits
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
from metricsync.provider import Facts, Learnt, Provider, Written, describe_fields
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
TAGS = "tags"  # fact of a read: the tag names that exist on the project
# Fact of a write: this key was refused an unchanged isVerified (403); lasts one run.
VERIFY_REFUSED = "verify_refused"
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
    kind = KIND
    limits = LIMITS
    remembered = (LEARNT_CREATE_ONLY,)
    # What a scorecard computes: the type, the events and components it reads, their windows.
    measuring_fields = (
        "type", "metricEvents", "metricComponentMetrics", "rollupTimeWindow",
        "customRollUpStart", "customRollUpEnd", "funnelEventList", "funnelCountDistinct",
        "warehouseNative",
    )  # fmt: skip

    def __init__(self, target: Target, transport: httpx.BaseTransport | None = None) -> None:
        super().__init__(target, transport)
        self.owner_tag = target.policy.owner_tag
        self.configured_create_only = tuple(target.settings.get("create_only_fields") or ())
        self.learnt_create_only = tuple(target.settings.get(LEARNT_CREATE_ONLY) or ())

    def headers(self) -> dict[str, str]:
        return {"STATSIG-API-KEY": self.target.secret("api_key"), "STATSIG-API-VERSION": "20240601"}

    def read(self, expected: int = 0) -> LiveRead:
        with ThreadPoolExecutor(max_workers=1) as side, paused_gc(keep=True):
            tags = side.submit(self._tag_names)  # independent of the metric pages: overlap them
            try:
                objects = self._metrics(expected, PAGE_SIZE)
            except ApiError as exc:
                if exc.status != 400:
                    raise
                # The API declares no maximum page size: a server that refuses ours is asked
                # for pages of 100, the size every version accepts (docs/platforms/statsig.md).
                objects = self._metrics(expected, FALLBACK_PAGE_SIZE)
            facts = {TAGS: frozenset(tags.result())}
        return LiveRead(objects, tuple(self._read_notes()), facts=facts)

    def _read_notes(self) -> list[str]:
        learnt = [f for f in self.learnt_create_only if f not in self.configured_create_only]
        if not learnt:
            return []
        return [
            f"an earlier apply found that this project does not change {', '.join(learnt)} "
            "in place, so a change to them is planned as a replace (remembered in "
            ".metricsync/state.json, which CI checkouts do not keep: add "
            f"`create_only_fields: [{', '.join(learnt)}]` to this target in metricsync.yaml)"
        ]

    def _metrics(self, expected: int, size: int) -> list[LiveObject]:
        guessed = list(range(2, math.ceil(expected / size) + 1))

        def get(page: int) -> httpx.Response:
            params = {"page": page, "limit": size, "showHiddenMetrics": "true"}
            return self.client.send("GET", f"{API}/metrics/list", params=params)

        pages = fetch_pages(
            get, self._parse, 1, guessed, self._counted, self.client.limits.concurrency
        )
        objects = [obj for page in pages for obj in page.objects]
        return objects + self._follow(pages[0])

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

    def missing_tags(self, changes: Sequence[Change], facts: Facts) -> list[str]:
        """Tags the changes use that do not exist yet (as the read found them): Statsig wants
        tags created first (docs/platforms/statsig.md#tags)."""
        wanted: dict[str, None] = {}
        for change in changes:
            if change.definition is not None and change.action != "delete":
                for tag in to_payload(change.definition, self.owner_tag)["tags"]:
                    wanted.setdefault(tag)
        existing = facts.get(TAGS, frozenset())
        return [tag for tag in wanted if tag not in existing]

    def setup_calls(self, changes: Sequence[Change], facts: Facts) -> int:
        return len(self.missing_tags(changes, facts))

    def kind_diff(self, read: LiveRead, kind: DeclaredKind) -> KindDiff:
        policy = self.target.policy
        return KindDiff(
            kind=kind.name,
            normalisation=NORMALISATION,
            casefold_names=kind.casefold_names,
            replace_fields=("type",),
            create_only=(*self.configured_create_only, *self.learnt_create_only),
            depends=components,
            prune=policy.prune,
            foreign=tag_owner(
                self.owner_tag, policy.foreign_owner_prefix, casefold=kind.casefold_tags
            ),
        )

    def prepare(self, changes: Sequence[Change], facts: Facts) -> None:
        for tag in self.missing_tags(changes, facts):
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

    def create(self, change: Change, facts: Facts) -> Written:
        assert change.definition is not None
        definition = change.definition
        body = to_payload(definition, self.owner_tag)

        def send() -> Written:
            # a new metric is unverified: an isVerified of false is what it gets without one
            unchanged = body.get("isVerified") is False
            response, learnt = self._write(f"{API}/metrics", body, unchanged, facts, resend=False)
            metric_id = f"{definition.name}::{definition.spec['type']}"
            return Written(self._answered(response, metric_id), learnt)

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

    def update(self, change: Change, facts: Facts) -> Written:
        assert change.definition is not None and change.live_id is not None
        body = to_payload(change.definition, self.owner_tag, update=True)
        path, unchanged = metric_path(change.live_id), _verify_unchanged(change)
        response, learnt = self._write(path, body, unchanged, facts)
        return Written(self._answered(response, change.live_id), learnt)

    def _write(
        self,
        path: str,
        body: dict[str, Any],
        unchanged: bool,
        facts: Facts,
        *,
        resend: bool = True,
    ) -> tuple[httpx.Response, Learnt]:
        """Sends a create or update. Whether Statsig refuses `isVerified` from a key without the
        verify permission when the value does not change is unconfirmed
        (docs/platforms/statsig.md#defaults): after such a 403, a write that leaves the
        flag as it is goes again without it, and so does every later one of this run (the
        fact it returns); the answer is still checked. A change of the flag is never dropped:
        its 403 stands."""
        if unchanged and facts.get(VERIFY_REFUSED):
            return self.client.send("POST", path, body=_unverified(body), resend=resend), Learnt()
        try:
            return self.client.send("POST", path, body=body, resend=resend), Learnt()
        except ApiError as exc:
            if exc.status != 403 or not unchanged or "isVerified" not in body:
                raise
            response = self.client.send("POST", path, body=_unverified(body), resend=resend)
        note = (
            f"{self.target.name}: Statsig refused isVerified from this API key (403) "
            "although the value did not change; writes that leave it as it is are sent "
            "without it. Changing isVerified needs a key whose role may verify metrics"
        )
        return response, Learnt({VERIFY_REFUSED: True}, (note,))

    def _answered(self, response: httpx.Response, metric_id: str) -> LiveObject:
        """The metric a create or update answered with (`data` of the envelope), to be checked
        against what was sent; an answer without it is checked against a read of the metric."""
        data = self.client.decode(response, _envelope_data)
        if data is None:
            read = self.client.send("GET", metric_path(metric_id))
            data = self.client.decode(read, _metric_data)
        return from_payload(data, self.owner_tag)

    def not_taken(
        self, change: Change, fields: Sequence[FieldChange], facts: Facts
    ) -> tuple[str, Facts]:
        """An update that did not take a create-only field teaches this checkout to plan such
        changes as replaces (docs/platforms/statsig.md); any other field gets the general advice."""
        create_only = sorted({top_field(f.path) for f in fields} & set(CREATE_ONLY))
        if change.action not in (Action.UPDATE, Action.ADOPT) or not create_only:
            return super().not_taken(change, fields, facts)
        known = facts.get(LEARNT_CREATE_ONLY, self.learnt_create_only)
        learnt = {LEARNT_CREATE_ONLY: sorted({*known, *create_only})}
        listed = ", ".join(create_only)
        return (
            f"Statsig accepted the update but did not take {describe_fields(fields)}: this "
            f"project does not change {listed} in place (Statsig's update contract does not "
            "list them). The next plan from this checkout shows the change as a replace "
            "(delete, then create: results start again and experiments using the metric lose "
            "it); where .metricsync/ is not kept (CI), add "
            f"`create_only_fields: [{listed}]` to target {self.target.name} in metricsync.yaml"
        ), learnt

    def dry_run(self, change: Change, facts: Facts) -> Learnt:
        """Sends a create or update with dryRun: Statsig validates it and stores nothing.
        Tags apply would create first are left out, because a dry run creates nothing."""
        assert change.definition is not None
        creating = change.action in ("create", "replace")
        body = to_payload(change.definition, self.owner_tag, update=not creating)
        missing = set(self.missing_tags([change], facts))
        body["tags"] = [tag for tag in body["tags"] if tag not in missing]
        path = f"{API}/metrics" if creating else metric_path(str(change.live_id))
        unchanged = body.get("isVerified") is False if creating else _verify_unchanged(change)
        return self._write(path, {**body, "dryRun": True}, unchanged, facts)[1]

    def usage(self, objects: Sequence[LiveObject]) -> Lookup:
        return experiments_using(self.client, objects)

    def delete(self, change: Change) -> None:
        assert change.live_id is not None
        try:
            self.client.send("DELETE", metric_path(change.live_id))
        except ApiError as exc:
            if exc.status != 404:  # gone already (e.g. a retried delete): the goal holds
                raise
