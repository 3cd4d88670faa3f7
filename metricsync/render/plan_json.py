"""Plans as a versioned machine document; the same document is a saved plan (`plan --out`)."""

from __future__ import annotations

import json
from typing import Any

from metricsync.plan import FORMAT_VERSION, Absent, Change, FieldChange, Plan, TargetPlan


def plan_document(plan: Plan) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "created": plan.created,
        "digest": plan.digest,
        "targets": [_target(t) for t in plan.targets],
    }


def render_json(plan: Plan) -> str:
    return json.dumps(plan_document(plan), indent=2, ensure_ascii=False, default=str) + "\n"


def _target(target: TargetPlan) -> dict[str, Any]:
    return {
        "target": target.target,
        "provider": target.provider,
        "changes": [change_document(c) for c in target.changes],
        "lookalikes": [
            {"name": lk.name, "id": lk.live_id, "resembles": lk.resembles}
            for lk in target.lookalikes
        ],
        "notes": list(target.notes),
        "refusals": list(target.refusals),
        "api_calls": target.api_calls,
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
    }


def _field(field: FieldChange) -> dict[str, Any]:
    document: dict[str, Any] = {"path": field.path}
    if not isinstance(field.before, Absent):
        document["before"] = field.before
    if not isinstance(field.after, Absent):
        document["after"] = field.after
    return document
