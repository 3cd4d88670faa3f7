"""PostHog saved metrics, pure translation (no I/O; the transport is `provider.py`): API bodies
in and out, the normalisation that makes both sides compare equal, posthog-definitions' marker,
and live metrics as definitions for `metricsync import` (docs/platforms/posthog.md)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from metricsync.definitions import Definition
from metricsync.live import LiveObject
from metricsync.normalise import Normalisation, desired_document, normalise, without_ignored
from metricsync.ownership import Claim

KIND = "posthog/saved_metric"
LEGACY_KINDS = frozenset({"ExperimentTrendsQuery", "ExperimentFunnelsQuery"})
NODES = ("source", "numerator", "denominator", "start_event", "completion_event")
# The fields a definition sets.
MANAGED_FIELDS = ("description", "query", "tags")
# PostHog's own IaC tool, posthog-definitions, marks each saved metric it manages with a trailing
# HTML comment in the description, `<!-- iac:experiment-saved-metrics:<key> iac:hash:<hash> -->`
# (src/resources/experiment-saved-metric/pipeline.ts): that object is another tool's.
DEFINITIONS_OWNER = "posthog-definitions"
DEFINITIONS_MARKER = re.compile(
    r"\n*<!--\s*iac:experiment-saved-metrics:\S+\s+iac:hash:\S+\s*-->\s*$"
)


def _forget_action_names(spec: dict[str, Any]) -> None:
    """The server replaces ActionsNode names with the action's current name on every read."""
    query = spec.get("query")
    if not isinstance(query, dict):
        return
    nodes = [query.get(k) for k in NODES] + list(query.get("series") or [])
    for node in nodes:
        if isinstance(node, dict) and node.get("kind") == "ActionsNode":
            node.pop("name", None)


def _trim_description(spec: dict[str, Any]) -> None:
    """The server trims the description as a DRF CharField, so a YAML literal block's final
    newline never comes back."""
    if isinstance(spec.get("description"), str):
        spec["description"] = spec["description"].strip()


# `description` is managed only when a definition writes it; `null` and "" both mean "no
# description" and are compared as "", so one that is still set live shows as a change.
NORMALISATION = Normalisation(
    drop=("query.uuid", "query.fingerprint"),
    lowercase=("tags",),
    rewrites=(_forget_action_names, _trim_description),
    blank=("description",),
)


def definitions_claim(spec: Mapping[str, Any]) -> Claim | None:
    """posthog-definitions' marker in the description; the spec keeps the text before it."""
    description = spec.get("description")
    found = DEFINITIONS_MARKER.search(description) if isinstance(description, str) else None
    if found is None:
        return None
    assert isinstance(description, str)
    return Claim(DEFINITIONS_OWNER, {**spec, "description": description[: found.start()].rstrip()})


def is_legacy(query: Mapping[str, Any]) -> bool:
    """Only a legacy query *kind* stops PostHog from updating a metric (the server's
    `saved_metric_has_legacy_query`); an early-2025 ExperimentMetric is PATCHed like any other,
    and replacing it would unlink it from every experiment (docs/platforms/posthog.md)."""
    return query.get("kind") in LEGACY_KINDS


def from_payload(raw: Mapping[str, Any], owner_tag: str) -> LiveObject:
    tags = [str(t).strip().lower() for t in raw.get("tags") or []]
    query = raw.get("query") or {}
    spec = {
        "description": raw.get("description"),
        "query": query,
        "tags": [t for t in tags if t != owner_tag],
    }
    # positional: a NamedTuple built from keywords costs twice as much, per live object
    owned, legacy = owner_tag in tags, is_legacy(query)
    return LiveObject(KIND, str(raw["id"]), str(raw["name"]), spec, owned, False, legacy, raw)


