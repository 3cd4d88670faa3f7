"""Experiments that use a metric (`protect_in_use` in docs/config.md): which changes need the
lookup, what a lookup found, and the safety rule over it. Pure; providers make the requests
(platforms/*/experiments.py).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace

from metricsync.display import printable
from metricsync.plan import Action, Change, Use

_TOP = re.compile(r"[.\[]")


@dataclass(frozen=True)
class Lookup:
    """What the lookups found, by live id: the experiments using each object, or why that
    could not be learnt. `requests` were sent; `paced` of them count toward the rate limits."""

    used_by: Mapping[str, tuple[Use, ...]] = field(default_factory=dict)
    unknown: Mapping[str, str] = field(default_factory=dict)
    requests: int = 0
    paced: int = 0


def needs_lookup(change: Change, measuring: Collection[str]) -> bool:
    """Deletes, replaces, and updates of a field that changes what the object measures. A
    rename, a description or tags never do: they leave every experiment's results as they are."""
    if change.live_id is None:
        return False
    if change.action in (Action.DELETE, Action.REPLACE):
        return True
    return change.action == Action.UPDATE and any(
        _TOP.split(f.path, maxsplit=1)[0] in measuring for f in change.fields
    )


def with_usage(change: Change, lookup: Lookup) -> Change:
    assert change.live_id is not None
    unknown = lookup.unknown.get(change.live_id)
    if unknown is not None:
        return replace(change, usage_unknown=unknown)
    return replace(change, used_by=lookup.used_by.get(change.live_id, ()))


def running(change: Change) -> list[Use]:
    return [u for u in change.used_by or () if u.running]


def in_use_refusals(changes: Sequence[Change]) -> Iterator[str]:
    """A delete or replace of an object a running experiment uses, or whose usage is unknown.
    Names and server text are shown with their control characters escaped: a refusal is also
    apply's error line, and an experiment's name must not start a line of its own there."""
    for change in changes:
        if change.action not in (Action.DELETE, Action.REPLACE):
            continue
        verb = "deleting" if change.action == Action.DELETE else "replacing"
        lift = "lift it for one run with apply --allow-in-use"
        users = running(change)
        if users:
            names = ", ".join(printable(u.name) for u in users)
            yield (
                f"{change.name!r} is used by {len(users)} running experiment(s): {names}; "
                f"{verb} it changes their results ({lift})"
            )
        elif change.usage_unknown is not None:
            yield (
                f"the experiments using {change.name!r} are unknown "
                f"({printable(change.usage_unknown)}), "
                f"so it counts as in use; not {verb} it ({lift})"
            )
