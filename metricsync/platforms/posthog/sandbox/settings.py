"""The PostHog sandbox's personal API keys and projects, and its choices for what PostHog leaves
open (docs/sandbox/posthog.md explains each); `configure` and seed files change them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from metricsync.sandbox import choices

CREATED_BY = {
    "id": 1,
    "uuid": "0190b4a2-5d6e-7000-8000-00000000a001",
    "email": "sandbox@metricsync.dev",
    "first_name": "Sandbox",
}


@dataclass(frozen=True)
class PostHogSettings:
    api_keys: list[str] = field(default_factory=lambda: ["phx_sandbox_personal_key"])
    projects: list[int] = field(default_factory=list)
    tagging: bool = True
    default_page_size: int = 100
    max_page_size: int | None = None
    list_search: bool = True
    rate_limits: list[list[float]] = field(default_factory=lambda: [[480, 60], [4800, 3600]])
    not_found_detail: str = "Not found."
    null_tags: str = "reject"
    null_description: str = "clear"
    update_ignores: list[str] = field(default_factory=list)
    created_by: dict[str, Any] = field(default_factory=lambda: dict(CREATED_BY))
    user_access_level: str = "editor"
    list_full_experiments: bool = False


def _keys(name: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"{name} must be a list of non-empty strings, got {value!r}")
    return list(value)


def _projects(name: str, value: Any) -> list[int]:
    if not isinstance(value, list) or not all(type(v) is int for v in value):
        raise ValueError(f"{name} must be a list of integer project ids, got {value!r}")
    return list(value)


def _limits(name: str, value: Any) -> list[list[float]]:
    def valid(pair: Any) -> bool:
        return (
            isinstance(pair, list)
            and len(pair) == 2
            and all(type(n) in (int, float) and n > 0 for n in pair)
        )

    if not isinstance(value, list) or not all(valid(pair) for pair in value):
        raise ValueError(f"{name} must be a list of [count, seconds] pairs, got {value!r}")
    return [list(pair) for pair in value]


def _fields(name: str, value: Any) -> list[str]:
    allowed = ("name", "description", "query", "tags")
    if not isinstance(value, list) or not all(v in allowed for v in value):
        raise ValueError(
            f"{name} must be a list of fields among {', '.join(allowed)}, got {value!r}"
        )
    return list(value)


def _user(name: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{name} must be an object, got {value!r}")
    return dict(value)


CHECKS: dict[str, choices.Check] = {
    "api_keys": _keys,
    "projects": _projects,
    "tagging": choices.boolean,
    "default_page_size": choices.integer(1),
    "max_page_size": choices.optional(choices.integer(1)),
    "list_search": choices.boolean,
    "rate_limits": _limits,
    "not_found_detail": choices.text,
    "null_tags": choices.one_of("reject", "ignore"),
    "null_description": choices.one_of("clear", "ignore"),
    "update_ignores": _fields,
    "created_by": _user,
    "user_access_level": choices.text,
    "list_full_experiments": choices.boolean,
}
