"""Whose a live object is (policy in docs/config.md): our marker, another repository's, or
nobody's. Pure functions over live specs; each provider says where its platform keeps markers."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Claim:
    """Another repository's marker on a live object, and the object's spec without it (what a
    takeover with `--adopt-from` compares the definition to)."""

    owner: str  # the marker as `--adopt-from` names it
    spec: Mapping[str, Any]


ForeignOwner = Callable[[Mapping[str, Any]], "Claim | None"]


def tag_owner(owner_tag: str, prefix: str, *, casefold: bool = False) -> ForeignOwner:
    """Foreign ownership by tag: a tag starting with `prefix` that is not `owner_tag`. With
    `casefold` (platforms that lower-case tags) the prefix is compared lower-cased."""
    start = prefix.lower() if casefold else prefix

    def claim(spec: Mapping[str, Any]) -> Claim | None:
        if not prefix:
            return None
        tags = spec.get("tags") or []
        tags = [tags] if isinstance(tags, str) else tags
        foreign = [t for t in tags if _foreign(t, start, owner_tag)]
        if not foreign:
            return None
        kept = [t for t in tags if t not in foreign]
        return Claim(str(foreign[0]), {**spec, "tags": kept})

    return claim


def _foreign(tag: Any, start: str, owner_tag: str) -> bool:
    return isinstance(tag, str) and tag.startswith(start) and tag != owner_tag


def first_claim(*owners: ForeignOwner) -> ForeignOwner:
    """The first of several ways a platform marks ownership that finds an owner."""

    def claim(spec: Mapping[str, Any]) -> Claim | None:
        return next((c for c in (owner(spec) for owner in owners) if c is not None), None)

    return claim
