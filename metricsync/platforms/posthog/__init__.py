"""PostHog experiment saved metrics: full sync of `posthog/saved_metric` definitions."""

import re

from metricsync.platforms.base import Kind, Lazy, Platform
from metricsync.platforms.posthog.checks import check_saved_metrics
from metricsync.platforms.posthog.references import sandbox_references

SAVED_METRIC = Kind(
    "posthog/saved_metric",
    "posthog/saved_metric.schema.json",
    check_saved_metrics,
    casefold_names=True,  # the server checks name uniqueness case-insensitively
    casefold_tags=True,
)

PLATFORM = Platform(
    name="posthog",
    kinds=(SAVED_METRIC,),
    secrets=("api_key",),
    endpoint_key="host",
    default_endpoint="https://us.posthog.com",
    settings_defaults=(("sync_tags", True),),
    secret_shapes=((re.compile(r"^ph[xc]_[A-Za-z0-9]{20,}$"), "this looks like a PostHog key"),),
    provider=Lazy("metricsync.platforms.posthog.provider", "PostHogProvider"),
    to_spec=Lazy("metricsync.platforms.posthog.mapping", "to_spec"),
    sandbox_references=sandbox_references,
    emulator=Lazy("metricsync.platforms.posthog.sandbox.emulator", "PostHog"),
    example_variables={"api_key": "POSTHOG_PERSONAL_API_KEY"},
)
