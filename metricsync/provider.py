"""The provider contract for platforms metricsync syncs, and the shared read/write flow.

A provider is a platform's thin transport: a few operations over its API, while the pure
translation (payloads in and out, normalisation) sits beside it in the platform's mapping module;
planning and applying are written once, in `planner.py` and `apply.py`. A provider keeps nothing
it learns during a run: a read returns it (LiveRead), a write returns it (Written), and the
caller passes it back in as `facts`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from metricsync.client import AmbiguousWrite, ApiClient
from metricsync.config import Target
from metricsync.diff import DeclaredKind, KindDiff
from metricsync.errors import ApiError, MetricsyncError
from metricsync.live import LiveObject, LiveRead
from metricsync.pacing import Limits
from metricsync.plan import Change, FieldChange
from metricsync.render.values import show
from metricsync.usage import Lookup

CREATE_ATTEMPTS = 3
# What a run knows about a target beyond its settings: what the read learnt, then what each
# write learnt (the keys a provider lists in `remembered` are also kept in .metricsync/state.json).
Facts = Mapping[str, Any]


@dataclass(frozen=True)
class Learnt:
    """What a write found out about its target, returned rather than stored: apply hands the
    facts to the writes that start after it and reports each note once."""

    facts: Facts = field(default_factory=dict)
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Written:
    """A create's or update's answer: the object as the platform answered (None: nothing to
    check), and what the write learnt."""

    answered: LiveObject | None
    learnt: Learnt = field(default_factory=Learnt)


class NameTaken(MetricsyncError):
    """The platform refused a create because an object of that name exists now: one made since
    the plan, by a concurrent run or by hand. `found` is that object, as read."""

    def __init__(self, message: str, found: LiveObject) -> None:
        super().__init__(message)
        self.found = found


class Provider(ABC):
    """One target of a synced platform for one run; owns its ApiClient."""

    limits: Limits
    # Fields whose change alters what an experiment using the object measures (`protect_in_use`
    # in docs/config.md).
    measuring_fields: tuple[str, ...] = ()
    # Facts a write may learn that later runs keep too (.metricsync/state.json, facts.py).
    remembered: tuple[str, ...] = ()
    kind: str  # the kind it syncs; callers pass its record (KINDS[kind]) to `kind_diff`

    def __init__(self, target: Target, transport: httpx.BaseTransport | None = None) -> None:
        self.target = target
        self.client = ApiClient(
            target.name, target.endpoint, self.headers(), self.limits, transport=transport
        )

    @abstractmethod
    def headers(self) -> dict[str, str]:
        """Authentication headers (resolving the target's secrets now)."""

    @abstractmethod
    def read(self, expected: int = 0) -> LiveRead:
        """Every live object of the target, in as few list requests as the platform allows.
        `expected` is how many the caller thinks exist (its definitions): the pages they fill
        are requested alongside the first instead of after it."""

    @abstractmethod
    def kind_diff(self, read: LiveRead, kind: DeclaredKind) -> KindDiff:
        """The diff's view of this target: normalisation, dependencies, policy, and how `kind`,
        the record of the kind it syncs, declares its names and tags compare. The caller passes
        the record: a provider does not import its platform's package, whose record names it."""

    @abstractmethod
    def create(self, change: Change, facts: Facts) -> Written:
        """Creates the object; returns it as the platform answered, and what the write learnt."""

    @abstractmethod
    def update(self, change: Change, facts: Facts) -> Written:
        """Updates the object; returns it as the platform answered, and what the write learnt."""

    @abstractmethod
    def delete(self, change: Change) -> None: ...

    def prepare(self, changes: Sequence[Change], facts: Facts) -> None:  # noqa: B027 - optional
        """Runs once before the first change of an apply (default: nothing)."""

    def usage(self, objects: Sequence[LiveObject]) -> Lookup:
        """The experiments that use each of these live objects, read concurrently within the
        rate limits; a failed read makes that usage unknown, never an error (default: none)."""
        return Lookup()

    def setup_calls(self, changes: Sequence[Change], facts: Facts) -> int:
        """Requests `prepare` makes before the first change (e.g. creating missing tags)."""
        return 0

    def calls(self, change: Change) -> int:
        """Requests the change costs when nothing fails."""
        return 2 if change.action == "replace" else 1

    def close(self) -> None:
        self.client.close()

    def written_view(self, facts: Facts, kind: DeclaredKind) -> KindDiff:
        """The diff's view a write's answer is checked against: `kind_diff` given what the
        apply knows so far (e.g. a project that drops tags)."""
        return self.kind_diff(LiveRead([]), kind)

    def not_taken(
        self, change: Change, fields: Sequence[FieldChange], facts: Facts
    ) -> tuple[str, Facts]:
        """What to tell the user when the platform accepted a write but did not take `fields`
        (before = what it holds, after = what was sent), and what that teaches about the
        target (default: nothing). Platforms that know why override it."""
        return (
            f"the platform accepted the {change.action.value} but did not take "
            f"{describe_fields(fields)}; the API key may lack the permission for these fields, "
            "or the platform manages them: fix the key, or list them in "
            "lifecycle.ignore_changes to stop comparing them"
        ), {}

    def create_once(
        self,
        name: str,
        send: Callable[[], Written],
        exists: Callable[[], LiveObject | None],
        taken: Callable[[ApiError], bool] = lambda refused: False,
    ) -> Written:
        """Sends a create; when the outcome is unknown, looks before sending it again, so an
        object is never created twice (docs/platforms/README.md). Returns what `send` answered,
        or the object `exists` found; once the run is interrupted, a create that did not arrive
        is not sent again. A refusal that `taken` says may mean "the name is in
        use" is looked into too: when the object exists now, NameTaken carries it."""
        for _ in range(CREATE_ATTEMPTS):
            try:
                return send()
            except AmbiguousWrite as unsure:
                try:
                    found = exists()
                except MetricsyncError as lost:
                    raise AmbiguousWrite(
                        f"{unsure}; whether the create of {name!r} reached the platform is "
                        f"unknown: looking for it failed too ({lost}); run plan to see"
                    ) from None
                if found is not None:
                    return Written(found)  # an earlier attempt did reach the server
                if self.client.guard is not None and self.client.guard.interrupted:
                    raise AmbiguousWrite(  # a resend would be a write started after the signal
                        f"{self.target.name}: the create of {name!r} failed on the way and did "
                        "not reach the platform; the run was interrupted, so it is not sent again"
                    ) from None
            except ApiError as refused:
                if not taken(refused):
                    raise
                found = exists()
                if found is None:
                    raise
                raise NameTaken(str(refused), found) from None
        raise AmbiguousWrite(f"{self.target.name}: could not confirm the creation of {name!r}")


def describe_fields(fields: Sequence[FieldChange], shown: int = 5) -> str:
    """`metricEvents (still [...], sent [...])`, for the first few fields."""
    parts = [f"{f.path} (still {show(f.before)}, sent {show(f.after)})" for f in fields[:shown]]
    more = f" and {len(fields) - shown} more field(s)" if len(fields) > shown else ""
    return ", ".join(parts) + more
