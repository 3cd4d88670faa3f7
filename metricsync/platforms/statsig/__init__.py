"""Statsig Console API metrics: full sync of `statsig/metric` definitions."""

import re

from metricsync.platforms.base import Kind, Lazy, Platform
from metricsync.platforms.statsig.checks import check_metrics

METRIC = Kind("statsig/metric", "statsig/metric.schema.json", check_metrics)

PLATFORM = Platform(
    name="statsig",
    kinds=(METRIC,),
    secrets=("api_key",),
    endpoint_key="base_url",
    default_endpoint="https://statsigapi.net",
    secret_shapes=(
        (
            re.compile(r"^(?:console|secret|client)-[A-Za-z0-9]{16,}$"),
            "this looks like a Statsig key",
        ),
    ),
    provider=Lazy("metricsync.platforms.statsig.provider", "StatsigProvider"),
    to_spec=Lazy("metricsync.platforms.statsig.mapping", "to_spec"),
    dry_runs=True,  # Statsig's dryRun: verify sends the plan's creates and updates
    emulator=Lazy("metricsync.platforms.statsig.sandbox.emulator", "Statsig"),
    example_variables={"api_key": "STATSIG_CONSOLE_API_KEY"},
)
