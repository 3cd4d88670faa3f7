"""The existing side: live objects as a provider reads them, mapped onto definition fields."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
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
    fingerprint: str = ""  # digest of the object exactly as read, for stale saved plans


def fingerprint(raw: Any) -> str:
    """A stable digest of an object as the server returned it."""
    text = json.dumps(raw, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()
