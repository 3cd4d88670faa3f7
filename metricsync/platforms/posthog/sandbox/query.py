"""PostHog `ExperimentMetric` queries (docs/platforms/posthog.md#the-query-schema): the schema
check with its pydantic-style error list, the semantic rules that follow it, and the server's
rewrites of a stored query (`uuid`, action names). Everything else in a query is stored verbatim."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any

Loc = tuple[str | int, ...]
Err = dict[str, Any]
Check = Callable[[Any, Loc, list[Err]], None]

PREFIX = "Invalid metric: "
LEGACY_KINDS = ("ExperimentTrendsQuery", "ExperimentFunnelsQuery")
NODE_KINDS = ("EventsNode", "ActionsNode", "ExperimentDataWarehouseNode")
MAX_LISTED_ERRORS = 15
REQUIRED = "Query is required to create a saved metric"
UUID_CHANGED = "Saved metric UUID cannot be changed"
LEGACY_UPDATE = (
    "This saved metric uses a legacy query format and cannot be updated. "
    "Please create a new saved metric with the ExperimentMetric format instead."
)
ACTIONS_HINT = " Hint: an EventsNode has no 'id'; reference an action with an ActionsNode."


class QueryError(Exception):
    """The query is refused; `detail` is the whole message (one error per response)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def _simple(kind: str, msg: str, accepts: Callable[[Any], bool]) -> Check:
    def check(value: Any, loc: Loc, errors: list[Err]) -> None:
        if not accepts(value):
            errors.append({"loc": loc, "type": kind, "msg": msg})

    return check


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


STR = _simple("string_type", "Input should be a valid string", lambda v: isinstance(v, str))
NUM = _simple("float_type", "Input should be a valid number", _is_number)
INT = _simple(
    "int_type", "Input should be a valid integer", lambda v: _is_number(v) and v == int(v)
)
BOOL = _simple("bool_type", "Input should be a valid boolean", lambda v: isinstance(v, bool))
DICT = _simple("dict_type", "Input should be a valid dictionary", lambda v: isinstance(v, dict))


def enum(*options: Any) -> Check:
    quoted = [repr(option) for option in options]
    msg = f"Input should be {', '.join(quoted[:-1])} or {quoted[-1]}"
    return _simple("enum", msg, lambda v: not isinstance(v, list | dict) and v in options)


def optional(check: Check) -> Check:
    def parse(value: Any, loc: Loc, errors: list[Err]) -> None:
        if value is not None:
            check(value, loc, errors)

    return parse


def between(check: Check, low: float, high: float) -> Check:
    def parse(value: Any, loc: Loc, errors: list[Err]) -> None:
        before = len(errors)
        check(value, loc, errors)
        if len(errors) > before:
            return
        if value < low:
            msg = f"Input should be greater than or equal to {low}"
            errors.append({"loc": loc, "type": "greater_than_equal", "msg": msg})
        elif value > high:
            msg = f"Input should be less than or equal to {high}"
            errors.append({"loc": loc, "type": "less_than_equal", "msg": msg})

    return parse


def list_of(item: Check) -> Check:
    def parse(value: Any, loc: Loc, errors: list[Err]) -> None:
        if not isinstance(value, list):
            errors.append({"loc": loc, "type": "list_type", "msg": "Input should be a valid list"})
            return
        for index, entry in enumerate(value):
            item(entry, (*loc, index), errors)

    return parse


def model(name: str, fields: Mapping[str, Check], required: tuple[str, ...] = ()) -> Check:
    """A pydantic model with `extra="forbid"`: fields in declaration order, then unknown keys."""

    def parse(value: Any, loc: Loc, errors: list[Err]) -> None:
        if not isinstance(value, dict):
            msg = f"Input should be a valid dictionary or instance of {name}"
            errors.append({"loc": loc, "type": "model_type", "msg": msg})
            return
        for key, check in fields.items():
            if key in value:
                check(value[key], (*loc, key), errors)
            elif key in required:
                errors.append({"loc": (*loc, key), "type": "missing", "msg": "Field required"})
        for key in value:
            if key not in fields:
                msg = "Extra inputs are not permitted"
                errors.append({"loc": (*loc, key), "type": "extra_forbidden", "msg": msg})

    return parse


