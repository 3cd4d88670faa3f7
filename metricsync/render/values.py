"""How one field value reads in a plan: compact JSON, long values shortened visibly."""

from __future__ import annotations

import json
from typing import Any

from metricsync.plan import Absent

LONGEST = 200


def show(value: Any) -> str:
    if isinstance(value, Absent):
        return "(absent)"
    text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)
    return text if len(text) <= LONGEST else text[: LONGEST - 1] + "…"


def summary_counts(counts: dict[str, int]) -> str:
    order = ("create", "update", "replace", "delete", "adopt")
    return ", ".join(f"{counts.get(action, 0)} to {action}" for action in order)


def duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f}s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"
