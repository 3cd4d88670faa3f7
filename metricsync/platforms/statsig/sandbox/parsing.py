"""Statsig request validation: zod-style parsing of metric and tag bodies (docs/sandbox/statsig.md),
the per-type rules the Console API enforces at run time, and the error body it answers.
Parsers return the body with unknown keys stripped, as zod does, and collect every issue."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from metricsync.sandbox.http import Response

Issue = dict[str, str]
Path = tuple[str | int, ...]
Parse = Callable[[Any, Path, list[Issue]], Any]

NAME_PATTERN = re.compile(r"^[a-zA-Z0-9_.\-()/ %:]*$")
CREATE_TYPES = (
    "ratio", "mean", "event_count_custom", "event_user", "funnel", "composite",
    "composite_sum", "sum", "undefined", "user_warehouse", "percentile",
)  # fmt: skip
CRITERIA_TYPES = ("value", "metadata", "user", "user_custom")
CONDITIONS = (
    "in", "not_in", "=", ">", "<", ">=", "<=", "is_null", "non_null",
    "contains", "not_contains", "is_true", "is_false",
)  # fmt: skip
WAREHOUSE_CONDITIONS = (
    *CONDITIONS, "sql_filter", "starts_with", "ends_with", "after_exposure", "before_exposure",
)  # fmt: skip
FUNNEL_STEPS_BY_COUNT = {
    "users": ("event_dau", "event_user"),
    "events": ("event_count", "event_count_custom"),
}
SUM_LIKE = ("sum", "mean", "event_count_custom", "ratio")


NOT_FOUND = "Not Found. The requested resource could not be found."
INVALID_REQUEST = "Invalid request. Please check the request input and try again."


class StatsigError(Exception):
    """Any failed request; `response()` is Statsig's error body `{status, message[, errors]}`."""

    def __init__(
        self,
        status: int,
        message: str,
        errors: list[Issue] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.errors, self.headers = status, message, errors, headers

    @classmethod
    def invalid(cls, issues: list[Issue]) -> StatsigError:
        return cls(400, "Bad Request Exception", issues)

    def response(self) -> Response:
        body: dict[str, Any] = {"status": self.status, "message": self.message}
        if self.errors is not None:
            body["errors"] = self.errors
        return Response.json(self.status, body, self.headers)


def issue(path: Path, message: str) -> Issue:
    return {"property": ".".join(str(part) for part in path), "errorMessage": message}


def _received(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    names: dict[type, str] = {str: "string", list: "array", dict: "object"}
    return names.get(type(value), "unknown")


def _typed(expected: str, accepts: Callable[[Any], bool], nullable: bool = False) -> Parse:
    def parse(value: Any, path: Path, issues: list[Issue]) -> Any:
        if not (accepts(value) or (nullable and value is None)):
            issues.append(issue(path, f"Expected {expected}, received {_received(value)}"))
        return value

    return parse


def boolean() -> Parse:
    return _typed("boolean", lambda v: isinstance(v, bool))


def number() -> Parse:
    return _typed("number", lambda v: isinstance(v, int | float) and not isinstance(v, bool))


def string(
    min_len: int = 0, max_len: int | None = None, pattern: bool = False, nullable: bool = False
) -> Parse:
    base = _typed("string", lambda v: isinstance(v, str), nullable)

    def parse(value: Any, path: Path, issues: list[Issue]) -> Any:
        before = len(issues)
        base(value, path, issues)
        if len(issues) > before or value is None:
            return value
        if len(value) < min_len:
            issues.append(issue(path, f"String must contain at least {min_len} character(s)"))
        if max_len is not None and len(value) > max_len:
            issues.append(issue(path, f"String must contain at most {max_len} character(s)"))
        if pattern and not NAME_PATTERN.match(value):
            issues.append(issue(path, "Invalid"))
        return value

    return parse


def enum(options: tuple[str, ...], nullable: bool = False) -> Parse:
    expected = " | ".join(f"'{option}'" for option in options)

    def parse(value: Any, path: Path, issues: list[Issue]) -> Any:
        if value is None and nullable:
            return value
        if not isinstance(value, str):
            issues.append(issue(path, f"Expected {expected}, received {_received(value)}"))
        elif value not in options:
            message = f"Invalid enum value. Expected {expected}, received '{value}'"
            issues.append(issue(path, message))
        return value

    return parse


def array(item: Parse) -> Parse:
    def parse(value: Any, path: Path, issues: list[Issue]) -> Any:
        if not isinstance(value, list):
            issues.append(issue(path, f"Expected array, received {_received(value)}"))
            return value
        return [item(entry, (*path, index), issues) for index, entry in enumerate(value)]

    return parse


def obj(fields: Mapping[str, Parse], required: tuple[str, ...] = (), keep: bool = False) -> Parse:
    """An object schema; `keep` passes unknown keys through (opaque Warehouse Native bodies)."""

    def parse(value: Any, path: Path, issues: list[Issue]) -> Any:
        if not isinstance(value, dict):
            issues.append(issue(path, f"Expected object, received {_received(value)}"))
            return value
        parsed = dict(value) if keep else {}
        for key, field in fields.items():
            if key in value:
                parsed[key] = field(value[key], (*path, key), issues)
            elif key in required:
                issues.append(issue((*path, key), "Required"))
        return parsed

    return parse


def _string_or_strings(value: Any, path: Path, issues: list[Issue]) -> Any:
    if isinstance(value, str):
        return [value]
    return array(string())(value, path, issues)


def _owner(value: Any, path: Path, issues: list[Issue]) -> Any:
    parsed = obj({"email": string(), "ownerID": string()})(value, path, issues)
    if isinstance(parsed, dict) and not parsed:
        issues.append(issue(path, "Expected an object with email or ownerID"))
    return parsed


def _criteria(types: tuple[str, ...], conditions: tuple[str, ...]) -> Parse:
    fields = {
        "type": enum(types),
        "condition": enum(conditions),
        "column": string(nullable=True),
        "values": array(string()),
        "nullVacuousOverride": boolean(),
    }
    return array(obj(fields, required=("type", "condition")))


CRITERIA = _criteria(CRITERIA_TYPES, CONDITIONS)
WAREHOUSE_CRITERIA = _criteria(("metadata",), WAREHOUSE_CONDITIONS)
EVENT_TYPES = ("count", "count_distinct", "value", "metadata")
FUNNEL_STEP_TYPES = ("event_dau", "event_user", "event_count", "event_count_custom")

METRIC_EVENT = obj(
    {
        "name": string(),
        "type": enum(EVENT_TYPES, nullable=True),
        "metadataKey": string(nullable=True),
        "criteria": CRITERIA,
    },
    required=("name",),
)
FUNNEL_STEP = obj(
    {"name": string(), "type": enum(FUNNEL_STEP_TYPES), "criteria": CRITERIA},
    required=("name", "type"),
)
COMPONENT = obj({"name": string(), "type": string()}, required=("name", "type"))

# Keys of the Cloud definition: absent from the vendor's update contract; applied on update when
# sent, or stripped unread, as the `update_definition_fields` setting says.
DEFINITION_FIELDS: dict[str, Parse] = {
    "metricEvents": array(METRIC_EVENT),
    "metricComponentMetrics": array(COMPONENT),
    "rollupTimeWindow": string(nullable=True),
    "customRollUpStart": number(),
    "customRollUpEnd": number(),
    "funnelEventList": array(FUNNEL_STEP),
    "funnelCountDistinct": enum(("events", "users")),
}

COMMON_FIELDS: dict[str, Parse] = {
    "description": string(max_len=1000),
    "directionality": enum(("increase", "decrease")),
    "unitTypes": array(string()),
    "isVerified": boolean(),
    "isReadOnly": boolean(),
    "isPermanent": boolean(),
    "warehouseNative": obj(
        {"criteria": WAREHOUSE_CRITERIA, "denominatorCriteria": WAREHOUSE_CRITERIA}, keep=True
    ),
    "team": string(nullable=True),
    "teamID": string(nullable=True),
    "dryRun": boolean(),
}
STRICT_NAME = string(min_len=4, max_len=200, pattern=True)

_CREATE_FIELDS = {"name": STRICT_NAME, "type": enum(CREATE_TYPES), "tags": _string_or_strings}
CREATE = obj({**_CREATE_FIELDS, **COMMON_FIELDS, **DEFINITION_FIELDS}, required=("name", "type"))
_UPDATE_FIELDS = {"tags": array(string()), "owner": _owner, **COMMON_FIELDS, **DEFINITION_FIELDS}
UPDATE = obj({"name": string(), **_UPDATE_FIELDS})
RENAME = obj({"name": STRICT_NAME, **_UPDATE_FIELDS})
# The vendor's update contract as written: without the definition keys, which are then stripped
# unread, as zod strips unknown keys (setting `update_definition_fields: ignore`).
_CONTRACT_FIELDS = {"tags": array(string()), "owner": _owner, **COMMON_FIELDS}
UPDATE_CONTRACT = obj({"name": string(), **_CONTRACT_FIELDS})
RENAME_CONTRACT = obj({"name": STRICT_NAME, **_CONTRACT_FIELDS})

TAG_FIELDS: dict[str, Parse] = {
    "name": string(min_len=1, max_len=100),
    "description": string(max_len=1000),
    "isCore": boolean(),
}
TAG_CREATE = obj(TAG_FIELDS, required=("name", "description"))
TAG_PATCH = obj(TAG_FIELDS)


def parse(schema: Parse, body: dict[str, Any]) -> dict[str, Any]:
    """The body as the schema reads it; raises a 400 listing every issue found."""
    issues: list[Issue] = []
    parsed: dict[str, Any] = schema(body, (), issues)
    if issues:
        raise StatsigError.invalid(issues)
    return parsed


def type_rules(metric: Mapping[str, Any]) -> list[Issue]:
    """What each type needs beyond the schema. Types outside the create enum need nothing."""
    kind = metric.get("type")
    issues: list[Issue] = []
    if kind in (*SUM_LIKE, "composite", "composite_sum") and not metric.get("unitTypes"):
        issues.append(issue(("unitTypes",), f"At least one unit type is required for {kind}"))
    if kind in SUM_LIKE and not metric.get("metricEvents"):
        issues.append(issue(("metricEvents",), f"At least one event is required for {kind}"))
    if kind == "event_user":
        for index, event in enumerate(metric.get("metricEvents") or []):
            if "criteria" not in event:
                issues.append(issue(("metricEvents", index, "criteria"), "Required"))
    if kind == "funnel":
        issues.extend(_funnel_rules(metric))
    if kind == "composite_sum" and len(metric.get("metricComponentMetrics") or []) < 2:
        message = "composite_sum needs more than one component metric"
        issues.append(issue(("metricComponentMetrics",), message))
    if kind == "user_warehouse" and "warehouseNative" not in metric:
        issues.append(issue(("warehouseNative",), "Required"))
    return issues


def _funnel_rules(metric: Mapping[str, Any]) -> list[Issue]:
    issues: list[Issue] = []
    steps = metric.get("funnelEventList") or []
    if len(steps) < 2:
        issues.append(issue(("funnelEventList",), "Array must contain at least 2 element(s)"))
    counted = metric.get("funnelCountDistinct")
    if counted is None:
        issues.append(issue(("funnelCountDistinct",), "Required"))
        return issues
    allowed = FUNNEL_STEPS_BY_COUNT.get(counted, ())
    for index, step in enumerate(steps):
        if step.get("type") not in allowed:
            message = f"Must be {' or '.join(allowed)} when funnelCountDistinct is {counted}"
            issues.append(issue(("funnelEventList", index, "type"), message))
    return issues