def _property_filter(value: Any, loc: Loc, errors: list[Err]) -> None:
    """Property filters are checked for shape only: an object with a `key`, or an empty one
    (the schema's EmptyPropertyFilter, a filter row left blank)."""
    DICT(value, loc, errors)
    if isinstance(value, dict) and value and "key" not in value:
        errors.append({"loc": (*loc, "key"), "type": "missing", "msg": "Field required"})


MATH = (
    "total", "dau", "weekly_active", "monthly_active", "unique_session", "first_time_for_user",
    "first_matching_event_for_user", "avg", "sum", "min", "max", "median", "p75", "p90", "p95",
    "p99", "avg_count_per_actor", "min_count_per_actor", "max_count_per_actor",
    "median_count_per_actor", "p75_count_per_actor", "p90_count_per_actor",
    "p95_count_per_actor", "p99_count_per_actor", "unique_group", "hogql",
)  # fmt: skip
ENTITY: dict[str, Check] = {
    "custom_name": optional(STR),
    "name": optional(STR),
    "math": optional(enum(*MATH)),
    "math_property": optional(STR),
    "math_property_type": optional(STR),
    "math_hogql": optional(STR),
    "math_group_type_index": optional(enum(0, 1, 2, 3, 4)),
    "math_multiplier": optional(NUM),
    "math_property_revenue_currency": optional(
        model("RevenueCurrencyPropertyConfig", {"property": optional(STR), "static": optional(STR)})
    ),
    "optionalInFunnel": optional(BOOL),
    "properties": optional(list_of(_property_filter)),
    "fixedProperties": optional(list_of(_property_filter)),
    "limit": optional(INT),
    "orderBy": optional(list_of(STR)),
    "version": optional(NUM),
    "response": optional(DICT),
}
WAREHOUSE_KEYS = ("table_name", "timestamp_field", "events_join_key", "data_warehouse_join_key")
NODES: dict[str, Check] = {
    "EventsNode": model("EventsNode", {"kind": STR, "event": optional(STR), **ENTITY}),
    "ActionsNode": model("ActionsNode", {"kind": STR, "id": INT, **ENTITY}, ("id",)),
    "ExperimentDataWarehouseNode": model(
        "ExperimentDataWarehouseNode",
        {"kind": STR, **{key: STR for key in WAREHOUSE_KEYS}, **ENTITY},
        WAREHOUSE_KEYS,
    ),
}


EXPOSURE = model(
    "ExperimentExposureNode", {"kind": STR, "version": optional(NUM), "response": optional(DICT)}
)


def retention_start(value: Any, loc: Loc, errors: list[Err]) -> None:
    """A retention start: any node, or the experiment's exposure (`ExperimentExposureNode`)."""
    if isinstance(value, dict) and value.get("kind") == "ExperimentExposureNode":
        EXPOSURE(value, (*loc, "ExperimentExposureNode"), errors)
    else:
        node(value, loc, errors, exposure=True)


def node(value: Any, loc: Loc, errors: list[Err], exposure: bool = False) -> None:
    """A union tagged by `kind`; pydantic puts the tag into the location of inner errors."""
    if not isinstance(value, dict):
        msg = "Input should be a valid dictionary or object to extract fields from"
        errors.append({"loc": loc, "type": "model_attributes_type", "msg": msg})
    elif "kind" not in value:
        msg = "Unable to extract tag using discriminator 'kind'"
        errors.append({"loc": loc, "type": "union_tag_not_found", "msg": msg})
    elif value["kind"] not in NODES:
        kinds = [*NODES, "ExperimentExposureNode"] if exposure else list(NODES)
        expected = ", ".join(f"'{kind}'" for kind in kinds)
        msg = (
            f"Input tag '{value['kind']}' found using 'kind' does not match any of the "
            f"expected tags: {expected}"
        )
        errors.append({"loc": loc, "type": "union_tag_invalid", "msg": msg})
    else:
        NODES[value["kind"]](value, (*loc, value["kind"]), errors)


