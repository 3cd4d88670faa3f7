"""UserFlux Metrics API: `userflux/query` definitions are run as checks, never planned."""

from metricsync.platforms.base import Kind, Platform
from metricsync.platforms.userflux.checks import check_queries

QUERY = Kind("userflux/query", "userflux/query.schema.json", check_queries)

PLATFORM = Platform(
    name="userflux",
    kinds=(QUERY,),
    secrets=("client_secret", "environment_api_key"),
    endpoint_key="base_url",
    default_endpoint="https://metrics-api.userflux.co",
)
