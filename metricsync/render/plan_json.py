"""`plan --format json`: the plan file's document (plan_file.py), the same one `plan --out`
saves and apply reads back."""

from __future__ import annotations

from metricsync.plan import Plan
from metricsync.plan_file import dumps


def render_json(plan: Plan) -> str:
    return dumps(plan)