UNITS = ("second", "minute", "hour", "day", "week", "month")
COMMON: dict[str, Check] = {
    "kind": STR,
    "metric_type": STR,
    "name": optional(STR),
    "goal": optional(enum("increase", "decrease")),
    "conversion_window": optional(INT),
    "conversion_window_unit": optional(enum(*UNITS)),
    "breakdownFilter": optional(DICT),
    "isSharedMetric": optional(BOOL),
    "sharedMetricId": optional(NUM),
    "version": optional(NUM),
    "response": optional(DICT),
    "uuid": optional(STR),
    "fingerprint": optional(STR),
}
SHARE = between(NUM, 0, 1)
METRICS: dict[str, Check] = {
    "mean": model(
        "ExperimentMeanMetric",
        {
            **COMMON,
            "source": node,
            "lower_bound_percentile": optional(SHARE),
            "upper_bound_percentile": optional(SHARE),
            "ignore_zeros": optional(BOOL),
            "threshold": optional(NUM),
        },
        ("source",),
    ),
    "funnel": model(
        "ExperimentFunnelMetric",
        {
            **COMMON,
            "series": list_of(node),
            "funnel_order_type": optional(enum("strict", "unordered", "ordered")),
        },
        ("series",),
    ),
    "ratio": model(
        "ExperimentRatioMetric",
        {
            **COMMON,
            "numerator": node,
            "denominator": node,
            "numerator_outlier_handling": optional(DICT),
            "denominator_outlier_handling": optional(DICT),
        },
        ("numerator", "denominator"),
    ),
    "retention": model(
        "ExperimentRetentionMetric",
        {
            **COMMON,
            "start_event": retention_start,
            "completion_event": node,
            "retention_window_start": INT,
            "retention_window_end": INT,
            "retention_window_unit": enum(*UNITS),
            "start_handling": enum("first_seen", "last_seen"),
        },
        (
            "start_event",
            "completion_event",
            "retention_window_start",
            "retention_window_end",
            "retention_window_unit",
            "start_handling",
        ),
    ),
}


def validate(query: Any, action_exists: Callable[[int], bool]) -> None:
    """Raises QueryError with the first problem, in the order the API checks them."""
    if not query:
        raise QueryError(REQUIRED)
    kind = query.get("kind") if isinstance(query, dict) else None
    if kind in LEGACY_KINDS:
        raise QueryError(
            f"{PREFIX}legacy metric kind '{kind}' is no longer supported. "
            "Use 'ExperimentMetric' instead."
        )
    if kind != "ExperimentMetric":
        raise QueryError(f"{PREFIX}metric kind must be 'ExperimentMetric', got {kind!r}")
    if "metric_type" not in query:
        raise QueryError(f"{PREFIX}ExperimentMetric requires a metric_type")
    if query["metric_type"] not in METRICS:
        raise QueryError(f"{PREFIX}metric_type must be 'mean', 'funnel', 'ratio', or 'retention'")
    errors: list[Err] = []
    METRICS[query["metric_type"]](query, (), errors)
    if errors:
        raise QueryError(PREFIX + _error_list(errors))
    _check_rules(query)
    for node_id in action_ids(query):
        if not action_exists(node_id):
            raise QueryError(
                f"{PREFIX}Action {node_id} not found or deleted. Each ActionsNode must reference "
                "an existing action belonging to this project."
            )


def _error_list(errors: list[Err]) -> str:
    shown: list[Any] = [dict(error) for error in errors[:MAX_LISTED_ERRORS]]
    if len(errors) > MAX_LISTED_ERRORS:
        shown.append(f"... and {len(errors) - MAX_LISTED_ERRORS} more errors")
    hint = any(
        error["type"] == "extra_forbidden" and error["loc"][-2:] == ("EventsNode", "id")
        for error in errors
    )
    return str(shown) + (ACTIONS_HINT if hint else "")