def to_payload(
    definition: Definition, owner_tag: str | None, *, update: bool = False
) -> dict[str, Any]:
    """The create or PATCH body; `owner_tag` None when the project does not keep tags."""
    # ignored fields are written once, on create; after that the platform UI owns them
    ignored = definition.lifecycle.ignore_changes if update else ()
    body = without_ignored(desired_document(definition.spec, NORMALISATION), ignored)
    body["name"] = definition.name
    if "description" in body and not body["description"]:
        # Older servers ignore `description: null`, the newest clear it; "" clears on every one.
        body["description"] = ""
    if owner_tag is not None:
        tags = [str(t).strip().lower() for t in body.get("tags", [])]
        body["tags"] = [*tags, owner_tag] if owner_tag not in tags else tags
    else:
        body.pop("tags", None)
    return body


# Live metrics as definitions (`import`), the inverse of `from_payload`. PostHog stores a query
# verbatim, so it is kept as is but for what the server adds (`uuid`, action names) and empty
# values. Older queries are rewritten in the current ExperimentMetric format by PostHog's own
# migration rules: a legacy query kind, which PostHog can no longer update, so that the
# definition can replace it; an early-2025 ExperimentMetric (`count`/`continuous`,
# `metric_config`), so that the next apply updates it in place (docs/platforms/posthog.md).

SPEC_KEYS = ("description", "tags", "query")
# Settings first, then the events they apply to: the order PostHog's own examples use.
QUERY_KEYS = (
    "kind", "metric_type", "name", "goal", "conversion_window", "conversion_window_unit",
    "funnel_order_type", "lower_bound_percentile", "upper_bound_percentile", "ignore_zeros",
    "threshold", "retention_window_start", "retention_window_end", "retention_window_unit",
    "start_handling", "source", "series", "numerator", "denominator",
    "numerator_outlier_handling", "denominator_outlier_handling", "start_event",
    "completion_event", "breakdownFilter", "isSharedMetric", "sharedMetricId", "version",
    "response",
)  # fmt: skip
NODE_KEYS = (
    "kind", "event", "id", "table_name", "timestamp_field", "events_join_key",
    "data_warehouse_join_key", "name", "custom_name", "math", "math_property",
    "math_property_type", "math_property_revenue_currency", "math_hogql", "math_group_type_index",
    "math_multiplier", "optionalInFunnel", "properties", "fixedProperties", "limit", "orderBy",
    "version", "response",
)  # fmt: skip
FILTER_KEYS = ("key", "value", "operator", "type", "label", "group_type_index", "cohort_name")
OUTLIER_KEYS = ("lower_bound_percentile", "upper_bound_percentile", "ignore_zeros")
BREAKDOWN_FILTER_KEYS = (
    "breakdowns", "breakdown", "breakdown_type", "breakdown_limit", "breakdown_normalize_url",
    "breakdown_group_type_index", "breakdown_histogram_bin_count",
    "breakdown_hide_other_aggregation", "breakdown_path_cleaning",
)  # fmt: skip
BREAKDOWN_KEYS = ("property", "type", "normalize_url", "group_type_index", "histogram_bin_count")
OUTLIERS = ("numerator_outlier_handling", "denominator_outlier_handling")
# Early-2025 `metric_config` objects and the query nodes that replaced them: node kind, the
# config key holding the event or action, and that key's name on the node.
CONFIG_NODES = {
    "ExperimentEventMetricConfig": ("EventsNode", "event", "event"),
    "ExperimentActionMetricConfig": ("ActionsNode", "action", "id"),
    "ExperimentDataWarehouseMetricConfig": ("ExperimentDataWarehouseNode", "", ""),
}
CARRIED = ("name", "goal", "conversion_window", "conversion_window_unit")
OLD_METRIC_TYPES = ("count", "continuous")


# Tags arrive lower-cased from `from_payload`; their order is kept as the server gave it.
IMPORT_NORMALISATION = Normalisation(drop=NORMALISATION.drop, rewrites=NORMALISATION.rewrites)


def to_spec(live: LiveObject) -> dict[str, Any]:
    """The definition spec of a live saved metric: description, tags, then the query."""
    spec = dict(live.spec)
    query = spec.get("query") or {}
    if live.legacy or is_old_format(query):
        spec["query"] = current_query(query)
    spec = normalise(spec, IMPORT_NORMALISATION)  # without uuid, action names and empty values
    if "query" in spec:
        spec["query"] = _query(spec["query"])
    return _pick(spec, SPEC_KEYS)


