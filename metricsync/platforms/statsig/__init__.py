"""Statsig Console API metrics: full sync of `statsig/metric` definitions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from metricsync.platforms.base import Kind, Platform
from metricsync.platforms.statsig.rules import check_metrics

if TYPE_CHECKING:
    import httpx

    from metricsync.config import Target
    from metricsync.provider import Provider

METRIC = Kind("statsig/metric", "statsig/metric.schema.json", check_metrics)


def _provider(target: Target, transport: httpx.BaseTransport | None) -> Provider:
    from metricsync.platforms.statsig.provider import StatsigProvider

    return StatsigProvider(target, transport)


PLATFORM = Platform(
    name="statsig",
    kinds=(METRIC,),
    secrets=("api_key",),
    endpoint_key="base_url",
    default_endpoint="https://statsigapi.net",
    provider=_provider,
)
