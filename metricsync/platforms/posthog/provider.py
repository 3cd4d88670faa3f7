"""PostHog experiment saved metrics, the transport: the thin operations the shared plan/apply
flow calls, over PostHog's API (docs/platforms/posthog.md); what they send and read is
`mapping.py`."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from metricsync.bulk import paused_gc
from metricsync.config import Target
from metricsync.diff import DeclaredKind, KindDiff, top_field
from metricsync.errors import ApiError
from metricsync.listing import (
    OBJECT,
    Count,
    Link,
    ListFormat,
    LivePage,
    check_first_page,
    check_page_count,
    fetch_pages,
    follow_links,
)
from metricsync.live import LiveObject, LiveRead
from metricsync.normalise import Normalisation
from metricsync.ownership import ForeignOwner, first_claim, tag_owner
from metricsync.pacing import Limits
from metricsync.plan import Change, FieldChange
from metricsync.platforms.posthog.experiments import PAGES, experiments_using
from metricsync.platforms.posthog.mapping import (
    DEFINITIONS_OWNER,
    KIND,
    MANAGED_FIELDS,
    NORMALISATION,
    definitions_claim,
    from_payload,
    to_payload,
)
from metricsync.provider import Facts, Learnt, Provider, Written, describe_fields
from metricsync.usage import Lookup

PAGE_SIZE = 1000
TAGS_IGNORED_FACT = "tags_ignored"  # learnt by a write, kept in .metricsync/state.json
TAGS_IGNORED = (
    "PostHog project {project} ignores tags (its paid tagging feature is off), so the "
    "ownership marker cannot be stored: tags are not compared and prune is disabled. Set "
    "`sync_tags: false` on this target to make that explicit (CI runs do not share this memory)."
)
# What a plan reads of a listed metric: identity, the fields a definition sets, and the
# modification time for saved-plan fingerprints; `created_by` and the rest are skipped unbuilt.
LIST = ListFormat(
    items="results",
    required=("id", "name"),
    fields=(*MANAGED_FIELDS, "updated_at"),
    envelope={"count": Count, "next": Link},
)
LIMITS = Limits(windows=((480, 60.0), (4800, 3600.0)))  # per personal API key, every request


def _mentions(raw: Mapping[str, Any], text: str) -> bool:
    """Whether `?search=text` could have returned `raw`: its name, description or a tag
    contains the text, ignoring case."""
    fields = [raw.get("name"), raw.get("description"), *(raw.get("tags") or [])]
    return any(text in str(value).casefold() for value in fields if value)


def _next_link(page: LivePage) -> str | None:
    link = page.envelope.get("next")
    return str(link) if link else None


class PostHogProvider(Provider):
    kind = KIND
    limits = LIMITS
    measuring_fields = ("query",)  # linked experiments read it live (docs/platforms/posthog.md)
    remembered = (TAGS_IGNORED_FACT,)

    def __init__(self, target: Target, transport: httpx.BaseTransport | None = None) -> None:
        super().__init__(target, transport)
        self.owner_tag = target.policy.owner_tag
        self.tags_ignored = bool(
            target.settings.get(TAGS_IGNORED_FACT)
        )  # an earlier apply learnt it
        self.sync_tags = bool(target.settings.get("sync_tags", True)) and not self.tags_ignored
        self.project = f"/api/projects/{target.settings['project_id']}"
        self.base = f"{self.project}/experiment_saved_metrics"

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.target.secret('api_key')}"}

    def read(self, expected: int = 0) -> LiveRead:
        guessed = [n * PAGE_SIZE for n in range(1, math.ceil(expected / PAGE_SIZE))]
        with paused_gc(keep=True):
            pages = fetch_pages(
                self._get,
                self._parse,
                0,
                guessed,
                self._other_pages,
                self.client.limits.concurrency,
            )
            if pages[0].envelope.get("count") is None:  # count is optional: follow `next`
                pages += follow_links(
                    self.target.name, self._get_link, self._parse, pages[0], _next_link
                )
            objects = [obj for page in pages for obj in page.objects]
        return LiveRead(objects, self._read_notes(), marker_supported=self.sync_tags)

    def _read_notes(self) -> tuple[str, ...]:
        if self.tags_ignored:
            return (TAGS_IGNORED.format(project=self.target.settings["project_id"]),)
        if not self.sync_tags:
            return (
                "sync_tags is off: ownership cannot be marked, so tags are not compared and "
                "prune is disabled for this target",
            )
        return ()

    def _get(self, offset: int) -> httpx.Response:
        return self.client.send(
            "GET", f"{self.base}/", params={"limit": PAGE_SIZE, "offset": offset}
        )

    def _get_link(self, link: str) -> httpx.Response:
        return self.client.send("GET", link)

    def _parse(self, response: httpx.Response) -> LivePage:
        body = self.client.decode(response, LIST.decode)
        return LIST.page(body, from_payload, self.owner_tag)

    def _other_pages(self, first: LivePage) -> list[int]:
        """Offsets in steps of the server's own page size, which may be smaller than asked for;
        none when the server does not count (then `read` follows the `next` links)."""
        size, count = len(first.objects), first.envelope.get("count")
        if not first.envelope.get("next") or size == 0 or count is None:
            return []
        check_first_page(self.target.name, count, size)
        pages = math.ceil(count / size)
        check_page_count(self.target.name, pages)
        return [n * size for n in range(1, pages)]

    def kind_diff(self, read: LiveRead, kind: DeclaredKind) -> KindDiff:
        normalisation = NORMALISATION
        if not read.marker_supported:
            normalisation = Normalisation(
                drop=(*NORMALISATION.drop, "tags"),
                rewrites=NORMALISATION.rewrites,
                blank=NORMALISATION.blank,
            )
        return KindDiff(
            kind=kind.name,
            normalisation=normalisation,
            casefold_names=kind.casefold_names,
            marker_supported=read.marker_supported,
            prune=self.target.policy.prune and read.marker_supported,
            foreign=self._foreign(kind.casefold_tags),
        )

    def _foreign(self, casefold_tags: bool) -> ForeignOwner:
        prefix = self.target.policy.foreign_owner_prefix
        tagged = tag_owner(self.owner_tag, prefix, casefold=casefold_tags)
        return first_claim(tagged, definitions_claim)

    def create(self, change: Change, facts: Facts) -> Written:
        assert change.definition is not None
        body = to_payload(change.definition, self._marker(facts))

        def send() -> Written:
            response = self.client.send("POST", f"{self.base}/", body=body, resend=False)
            return self._answered(self.client.decode(response, OBJECT.decode), facts)

        def exists() -> LiveObject | None:
            found = self._find(change.name)
            return None if found is None else from_payload(found, self.owner_tag)

        return self.create_once(change.name, send, exists)

    def _find(self, name: str) -> Any:
        """The live metric named `name` as the server compares names (trimmed, ignoring case),
        or None. `?search=` narrows the list on current servers only: an older one ignores it
        and answers the first page of everything. Its answer settles the question only when it
        was visibly filtered (every result mentions the name) and complete (no `next`);
        otherwise every page is read (docs/platforms/posthog.md)."""
        wanted = name.strip().casefold()
        params = {"search": name.strip(), "limit": 100}
        response = self.client.send("GET", f"{self.base}/", params=params)
        body = self.client.decode(response, PAGES.decode)
        results = [dict(r) for r in body.get("results") or [] if isinstance(r, Mapping)]
        for raw in results:
            if str(raw.get("name", "")).strip().casefold() == wanted:
                return raw
        if not body.get("next") and all(_mentions(raw, wanted) for raw in results):
            return None
        for obj in self.read().objects:
            if obj.name.strip().casefold() == wanted:
                return obj.raw
        return None

    def update(self, change: Change, facts: Facts) -> Written:
        assert change.definition is not None and change.live_id is not None
        body = to_payload(change.definition, self._marker(facts), update=True)
        claim = definitions_claim(change.live.spec) if change.live is not None else None
        if change.adopt_from == DEFINITIONS_OWNER and claim and "description" not in body:
            body["description"] = claim.spec["description"]  # their marker goes even if ignored
        response = self.client.send("PATCH", f"{self.base}/{change.live_id}/", body=body)
        return self._answered(self.client.decode(response, OBJECT.decode), facts)

    def _answered(self, saved: Mapping[str, Any], facts: Facts) -> Written:
        """The saved metric a create or PATCH answered with, and whether tags stick."""
        return Written(from_payload(saved, self.owner_tag), self._tags_check(saved, facts))

    def written_view(self, facts: Facts, kind: DeclaredKind) -> KindDiff:
        return self.kind_diff(LiveRead([], marker_supported=self._syncs_tags(facts)), kind)

    def usage(self, objects: Sequence[LiveObject]) -> Lookup:
        return experiments_using(self.client, self.project, objects)

    def not_taken(
        self, change: Change, fields: Sequence[FieldChange], facts: Facts
    ) -> tuple[str, Facts]:
        """PostHog changes every field in place and stores a query as sent, so a field it did
        not take is never a reason to replace (a replace unlinks the metric from its
        experiments): the advice is to look, then stop comparing the field if it repeats."""
        spec = [f"spec.{n}" for n in dict.fromkeys(top_field(f.path) for f in fields)]
        spec = [path for path in spec if path.split(".")[1] in MANAGED_FIELDS]
        advice = "run plan to see the metric as it is now"
        if spec:
            advice += (
                "; if the same field fails again, stop managing it: "
                f"`lifecycle.ignore_changes: [{', '.join(spec)}]`"
            )
        return (
            f"PostHog accepted the {change.action.value} but did not take "
            f"{describe_fields(fields)}. PostHog stores name, description, query and tags as "
            "sent, so something else changed them at the same moment or did not pass them on "
            f"(another writer, a proxy, a PostHog version that ignores the field): {advice}"
        ), {}

    def delete(self, change: Change) -> None:
        assert change.live_id is not None
        try:
            self.client.send("DELETE", f"{self.base}/{change.live_id}/")
        except ApiError as exc:
            if exc.status != 404:
                raise

    def _syncs_tags(self, facts: Facts) -> bool:
        """Tags are written and compared: the target says so, and no write of this run found
        them dropped."""
        return self.sync_tags and not facts.get(TAGS_IGNORED_FACT)

    def _marker(self, facts: Facts) -> str | None:
        return self.owner_tag if self._syncs_tags(facts) else None

    def _tags_check(self, saved: Mapping[str, Any], facts: Facts) -> Learnt:
        """An organisation without PostHog's tagging feature drops tags silently
        (docs/platforms/posthog.md#tags-and-the-ownership-marker): a write whose answer lacks
        the marker teaches the run, and later runs, that this project ignores tags."""
        if self._syncs_tags(facts) and self.owner_tag not in (saved.get("tags") or []):
            note = TAGS_IGNORED.format(project=self.target.settings["project_id"])
            return Learnt({TAGS_IGNORED_FACT: True}, (note,))
        return Learnt()
