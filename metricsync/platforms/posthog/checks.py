"""Checks of PostHog's saved-metric rules that a schema cannot express
(docs/platforms/posthog.md)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from metricsync.definitions import Definition
from metricsync.platforms.base import Finding, checks

LEGACY_KINDS = ("ExperimentTrendsQuery", "ExperimentFunnelsQuery")
REQUIRED = {
    "mean": ("source",),
    "funnel": ("series",),
    "ratio": ("numerator", "denominator"),
    "retention": (
        "start_event",
        "completion_event",
        "retention_window_start",
        "retention_window_end",
        "retention_window_unit",
        "start_handling",
    ),
}
QUERY = ("spec", "query")
MAX_NAME = 400  # the server's CharField(max_length=400), counted after trimming


def _name(d: Definition) -> Iterator[Finding]:
    """PostHog trims a name before storing it and refuses one over 400 characters, so a name
    with outer whitespace would never match its live twin (a create refused as a duplicate on
    every run) and an over-long one would fail at apply."""
    for where, name in (
        (("name",), d.name),
        *(
            (("lifecycle", "renamed_from", i), old)
            for i, old in enumerate(d.lifecycle.renamed_from)
        ),
    ):
        if name != name.strip():
            yield Finding(
                d,
                where,
                f"PostHog trims leading and trailing whitespace from names, so {name!r} is "
                f"stored as {name.strip()!r}: write it that way",
            )
        if len(name.strip()) > MAX_NAME:
            yield Finding(
                d,
                where,
                f"PostHog names are at most {MAX_NAME} characters; this one has "
                f"{len(name.strip())}",
            )


def _query_shape(d: Definition) -> Iterator[Finding]:
    query: Mapping[str, Any] = d.spec.get("query") or {}
    metric_type = query.get("metric_type")
    for key in REQUIRED.get(str(metric_type), ()):
        if key not in query:
            yield Finding(d, QUERY, f"a {metric_type} metric needs query.{key}")
    if metric_type == "funnel" and "series" in query and not query["series"]:
        yield Finding(d, (*QUERY, "series"), "a funnel metric needs at least one step in series")
    if "conversion_window" in query and "conversion_window_unit" not in query:
        yield Finding(
            d,
            (*QUERY, "conversion_window"),
            "conversion_window is set but conversion_window_unit is missing",
        )


def _threshold(d: Definition) -> Iterator[Finding]:
    query: Mapping[str, Any] = d.spec.get("query") or {}
    if query.get("metric_type") != "mean" or query.get("threshold") is None:
        return  # null is how the API says "no threshold"
    where = (*QUERY, "threshold")
    math = (query.get("source") or {}).get("math")
    if math not in ("sum", "total"):
        yield Finding(d, where, f"a threshold needs source.math sum or total, not {math!r}")
    if not isinstance(query["threshold"], int | float) or query["threshold"] <= 0:
        yield Finding(d, where, "threshold must be greater than 0")
    for bound in ("lower_bound_percentile", "upper_bound_percentile"):
        if query.get(bound) is not None:
            yield Finding(d, (*QUERY, bound), f"{bound} cannot be combined with threshold")


def _exposure_start(d: Definition) -> Iterator[Finding]:
    """A retention window that starts at the experiment's exposure takes neither a conversion
    window nor `last_seen`: PostHog refuses both, as settings its query engine would ignore."""
    query: Mapping[str, Any] = d.spec.get("query") or {}
    start = query.get("start_event")
    if query.get("metric_type") != "retention" or not isinstance(start, Mapping):
        return
    if start.get("kind") != "ExperimentExposureNode":
        return
    for key in ("conversion_window", "conversion_window_unit"):
        if query.get(key) is not None:
            yield Finding(
                d,
                (*QUERY, key),
                f"{key} cannot be combined with an experiment exposure start: retention "
                "already counts from each user's first exposure",
            )
    if query.get("start_handling") == "last_seen":
        yield Finding(
            d,
            (*QUERY, "start_handling"),
            "start_handling last_seen cannot be combined with an experiment exposure start: "
            "use first_seen",
        )


def _legacy(d: Definition) -> Iterator[Finding]:
    kind = (d.spec.get("query") or {}).get("kind")
    if kind in LEGACY_KINDS:
        yield Finding(
            d,
            (*QUERY, "kind"),
            f"legacy metric kind {kind!r} is no longer supported by PostHog; "
            "use 'ExperimentMetric'",
        )


check_saved_metrics = checks(_name, _legacy, _query_shape, _threshold, _exposure_start)
