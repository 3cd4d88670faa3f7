"""Plans as a versioned machine document; the same document is a saved plan (`plan --out`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from metricsync.documents import non_finite
from metricsync.errors import MetricsyncError
from metricsync.plan import FORMAT_VERSION, Absent, Change, FieldChange, Plan, TargetPlan


def plan_document(plan: Plan) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "created": plan.created,
        "digest": plan.digest,
        "targets": [_target(t) for t in plan.targets],
    }


def render_json(plan: Plan) -> str:
    """The plan document; a value JSON cannot hold (NaN, infinity, read from a platform) is an
    error rather than a document no JSON reader accepts."""
    document = plan_document(plan)
    try:
        text = json.dumps(document, indent=2, ensure_ascii=False, default=str, allow_nan=False)
    except ValueError:
        where = next((f"{c}: {'/'.join(map(str, p))}" for c, p in _non_finite(document)), "")
        raise MetricsyncError(
            f"the plan holds NaN or infinity, which JSON cannot hold ({where}); nothing was written"
        ) from None
    return text + "\n"


def _non_finite(document: dict[str, Any]) -> Iterator[tuple[str, tuple[str | int, ...]]]:
    for target in document["targets"]:
        for change in target["changes"]:
            for path, _ in non_finite(change):
                yield f"{target['target']}: {change['kind']} {change['name']!r}", path


def _target(target: TargetPlan) -> dict[str, Any]:
    return {
        "target": target.target,
        "provider": target.platform,
        "changes": [change_document(c) for c in target.changes],
        "lookalikes": [
            {"name": lk.name, "id": lk.live_id, "resembles": lk.resembles}
            for lk in target.lookalikes
        ],
        "notes": list(target.notes),
        "refusals": list(target.refusals),
        "api_calls": target.api_calls,
        "lookups": target.lookups,
        "minimum_seconds": target.minimum_seconds,
        "managed_count": target.managed_count,
    }


def change_document(change: Change) -> dict[str, Any]:
    return {
        "action": change.action.value,
        "kind": change.kind,
        "name": change.name,
        "id": change.live_id,
        "previous_name": change.previous_name,
        "adopt": change.adopt,
        "adopt_from": change.adopt_from,
        "fingerprint": change.fingerprint,
        "source": change.source,
        "depends_on": list(change.depends_on),
        "fields": [_field(f) for f in change.fields],
        "used_by": _used_by(change),
        "usage_unknown": change.usage_unknown,
    }


def _used_by(change: Change) -> list[dict[str, Any]] | None:
    """The experiments using the object (`protect_in_use` in docs/config.md); null when the
    change needed no lookup."""
    if change.used_by is None:
        return None
    return [
        {"id": u.id, "name": u.name, "status": u.status, "running": u.running}
        for u in change.used_by
    ]


def _field(field: FieldChange) -> dict[str, Any]:
    document: dict[str, Any] = {"path": field.path}
    if not isinstance(field.before, Absent):
        document["before"] = field.before
    if not isinstance(field.after, Absent):
        document["after"] = field.after
    return document
