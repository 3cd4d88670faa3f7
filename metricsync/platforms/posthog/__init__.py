"""PostHog experiment saved metrics: full sync of `posthog/saved_metric` definitions."""

from metricsync.platforms.base import Kind, Platform
from metricsync.platforms.posthog.rules import check_saved_metrics

SAVED_METRIC = Kind(
    "posthog/saved_metric",
    "posthog/saved_metric.schema.json",
    check_saved_metrics,
    casefold_names=True,  # the server checks name uniqueness case-insensitively
)

PLATFORM = Platform(
    name="posthog",
    kinds=(SAVED_METRIC,),
    secrets=("api_key",),
    endpoint_key="host",
    default_endpoint="https://us.posthog.com",
    settings_defaults=(("sync_tags", True),),
)