def _check_rules(query: dict[str, Any]) -> None:
    if query["metric_type"] == "funnel" and not query["series"]:
        raise QueryError(f"{PREFIX}a funnel metric needs at least one step in series")
    if query.get("conversion_window") is not None and not query.get("conversion_window_unit"):
        raise QueryError(f"{PREFIX}conversion_window is set but conversion_window_unit is missing")
    if query["metric_type"] == "retention" and query["start_event"].get("kind") == EXPOSURE_KIND:
        _check_exposure_start(query)
    threshold = query.get("threshold")
    if query["metric_type"] != "mean" or threshold is None:
        return
    if query["source"].get("math") not in ("sum", "total"):
        raise QueryError(f"{PREFIX}threshold requires the source math to be 'sum' or 'total'")
    if threshold <= 0:
        raise QueryError(f"{PREFIX}threshold must be greater than 0")
    if any(query.get(k) is not None for k in ("lower_bound_percentile", "upper_bound_percentile")):
        raise QueryError(
            f"{PREFIX}threshold cannot be combined with lower_bound_percentile "
            "or upper_bound_percentile"
        )


EXPOSURE_KIND = "ExperimentExposureNode"


def _check_exposure_start(query: dict[str, Any]) -> None:
    """The vendor's `retention_metric_error`: settings its engine ignores for an exposure start."""
    if query.get("conversion_window") is not None or query.get("conversion_window_unit"):
        raise QueryError(
            f"{PREFIX}a conversion window cannot be combined with an experiment exposure start. "
            "Retention already anchors on each user's first exposure."
        )
    if query.get("start_handling") == "last_seen":
        raise QueryError(
            f"{PREFIX}start_handling 'last_seen' cannot be combined with an experiment exposure "
            "start. Retention always anchors on each user's first exposure."
        )


def is_legacy(query: Any) -> bool:
    return isinstance(query, dict) and query.get("kind") in LEGACY_KINDS


def nodes(value: Any) -> Iterator[dict[str, Any]]:
    """Every entity node at any depth, so legacy query shapes are covered too."""
    if isinstance(value, dict):
        if value.get("kind") in NODE_KINDS:
            yield value
        for child in value.values():
            yield from nodes(child)
    elif isinstance(value, list):
        for child in value:
            yield from nodes(child)


def action_ids(query: Any) -> list[int]:
    found = (n.get("id") for n in nodes(query) if n.get("kind") == "ActionsNode")
    return list(dict.fromkeys(i for i in found if isinstance(i, int)))


def with_new_uuid(query: dict[str, Any]) -> dict[str, Any]:
    """On create the server always sets a fresh uuid, replacing any the client sent (in place)."""
    return {**query, "uuid": str(uuid.uuid4())}


def with_action_names(value: Any, name_of: Callable[[int], str | None]) -> Any:
    """A copy in which each ActionsNode carries its action's current name (when it still exists)."""
    if isinstance(value, list):
        return [with_action_names(child, name_of) for child in value]
    if not isinstance(value, dict):
        return value
    copy = {key: with_action_names(child, name_of) for key, child in value.items()}
    if copy.get("kind") == "ActionsNode" and isinstance(copy.get("id"), int):
        name = name_of(copy["id"])
        if name is not None:
            copy["name"] = name
    return copy


def comparable(value: Any, top: bool = True) -> Any:
    """The query without what the server owns (`uuid`, action names), for "unchanged" checks."""
    if isinstance(value, list):
        return [comparable(child, False) for child in value]
    if not isinstance(value, dict):
        return value
    drop = {"uuid"} if top else set()
    if value.get("kind") == "ActionsNode":
        drop.add("name")
    return {k: comparable(v, False) for k, v in value.items() if k not in drop}
