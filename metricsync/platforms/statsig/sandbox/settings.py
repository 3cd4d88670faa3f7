"""The Statsig sandbox's console keys and rate limits, and its choices for what Statsig leaves
open (docs/sandbox/statsig.md explains each); `configure` and seed files change them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from metricsync.sandbox import choices

API_OWNER = {
    "name": "CONSOLE API",
    "ownerID": "console-api",
    "ownerType": "SDK_KEY",
    "ownerName": "CONSOLE API",
    "ownerEmail": None,
}


@dataclass(frozen=True)
class StatsigSettings:
    api_keys: list[str] = field(default_factory=lambda: ["console-sandbox-key"])
    rate_limits: list[list[float]] = field(default_factory=lambda: [[100, 10], [1800, 900]])
    rate_limit_reads: bool = False
    rate_limit_per_key: bool = False
    rate_limit_counts_refused: bool = True
    retry_after: bool = True
    default_page_size: int = 100
    max_page_size: int = 1000
    over_max_page_size: str = "clamp"
    name_type_route: bool = False
    percentile_on_create: str = "accept"
    unknown_tags: str = "reject"
    unit_types: list[str] = field(default_factory=list)
    duplicate_message: str = "Name is already in use"
    unrouted_method_status: int = 404
    can_verify: bool = True
    verify_refusal: str = "change"
    owner: dict[str, Any] = field(default_factory=lambda: dict(API_OWNER))
    update_definition_fields: str = "apply"
    lineage_includes_tags: bool = True
    lineage_unknown_metric: str = "not_found"


def _strings(name: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"{name} must be a list of non-empty strings, got {value!r}")
    return list(value)


def _limits(name: str, value: Any) -> list[list[float]]:
    def valid(pair: Any) -> bool:
        return (
            isinstance(pair, list | tuple)
            and len(pair) == 2
            and all(isinstance(n, int | float) and not isinstance(n, bool) and n > 0 for n in pair)
        )

    if not isinstance(value, list) or not all(valid(pair) for pair in value):
        raise ValueError(f"{name} must be a list of [count, seconds] pairs, got {value!r}")
    return [list(pair) for pair in value]


def _owner(name: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or not isinstance(value.get("name"), str):
        raise ValueError(f"{name} must be an object with a string name, got {value!r}")
    return dict(value)


CHECKS: dict[str, choices.Check] = {
    "api_keys": _strings,
    "rate_limits": _limits,
    "rate_limit_reads": choices.boolean,
    "rate_limit_per_key": choices.boolean,
    "rate_limit_counts_refused": choices.boolean,
    "retry_after": choices.boolean,
    "default_page_size": choices.integer(1),
    "max_page_size": choices.integer(1),
    "over_max_page_size": choices.one_of("clamp", "refuse"),
    "name_type_route": choices.boolean,
    "percentile_on_create": choices.one_of("accept", "reject"),
    "unknown_tags": choices.one_of("reject", "create"),
    "unit_types": lambda name, value: _strings(name, value) if value else [],
    "duplicate_message": choices.text,
    "unrouted_method_status": choices.status,
    "can_verify": choices.boolean,
    "verify_refusal": choices.one_of("change", "any"),
    "owner": _owner,
    "update_definition_fields": choices.one_of("apply", "ignore"),
    "lineage_includes_tags": choices.boolean,
    "lineage_unknown_metric": choices.one_of("not_found", "empty"),
}
