"""Checks of the Unleash server's own rules on top of its published client-metrics schema
(docs/sandbox/unleash.md)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from metricsync.definitions import Definition
from metricsync.platforms.base import Finding, checks


def timestamp(value: Any) -> datetime | None:
    """A bucket time as the server reads it: RFC 3339 text, or an integer of milliseconds."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return datetime.fromtimestamp(value / 1000, UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.upper().replace("Z", "+00:00"))  # RFC 3339 t, z
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def payload_findings(
    payload: Mapping[str, Any],
) -> Iterator[tuple[tuple[str | int, ...], str, bool]]:
    """(path inside the payload, message, is_warning) for every server-rule violation."""
    if isinstance(payload.get("appName"), str) and not payload["appName"].strip():
        yield ("appName",), "appName must not be empty", False
    bucket = payload.get("bucket")
    if not isinstance(bucket, Mapping):
        return
    start, stop = timestamp(bucket.get("start")), timestamp(bucket.get("stop"))
    for key, parsed in (("start", start), ("stop", stop)):
        if parsed is None and key in bucket:
            yield (
                ("bucket", key),
                f"bucket.{key} is not an RFC 3339 date-time or epoch milliseconds",
                False,
            )
    if start and stop and stop <= start:
        yield ("bucket", "stop"), "bucket.stop must be after bucket.start", False
    if isinstance(bucket.get("start"), int) and bucket["start"] < 10**11:
        yield (
            ("bucket", "start"),
            "integer timestamps are milliseconds; this looks like seconds",
            True,
        )
    for flag, counts in (bucket.get("toggles") or {}).items():
        if isinstance(counts, Mapping) and not counts.get("yes") and not counts.get("no"):
            yield (
                ("bucket", "toggles", flag),
                f"toggle {flag!r} has no counts; Unleash drops it",
                True,
            )


def _server_rules(d: Definition) -> Iterator[Finding]:
    for path, message, warning in payload_findings(d.spec):
        yield Finding(d, ("spec", *path), message, "warning" if warning else "error")


check_usage = checks(_server_rules)
