"""The platform registry: the one place that lists every platform metricsync supports."""

from __future__ import annotations

from metricsync.platforms import posthog, statsig, unleash, userflux
from metricsync.platforms.base import Kind, Platform

PLATFORMS: dict[str, Platform] = {
    p.name: p for p in (statsig.PLATFORM, posthog.PLATFORM, userflux.PLATFORM, unleash.PLATFORM)
}
KINDS: dict[str, Kind] = {k.name: k for p in PLATFORMS.values() for k in p.kinds}
PLATFORM_OF_KIND: dict[str, Platform] = {k.name: p for p in PLATFORMS.values() for k in p.kinds}
