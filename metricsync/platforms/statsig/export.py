"""Statsig metrics as definitions: the inverse of `from_payload`, for `metricsync import`.

The spec keeps what a person would write: server fields, empty values and the defaults the
normalisation rules fill in are left out, so the definition plans to zero changes.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Any

from metricsync.live import LiveObject
from metricsync.normalise import Rules, normalise

# The order a person reads a metric in: what it is, who sees it, then how it is computed.
# Only these keys are written: the schema refuses anything else in spec.
SPEC_KEYS = (
    "type", "description", "directionality", "unitTypes", "tags", "isVerified", "isReadOnly",
    "isPermanent", "team", "teamID", "metricEvents", "metricComponentMetrics",
    "funnelCountDistinct", "funnelEventList", "rollupTimeWindow", "customRollUpStart",
    "customRollUpEnd", "warehouseNative",
)  # fmt: skip
EVENT_KEYS = ("name", "type", "metadataKey", "criteria")
COMPONENT_KEYS = ("name", "type")
CRITERION_KEYS = ("type", "column", "condition", "values", "nullVacuousOverride")
WAREHOUSE_KEYS = (
    "aggregation", "metricSourceName", "valueColumn", "criteria", "metricDimensionColumns",
    "waitForCohortWindow", "rollupTimeWindow", "denominatorAggregation",
    "denominatorMetricSourceName", "denominatorValueColumn", "denominatorCriteria",
    "denominatorRollupTimeWindow", "denominatorCustomRollupStart", "denominatorCustomRollupEnd",
    "funnelEvents", "funnelCountDistinct", "funnelStartCriteria", "winsorizationHigh",
    "winsorizationLow", "cap", "cupedAttributionWindow",
)  # fmt: skip


_NO = object()  # a default no value can equal


@functools.cache
def _defaults() -> Mapping[str, Any]:
    # Imported on first use: the provider module pulls in httpx, and `validate` imports this
    # module through the platform registry without ever needing it.
    from metricsync.platforms.statsig.provider import RULES

    return RULES.defaults


def to_spec(live: LiveObject) -> dict[str, Any]:
    """The definition spec of a live metric, keys in SPEC_KEYS order. Unknown top-level keys
    are extra server fields and are left out; unknown nested keys are kept for validation to
    name them."""
    spec = normalise(live.spec, Rules())  # a copy without empty values, as the diff sees it
    defaults = _defaults()
    kept = {k: v for k, v in spec.items() if k in SPEC_KEYS and defaults.get(k, _NO) != v}
    ordered = _pick(kept, SPEC_KEYS)
    for key in ("metricEvents", "funnelEventList"):
        if key in ordered:
            ordered[key] = [_event(event) for event in ordered[key]]
    if "metricComponentMetrics" in ordered:
        ordered["metricComponentMetrics"] = [
            _pick(c, COMPONENT_KEYS) for c in ordered["metricComponentMetrics"]
        ]
    if "warehouseNative" in ordered:
        ordered["warehouseNative"] = _warehouse(ordered["warehouseNative"])
    return ordered


def _event(event: Mapping[str, Any]) -> dict[str, Any]:
    picked = _pick(event, EVENT_KEYS)
    if "criteria" in picked:
        picked["criteria"] = _criteria(picked["criteria"])
    return picked


def _warehouse(native: Mapping[str, Any]) -> dict[str, Any]:
    picked = _pick(native, WAREHOUSE_KEYS)
    for key in ("criteria", "denominatorCriteria"):
        if key in picked:
            picked[key] = _criteria(picked[key])
    return picked


def _criteria(criteria: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [_pick(criterion, CRITERION_KEYS) for criterion in criteria]


def _pick(value: Mapping[str, Any], order: tuple[str, ...]) -> dict[str, Any]:
    """`value` with the keys of `order` first, in that order, then any others as they came."""
    first = {key: value[key] for key in order if key in value}
    return first | {key: item for key, item in value.items() if key not in first}
