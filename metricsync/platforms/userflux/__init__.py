"""UserFlux Metrics API: `userflux/query` definitions are run as checks, never planned."""

from metricsync.platforms.base import Kind, Lazy, Platform
from metricsync.platforms.userflux.checks import check_queries

QUERY = Kind("userflux/query", "userflux/query.schema.json", check_queries)

PLATFORM = Platform(
    name="userflux",
    kinds=(QUERY,),
    secrets=("client_secret", "environment_api_key"),
    endpoint_key="base_url",
    default_endpoint="https://metrics-api.userflux.co",
    emulator=Lazy("metricsync.platforms.userflux.sandbox.emulator", "UserFlux"),
    example_variables={
        "client_secret": "USERFLUX_CLIENT_SECRET",
        "environment_api_key": "USERFLUX_METRICS_API_KEY",
    },
)
