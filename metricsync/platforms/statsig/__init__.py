"""Statsig Console API metrics: full sync of `statsig/metric` definitions."""

from metricsync.platforms.base import Kind, Platform
from metricsync.platforms.statsig.rules import check_metrics

METRIC = Kind("statsig/metric", "statsig/metric.schema.json", check_metrics)

PLATFORM = Platform(
    name="statsig",
    kinds=(METRIC,),
    secrets=("api_key",),
    endpoint_key="base_url",
    default_endpoint="https://statsigapi.net",
)
