"""PostHog experiment saved metrics: full sync of `posthog/saved_metric` definitions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from metricsync.platforms.base import Kind, Lazy, Platform
from metricsync.platforms.posthog.checks import check_saved_metrics

if TYPE_CHECKING:
    import httpx

    from metricsync.config import Target
    from metricsync.definitions import Definition
    from metricsync.live import LiveObject
    from metricsync.provider import Provider

SAVED_METRIC = Kind(
    "posthog/saved_metric",
    "posthog/saved_metric.schema.json",
    check_saved_metrics,
    casefold_names=True,  # the server checks name uniqueness case-insensitively
    casefold_tags=True,
)


def _provider(target: Target, transport: httpx.BaseTransport | None) -> Provider:
    from metricsync.platforms.posthog.provider import PostHogProvider

    return PostHogProvider(target, transport)


def _to_spec(live: LiveObject) -> dict[str, Any]:
    from metricsync.platforms.posthog.mapping import to_spec

    return to_spec(live)


def _sandbox_references(target: Target, definitions: Sequence[Definition]) -> dict[str, Any]:
    from metricsync.platforms.posthog.references import sandbox_references

    return sandbox_references(target, definitions)


PLATFORM = Platform(
    name="posthog",
    kinds=(SAVED_METRIC,),
    secrets=("api_key",),
    endpoint_key="host",
    default_endpoint="https://us.posthog.com",
    settings_defaults=(("sync_tags", True),),
    provider=_provider,
    to_spec=_to_spec,
    sandbox_references=_sandbox_references,
    emulator=Lazy("metricsync.platforms.posthog.sandbox.emulator", "PostHog"),
    example_variables={"api_key": "POSTHOG_PERSONAL_API_KEY"},
)
