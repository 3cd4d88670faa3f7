"""Unleash client metrics: `unleash/usage` payloads, validated and sent only on request."""

from metricsync.platforms.base import Kind, Lazy, Platform
from metricsync.platforms.unleash.checks import check_usage

USAGE = Kind("unleash/usage", "unleash/usage.schema.json", check_usage)

PLATFORM = Platform(
    name="unleash",
    kinds=(USAGE,),
    secrets=("api_token",),
    endpoint_key="url",
    default_endpoint=None,
    sandbox_path="/api",
    settings_defaults=(("app_name", "metricsync"),),
    emulator=Lazy("metricsync.platforms.unleash.sandbox.emulator", "Unleash"),
    example_variables={"api_token": "UNLEASH_BACKEND_TOKEN"},
)
