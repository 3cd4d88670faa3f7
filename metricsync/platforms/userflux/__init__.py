"""UserFlux Metrics API: `userflux/query` definitions are run as checks, never planned."""

from metricsync.platforms.base import Lazy, NextSteps, Platform
from metricsync.platforms.userflux.commands import query_command
from metricsync.platforms.userflux.kinds import NAME, QUERY

PLATFORM = Platform(
    name=NAME,
    kinds=(QUERY,),
    secrets=("client_secret", "environment_api_key"),
    endpoint_key="base_url",
    default_endpoint="https://metrics-api.userflux.co",
    verifier=Lazy("metricsync.platforms.userflux.verifier", "QueryVerifier"),
    emulator=Lazy("metricsync.platforms.userflux.sandbox.emulator", "UserFlux"),
    example_variables={
        "client_secret": "USERFLUX_CLIENT_SECRET",
        "environment_api_key": "USERFLUX_METRICS_API_KEY",
    },
    commands=(query_command,),
    next_steps=NextSteps(
        rehearse=(("metricsync verify --sandbox", "run the queries against the sandbox"),),
        live=(("metricsync verify", "run the queries on UserFlux"),),
    ),
)
