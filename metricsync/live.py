"""The existing side: live objects as a provider reads them, mapped onto definition fields, and
what one read of a target returns."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple


class LiveObject(NamedTuple):
    """An immutable value like the frozen dataclasses elsewhere, but a NamedTuple: a plan builds
    one per live object while the pages arrive, and this costs under half as much (one
    allocation, no per-field `object.__setattr__`), ~15 ms of a 10,000-object read."""

    kind: str
    id: str  # the server's identity, kept across renames; never rebuilt from a name
    name: str
    spec: Mapping[str, Any]  # the platform's fields under their definition names
    owned: bool  # carries the ownership marker
    generated: bool = False  # made by the platform itself (e.g. Statsig event metrics): untouchable
    legacy: bool = False  # cannot be updated in place, only replaced
    raw: Any = None  # the object's read fields as the server sent them (listing.py)

    @property
    def fingerprint(self) -> str:
        """Digest of the object as read, for stale saved plans; computed only for the objects a
        change touches (hashing all 10,000 objects of a plan would double its read time)."""
        return fingerprint(self.raw)


def fingerprint(raw: Any) -> str:
    """A stable digest of an object as the server returned it (key order does not matter)."""
    text = json.dumps(raw, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


@dataclass(frozen=True)
class LiveRead:
    """What one read of a target returns: its live objects, notes for the plan, and the facts
    the read learnt that later steps need (Statsig: the project's tag names). The provider
    keeps none of it: the planner passes it on (docs/platforms/README.md)."""

    objects: list[LiveObject]
    notes: tuple[str, ...] = ()
    marker_supported: bool = True  # the platform stores the ownership marker
    facts: Mapping[str, Any] = field(default_factory=dict)
