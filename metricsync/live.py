"""The existing side: live objects as a provider reads them, mapped onto definition fields."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any


@dataclass(frozen=True)
class LiveObject:
    kind: str
    id: str  # the server's identity, kept across renames; never rebuilt from a name
    name: str
    spec: Mapping[str, Any]  # the platform's fields under their definition names
    owned: bool  # carries the ownership marker
    generated: bool = False  # made by the platform itself (e.g. Statsig event metrics): untouchable
    legacy: bool = False  # cannot be updated in place, only replaced
    raw: Any = field(default=None, compare=False, repr=False)  # the object exactly as read

    @cached_property
    def fingerprint(self) -> str:
        """Digest of the object as read, for stale saved plans; computed only when a change
        touches the object (hashing all 10,000 objects of a plan would double its read time)."""
        return fingerprint(self.raw)


def fingerprint(raw: Any) -> str:
    """A stable digest of an object as the server returned it."""
    text = json.dumps(raw, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()
