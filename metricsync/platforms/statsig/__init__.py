"""Statsig Console API metrics: full sync of `statsig/metric` definitions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from metricsync.platforms.base import Kind, Lazy, Platform
from metricsync.platforms.statsig.checks import check_metrics

if TYPE_CHECKING:
    import httpx

    from metricsync.config import Target
    from metricsync.live import LiveObject
    from metricsync.provider import Provider

METRIC = Kind("statsig/metric", "statsig/metric.schema.json", check_metrics)


def _provider(target: Target, transport: httpx.BaseTransport | None) -> Provider:
    from metricsync.platforms.statsig.provider import StatsigProvider

    return StatsigProvider(target, transport)


def _to_spec(live: LiveObject) -> dict[str, Any]:
    from metricsync.platforms.statsig.mapping import to_spec

    return to_spec(live)


PLATFORM = Platform(
    name="statsig",
    kinds=(METRIC,),
    secrets=("api_key",),
    endpoint_key="base_url",
    default_endpoint="https://statsigapi.net",
    provider=_provider,
    to_spec=_to_spec,
    emulator=Lazy("metricsync.platforms.statsig.sandbox.emulator", "Statsig"),
    example_variables={"api_key": "STATSIG_CONSOLE_API_KEY"},
)