def is_old_format(query: Mapping[str, Any]) -> bool:
    """An early-2025 ExperimentMetric (`count`/`continuous`, or a `metric_config`): PostHog
    still updates it in place, so it is not legacy, but it is imported in the current format."""
    return query.get("kind") == "ExperimentMetric" and (
        query.get("metric_type") in OLD_METRIC_TYPES or "metric_config" in query
    )


def current_query(query: Mapping[str, Any]) -> Mapping[str, Any]:
    """A legacy query in the ExperimentMetric format, following PostHog's own migration
    (`convert_legacy_metric`); a shape it does not know is returned unchanged."""
    kind = query.get("kind")
    new: dict[str, Any] | None = None
    if kind == "ExperimentFunnelsQuery":
        steps = (query.get("funnels_query") or {}).get("series") or []
        new = {"series": [_without(s, "name") for s in steps if s], "metric_type": "funnel"}
    elif kind == "ExperimentTrendsQuery":
        series = [s for s in (query.get("count_query") or {}).get("series") or [] if s]
        source = _without(series[0], "math_property_type") if series else None
        if source is not None and "math" not in source:
            source.pop("name", None)
        new = {"source": source, "metric_type": "mean"} if source else None
    elif query.get("metric_type") == "funnel" and query.get("series"):
        new = {"series": query["series"], "metric_type": "funnel"}
    elif isinstance(query.get("metric_config"), Mapping):
        source = _config_node(query["metric_config"])
        new = {"source": source, "metric_type": "mean"} if source else None
    if new is None:
        return query
    carried = {key: query[key] for key in CARRIED if query.get(key) is not None}
    return {"kind": "ExperimentMetric", **new, **carried}


def _config_node(config: Mapping[str, Any]) -> dict[str, Any] | None:
    found = CONFIG_NODES.get(str(config.get("kind")))
    if found is None:
        return None
    kind, config_key, node_key = found
    node = {"kind": kind, **{k: v for k, v in config.items() if k not in ("kind", config_key)}}
    if config_key:
        node[node_key] = config.get(config_key)
    return node


def _query(query: Mapping[str, Any]) -> dict[str, Any]:
    ordered = _pick(query, QUERY_KEYS)
    for key in NODES:
        if isinstance(ordered.get(key), Mapping):
            ordered[key] = _node(ordered[key])
    if isinstance(ordered.get("series"), list):
        ordered["series"] = [_node(step) for step in ordered["series"]]
    for key in OUTLIERS:
        if isinstance(ordered.get(key), Mapping):
            ordered[key] = _pick(ordered[key], OUTLIER_KEYS)
    if isinstance(ordered.get("breakdownFilter"), Mapping):
        ordered["breakdownFilter"] = _breakdown_filter(ordered["breakdownFilter"])
    return ordered


def _node(node: Any) -> Any:
    if not isinstance(node, Mapping):
        return node  # not a node at all: left for validation to name
    picked = _pick(node, NODE_KEYS)
    for key in ("properties", "fixedProperties"):
        if isinstance(picked.get(key), list):
            picked[key] = [_filter(f) for f in picked[key]]
    return picked


def _filter(value: Any) -> Any:
    return _pick(value, FILTER_KEYS) if isinstance(value, Mapping) else value


def _breakdown_filter(value: Mapping[str, Any]) -> dict[str, Any]:
    picked = _pick(value, BREAKDOWN_FILTER_KEYS)
    if isinstance(picked.get("breakdowns"), list):
        picked["breakdowns"] = [
            _pick(b, BREAKDOWN_KEYS) if isinstance(b, Mapping) else b for b in picked["breakdowns"]
        ]
    return picked


def _without(value: Mapping[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in value.items() if k != key}


def _pick(value: Mapping[str, Any], order: tuple[str, ...]) -> dict[str, Any]:
    """`value` with the keys of `order` first, in that order, then any others as they came."""
    first = {key: value[key] for key in order if key in value}
    return first | {key: item for key, item in value.items() if key not in first}
