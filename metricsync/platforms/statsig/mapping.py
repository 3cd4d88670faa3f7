"""Statsig metrics, pure translation: definitions to Console API bodies and back, the
normalisation that makes both sides compare equal, and live metrics as definitions for
`metricsync import` (docs/platforms/statsig.md). No I/O: the transport is `provider.py`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from metricsync.definitions import Definition
from metricsync.diff import Reference
from metricsync.live import LiveObject
from metricsync.normalise import Normalisation, desired_document, normalise, without_ignored

KIND = "statsig/metric"
CREATE_TYPES = frozenset(
    {"ratio", "mean", "event_count_custom", "event_user", "funnel", "composite",
     "composite_sum", "sum", "undefined", "user_warehouse", "percentile"}
)  # fmt: skip
SERVER_FIELDS = frozenset(
    {"id", "name", "isHidden", "lineage", "creatorName", "creatorEmail", "createdTime",
     "lastModifierID", "lastModifiedTime", "lastModifierEmail", "lastModifierName", "owner"}
)  # fmt: skip
# Every spec field a definition may set (the schema's spec properties that are not server-set).
MANAGED_FIELDS = (
    "customRollUpEnd", "customRollUpStart", "description", "directionality",
    "funnelCountDistinct", "funnelEventList", "isPermanent", "isReadOnly", "isVerified",
    "metricComponentMetrics", "metricEvents", "rollupTimeWindow", "tags", "team", "teamID",
    "type", "unitTypes", "warehouseNative",
)  # fmt: skip
NORMALISATION = Normalisation(
    drop=tuple(sorted(SERVER_FIELDS)),  # never compared; skipped while normalising
    defaults={
        "directionality": "increase",
        "isPermanent": False,
        "isReadOnly": False,
        "isVerified": False,
    },
    sets=(
        "tags",
        "unitTypes",
        "metricEvents.*.criteria.*.values",
        "funnelEventList.*.criteria.*.values",
    ),
    listify=("tags",),
)
# Create fields that Statsig's update contract does not list: whether an update applies or drops
# them is unconfirmed (docs/platforms/statsig.md), so an update's answer is checked for them.
CREATE_ONLY = (
    "metricEvents", "metricComponentMetrics", "rollupTimeWindow", "customRollUpStart",
    "customRollUpEnd", "funnelEventList", "funnelCountDistinct",
)  # fmt: skip


def from_payload(raw: Mapping[str, Any], owner_tag: str) -> LiveObject:
    tags = raw.get("tags") or []
    if isinstance(tags, str):
        tags = [tags]
    spec = dict(raw)  # the few server fields read (id, lastModifiedTime) stay: normalised away
    spec["tags"] = [t for t in tags if t != owner_tag]
    # positional: a NamedTuple built from keywords costs twice as much, per live object
    owned, generated = owner_tag in tags, raw.get("type") not in CREATE_TYPES
    return LiveObject(KIND, str(raw["id"]), str(raw["name"]), spec, owned, generated, False, raw)


def to_payload(definition: Definition, owner_tag: str, *, update: bool = False) -> dict[str, Any]:
    """The create (or update) body; the ownership marker is always among the tags."""
    # ignored fields are written once, on create; after that the platform UI owns them
    ignored = definition.lifecycle.ignore_changes if update else ()
    body = without_ignored(desired_document(definition.spec, NORMALISATION), ignored)
    tags = body.get("tags", [])
    tags = [tags] if isinstance(tags, str) else list(tags)
    body["tags"] = [*tags, owner_tag] if owner_tag not in tags else tags
    body["name"] = definition.name
    if update:
        body.pop("type", None)  # not in the update DTO, and part of the id
    return body


def components(spec: Mapping[str, Any]) -> list[Reference]:
    """A composite's components, by name: the metrics it is computed from."""
    return [
        Reference(str(c["name"]), ("metricComponentMetrics", i))
        for i, c in enumerate(spec.get("metricComponentMetrics") or [])
        if isinstance(c, Mapping) and "name" in c
    ]


# Live metrics as definitions (`import`): the inverse of `from_payload`. The spec keeps what a
# person would write: server fields, empty values and the defaults NORMALISATION fills in are
# left out, so the definition plans to zero changes.

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


def to_spec(live: LiveObject) -> dict[str, Any]:
    """The definition spec of a live metric, keys in SPEC_KEYS order. Unknown top-level keys
    are extra server fields and are left out; unknown nested keys are kept for validation to
    name them."""
    spec = normalise(live.spec, Normalisation())  # a copy without empty values, as the diff sees it
    defaults = NORMALISATION.defaults
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
