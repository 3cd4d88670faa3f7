"""Plan-time reference checks: what a definition refers to (a Statsig composite's
components, through the KindDiff `depends` hook) must be defined for the same target or live
there, and a delete of an object that something staying refers to is held back.

Pure: definitions, live objects and changes in, findings out; the planner words them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from metricsync.definitions import Definition
from metricsync.diff import KindDiff, Reference
from metricsync.live import LiveObject
from metricsync.plan import Action, Change


@dataclass(frozen=True)
class Dangling:
    """A definition's reference that resolves to nothing: no definition, no live object."""

    definition: Definition
    reference: Reference


@dataclass(frozen=True)
class Held:
    """A delete that would break an object that stays: `referrer` (a definition at `where`,
    or a live object left alone) refers to `deleted`."""

    deleted: str
    referrer: str
    where: str


@dataclass(frozen=True)
class ReferenceCheck:
    dangling: tuple[Dangling, ...] = ()
    held: tuple[Held, ...] = ()


def check_references(
    desired: Sequence[Definition],
    live: Sequence[LiveObject],
    changes: Sequence[Change],
    spec: KindDiff,
) -> ReferenceCheck:
    def key(name: str) -> str:
        return name.casefold() if spec.casefold_names else name

    live = [obj for obj in live if obj.kind == spec.kind]
    known = {key(d.name) for d in desired} | {key(obj.name) for obj in live}
    dangling = tuple(
        Dangling(d, ref)
        for d in desired
        for ref in spec.depends(d.spec)
        if key(ref.name) not in known
    )
    deleted = {c.live_id: c.name for c in changes if c.action == Action.DELETE}
    if not deleted:
        return ReferenceCheck(dangling)
    gone = {key(name): name for name in deleted.values()}
    # what stays: every definition (a live twin takes its spec), and live objects left alone
    touched = {c.live_id for c in changes if c.live_id is not None}
    claimed = {key(n) for d in desired for n in (d.name, *d.lifecycle.renamed_from)}
    staying = [(d.name, d.where, d.spec) for d in desired] + [
        (obj.name, f"live object {obj.id}", obj.spec)
        for obj in live
        if obj.id not in touched and key(obj.name) not in claimed
    ]
    held = tuple(
        Held(gone[key(ref.name)], name, where)
        for name, where, referrer in staying
        for ref in spec.depends(referrer)
        if key(ref.name) in gone
    )
    return ReferenceCheck(dangling, held)
