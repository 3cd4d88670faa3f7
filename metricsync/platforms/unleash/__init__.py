"""Unleash client metrics: `unleash/usage` payloads, validated and sent only on request."""

import re

from metricsync.platforms.base import Lazy, NextSteps, Platform
from metricsync.platforms.unleash.commands import unleash_group
from metricsync.platforms.unleash.kinds import NAME, USAGE

PLATFORM = Platform(
    name=NAME,
    kinds=(USAGE,),
    secrets=("api_token",),
    endpoint_key="url",
    default_endpoint=None,
    sandbox_path="/api",
    settings_defaults=(("app_name", "metricsync"),),
    secret_shapes=(
        (re.compile(r"^[*\w-]+:[\w-]+\.[0-9a-f]{32,}$"), "this looks like an Unleash token"),
    ),
    emulator=Lazy("metricsync.platforms.unleash.sandbox.emulator", "Unleash"),
    example_variables={"api_token": "UNLEASH_BACKEND_TOKEN"},
    commands=(unleash_group,),
    next_steps=NextSteps(
        rehearse=(("metricsync unleash validate", "check the usage payloads (offline)"),),
    ),
)
