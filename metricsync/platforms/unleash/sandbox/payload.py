"""Checks a client-metrics body as Unleash does: the published schema, then the handler's rules.

`schema_problems` mirrors the OpenAPI check (400 BadDataError details); `accept` mirrors the
handler's re-validation, whose failures Unleash answers with an empty 400.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

OPTIONAL_STRINGS: dict[str, int | None] = {
    "instanceId": None,
    "sdkVersion": None,
    "platformName": None,
    "platformVersion": None,
    "yggdrasilVersion": None,
    "specVersion": None,
    "sdkFlavor": 256,
    "sdkFlavorVersion": 32,
}  # name → maxLength
_DATE_TIME = re.compile(
    r"^(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(\.\d+)?([Zz]|[+-]\d\d(?::?\d\d)?)$"
)


class HandlerFailure(Exception):
    """Raised where Unleash's handler would throw: the request gets 400 with an empty body."""


@dataclass(frozen=True)
class Counts:
    yes: float  # the schema lets fractions through for `yes` only
    no: int
    variants: dict[str, int]


@dataclass(frozen=True)
class Payload:
    app_name: str
    instance_id: str
    sdk_version: str | None
    stop: datetime | None  # None: no bucket (allowed from v8)
    toggles: dict[str, Counts]


def _missing(path: str) -> dict[str, str]:
    message = f"The `{path}` property is required. It was not present on the data you sent."
    return {"path": path, "message": message}


def _invalid(path: str, rule: str, sent: Any) -> dict[str, str]:
    shown = json.dumps(sent, separators=(",", ":"))  # as JSON.stringify shows it
    return {"path": path, "message": f"The `{path}` property {rule}. You sent {shown}."}


def _pointer(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")


def _is_integer(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def schema_problems(body: Any, bucket_required: bool) -> list[dict[str, str]]:
    """Every schema violation as {"path", "message"}; an empty list means the body passes."""
    if not isinstance(body, dict):
        return [_invalid("/body", "must be object", body)]
    problems: list[dict[str, str]] = []
    if "appName" not in body:
        problems.append(_missing("/body/appName"))
    for name, max_length in {"appName": None, **OPTIONAL_STRINGS}.items():
        value = body.get(name)
        if name not in body:
            continue
        if not isinstance(value, str):
            problems.append(_invalid(f"/body/{name}", "must be string", value))
        elif max_length is not None and len(value) > max_length:
            message = f"must NOT have more than {max_length} characters"
            problems.append(_invalid(f"/body/{name}", message, value))
    problems += _bucket_problems(body, bucket_required)
    return problems


def _bucket_problems(body: dict[str, Any], bucket_required: bool) -> list[dict[str, str]]:
    bucket = body.get("bucket")
    if "bucket" not in body and bucket_required:
        return [_missing("/body/bucket")]
    if bucket is None and not bucket_required:
        return []
    if not isinstance(bucket, dict):
        return [_invalid("/body/bucket", "must be object", bucket)]
    problems = [
        _missing(f"/body/bucket/{key}") for key in ("start", "stop", "toggles") if key not in bucket
    ]
    for key in ("start", "stop"):
        if key in bucket and not _is_schema_date(bucket[key]):
            message = "must be a date-time string or an integer"
            problems.append(_invalid(f"/body/bucket/{key}", message, bucket[key]))
    if "toggles" in bucket:
        problems += _toggles_problems(bucket["toggles"])
    return problems


def _toggles_problems(toggles: Any) -> list[dict[str, str]]:
    if not isinstance(toggles, dict):
        return [_invalid("/body/bucket/toggles", "must be object", toggles)]
    problems = []
    for flag, counts in toggles.items():
        path = f"/body/bucket/toggles/{_pointer(flag)}"
        if not isinstance(counts, dict):
            problems.append(_invalid(path, "must be object", counts))
            continue
        problems += _count_problems(f"{path}/yes", counts, "yes", _is_number, "number")
        problems += _count_problems(f"{path}/no", counts, "no", _is_integer, "integer")
        problems += _variant_problems(f"{path}/variants", counts.get("variants"))
    return problems


def _variant_problems(path: str, variants: Any) -> list[dict[str, str]]:
    if variants is None:
        return []
    if not isinstance(variants, dict):
        return [_invalid(path, "must be object", variants)]
    problems = []
    for name in variants:
        name_path = f"{path}/{_pointer(name)}"
        problems += _count_problems(name_path, variants, name, _is_integer, "integer")
    return problems


def _count_problems(
    path: str, parent: dict[str, Any], key: str, is_kind: Callable[[Any], bool], kind: str
) -> list[dict[str, str]]:
    if key not in parent:
        return []
    value = parent[key]
    if not is_kind(value):
        return [_invalid(path, f"must be {kind}", value)]
    if value < 0:
        return [_invalid(path, "must be >= 0", value)]
    return []


def _is_schema_date(value: Any) -> bool:
    if isinstance(value, str):
        return _parse_date_time(value) is not None
    return _is_integer(value)


def _parse_date_time(text: str) -> datetime | None:
    """RFC 3339 date-time (as ajv-formats checks it), or None."""
    if not _DATE_TIME.match(text):
        return None
    normalised = text.upper().replace(" ", "T").replace("Z", "+00:00")
    try:
        return datetime.fromisoformat(normalised).astimezone(UTC)
    except ValueError:
        return None


def _as_datetime(value: Any) -> datetime:
    """Integers are JavaScript dates: milliseconds since the epoch."""
    try:
        if isinstance(value, str):
            parsed = _parse_date_time(value)
            if parsed is not None:
                return parsed
            raise ValueError(value)
        return datetime.fromtimestamp(value / 1000, UTC)
    except (ValueError, OverflowError, OSError) as error:
        raise HandlerFailure(f"invalid date {value!r}") from error


def accept(body: dict[str, Any]) -> Payload:
    """The handler's re-validation: defaults filled, unknown keys dropped, Joi's stricter rules."""
    app_name = body["appName"]
    if not app_name:  # Joi strings refuse "" although the OpenAPI schema lets it through
        raise HandlerFailure("appName is empty")
    bucket = body.get("bucket")
    instance_id = body.get("instanceId") or "default"
    if bucket is None:
        return Payload(app_name, instance_id, body.get("sdkVersion"), None, {})
    _as_datetime(bucket["start"])  # checked like Unleash does, though only `stop` places rows
    toggles = {
        flag: Counts(counts.get("yes", 0), int(counts.get("no", 0)), _variants(counts))
        for flag, counts in bucket["toggles"].items()
    }
    return Payload(
        app_name, instance_id, body.get("sdkVersion"), _as_datetime(bucket["stop"]), toggles
    )


def _variants(counts: dict[str, Any]) -> dict[str, int]:
    return {name: int(count) for name, count in (counts.get("variants") or {}).items()}
