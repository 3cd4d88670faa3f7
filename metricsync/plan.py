"""The plan model: frozen values describing ordered changes per target. It knows nothing about
output (renderers read it) and nothing about HTTP (apply executes it through providers)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from metricsync.definitions import Definition
from metricsync.live import LiveObject


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"
    DELETE = "delete"
    ADOPT = "adopt"


class Absent:
    """Marks a field missing on one side of a FieldChange."""

    def __repr__(self) -> str:
        return "(absent)"


ABSENT: Any = Absent()


@dataclass(frozen=True)
class FieldChange:
    path: str  # dotted, with [i] for list items: "metricEvents[0].name"
    before: Any
    after: Any


@dataclass(frozen=True)
class Use:
    """An experiment that uses the object a change touches (docs/config.md, protect_in_use)."""

    id: str
    name: str
    status: str  # as the platform says it
    running: bool  # its results are still being computed: the change alters them


@dataclass(frozen=True)
class Change:
    action: Action
    kind: str
    name: str  # the name after the change (the live name for deletes)
    live_id: str | None = None
    previous_name: str | None = None  # set when the change renames the object
    fields: tuple[FieldChange, ...] = ()
    adopt: bool = False  # the ownership marker is added by this change
    adopt_from: str | None = None  # the other repository's marker this change replaces (4.3)
    fingerprint: str | None = None  # of the live object as read; None when there was none
    source: str | None = None  # "file:line" of the definition
    depends_on: tuple[str, ...] = ()  # keys of changes that must succeed first
    protected: bool = False
    used_by: tuple[Use, ...] | None = None  # experiments using the object; None: not looked up
    usage_unknown: str | None = None  # why the lookup failed: the object counts as in use
    definition: Definition | None = field(default=None, compare=False, repr=False)
    live: LiveObject | None = field(default=None, compare=False, repr=False)

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.name}"


def adopting(change: Change) -> bool:
    """The change puts our ownership marker on a live object: an adopt, or an update (or
    replace) that adopts on the way. Counted as adopts, so a summary never says 0 to adopt
    while the plan takes objects over (an update that adopts is counted in both)."""
    return change.action == Action.ADOPT or (change.adopt and change.action != Action.CREATE)


@dataclass(frozen=True)
class ForeignTwin:
    """A definition whose live twin another repository owns: refused unless --adopt-from."""

    kind: str
    name: str
    live_id: str
    owner: str  # the other repository's marker
    source: str | None = None  # "file:line" of the definition


@dataclass(frozen=True)
class Lookalike:
    """An unmanaged live object whose name resembles a managed one: a possible duplicate."""

    name: str
    live_id: str
    resembles: str


@dataclass(frozen=True)
class TargetPlan:
    target: str
    platform: str
    changes: tuple[Change, ...] = ()
    lookalikes: tuple[Lookalike, ...] = ()
    notes: tuple[str, ...] = ()  # warnings a reviewer must see (e.g. prune disabled)
    refusals: tuple[str, ...] = ()  # safety rules that fired; apply refuses while any remain
    api_calls: int = 0  # requests a run makes: the changes, and the usage lookups (protect_in_use)
    lookups: int = 0  # of api_calls, those that look up the experiments using an object
    minimum_seconds: float = 0.0
    managed_count: int = 0  # live objects metricsync owns on this target
    # What the read learnt that applying this plan needs (Statsig: the tags that exist).
    facts: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def count(self, action: Action) -> int:
        """Changes of this action; for ADOPT, every change that takes ownership (adopting())."""
        if action == Action.ADOPT:
            return sum(1 for c in self.changes if adopting(c))
        return sum(1 for c in self.changes if c.action == action)


@dataclass(frozen=True)
class Plan:
    targets: tuple[TargetPlan, ...]
    digest: str  # of the config and every definition file the plan was built from
    created: str  # ISO-8601 UTC
    warnings: tuple[str, ...] = ()  # for stderr: e.g. an --adopt-from that matched nothing

    @property
    def changes(self) -> list[Change]:
        return [c for t in self.targets for c in t.changes]

    @property
    def refusals(self) -> list[str]:
        return [f"{t.target}: {r}" for t in self.targets for r in t.refusals]
