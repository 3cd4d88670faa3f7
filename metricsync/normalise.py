"""Declared, per-kind normalisation: both sides of a comparison pass through the same rules, so
a perpetual diff is fixed by one rule and a test, never by a special case in the diff.

Paths are dotted; `*` stands for every item of a list (`metricEvents.*.criteria.*.values`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Rewrite = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Normalisation:
    defaults: Mapping[str, Any] = field(default_factory=dict)  # filled in when absent
    drop: tuple[str, ...] = ()  # server-managed paths, never compared
    sets: tuple[str, ...] = ()  # lists whose order carries no meaning
    lowercase: tuple[str, ...] = ()  # string lists the server lower-cases and trims
    listify: tuple[str, ...] = ()  # fields that accept one string for a list
    rewrites: tuple[Rewrite, ...] = ()  # platform rewrites undone, in place
    blank: tuple[str, ...] = ()  # top-level text fields where an explicit null or "" is a value


def desired_document(spec: Mapping[str, Any], normalisation: Normalisation) -> dict[str, Any]:
    """The one desired document of a definition: its spec with the kind's documented defaults
    filled in. The plan compares this document (normalised) and every write sends it, so a
    field the plan compares is always in the request that applies it: a value edited in a
    platform's UI is restored by the next apply, defaults included (docs/platforms/README.md)."""
    document = dict(spec)
    fill_defaults(document, normalisation)
    return document


def fill_defaults(value: dict[str, Any], normalisation: Normalisation) -> None:
    """The one place defaults are filled, for the desired document and for `normalise`: so
    `normalise(spec)` is the desired document normalised, without copying the spec twice."""
    for key, default in normalisation.defaults.items():
        if key not in value:
            value[key] = _clean(default)


def normalise(spec: Mapping[str, Any], normalisation: Normalisation) -> dict[str, Any]:
    """A comparable copy of `spec`: defaults filled, server fields dropped, empties removed,
    set-like lists sorted. Applied identically to desired and live specs."""
    skipped = _top_level(normalisation.drop)
    value: dict[str, Any] = _clean({k: v for k, v in spec.items() if k not in skipped})
    fill_defaults(value, normalisation)
    for path in normalisation.listify:
        _apply(value, path, lambda v: [v] if isinstance(v, str) else v)
    for path in normalisation.drop:
        if path not in skipped:
            _remove(value, path.split("."))
    for rewrite in normalisation.rewrites:
        rewrite(value)
    for path in normalisation.lowercase:
        _apply(value, path, lambda v: sorted({str(s).strip().lower() for s in v}))
    for path in normalisation.sets:
        _apply(value, path, lambda v: sorted(v, key=_order_key))
    if (
        any("." in p for p in normalisation.drop) or normalisation.rewrites
    ):  # removals may leave empties
        value = _clean(value)
    for key in normalisation.blank:  # present but empty: "no text", compared as ""
        if key in spec and key not in value:
            value[key] = ""
    return value


def managed_view(
    desired: Mapping[str, Any],
    live: Mapping[str, Any],
    normalisation: Normalisation,
    ignore: Sequence[str],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both sides restricted to the fields the definition manages: its own keys plus the keys
    with documented defaults, minus `lifecycle.ignore_changes` (paths under `spec.`)."""
    keys = set(desired) | set(normalisation.defaults)
    left = {k: v for k, v in desired.items() if k in keys}
    right = {k: v for k, v in live.items() if k in keys}
    for path in ignore:
        parts = path.split(".")[1:]
        _remove(left, parts)
        _remove(right, parts)
    return left, right


def without_ignored(spec: Mapping[str, Any], ignore: Iterable[str]) -> dict[str, Any]:
    """The spec minus top-level fields the platform UI owns (`lifecycle.ignore_changes`)."""
    skipped = {path.split(".")[1] for path in ignore}
    return {k: v for k, v in spec.items() if k not in skipped}


@functools.cache
def _top_level(paths: tuple[str, ...]) -> frozenset[str]:
    """Dropped paths that are plain top-level keys: never copied, rather than removed after."""
    return frozenset(p for p in paths if "." not in p and "*" not in p)


def _clean(value: Any) -> Any:
    """A copy without empty values (None, "", [], {}): one pass, the hot path of every plan."""
    kind = type(value)
    if kind is dict or (kind is not list and isinstance(value, Mapping)):
        cleaned = {}
        for key, item in value.items():
            item = _clean(item)
            if item is None or (type(item) in _CONTAINERS and not item):
                continue
            cleaned[key] = item
        return cleaned
    if kind is list or kind is tuple:
        return [_clean(item) for item in value]
    return value


_CONTAINERS = (str, list, dict)


def _order_key(value: Any) -> str:
    return repr(value) if not isinstance(value, str) else value


def _apply(value: Any, path: str, change: Callable[[Any], Any]) -> None:
    parts = path.split(".")
    for parent, key in _targets(value, parts):
        if isinstance(parent[key], list | str):
            parent[key] = change(parent[key])


def _targets(value: Any, parts: list[str]) -> list[tuple[Any, Any]]:
    if not parts:
        return []
    head, rest = parts[0], parts[1:]
    items: list[tuple[Any, Any]]
    if head == "*":
        items = list(enumerate(value)) if isinstance(value, list) else []
    elif isinstance(value, dict) and head in value:
        items = [(head, value[head])]
    else:
        items = []
    if not rest:
        return [(value, key) for key, _ in items]
    return [t for _, child in items for t in _targets(child, rest)]


def _remove(value: Any, parts: list[str]) -> None:
    for parent, key in _targets(value, parts):
        del parent[key]
