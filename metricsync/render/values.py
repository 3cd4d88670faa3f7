"""How one field value reads in a plan: compact JSON, long values shortened visibly."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from metricsync.display import printable
from metricsync.plan import Absent, Action, Change, adopting

LONGEST = 200


def show(value: Any) -> str:
    if isinstance(value, Absent):
        return "(absent)"
    text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)
    text = printable(text)  # JSON escapes C0 controls but not C1 or separators
    return text if len(text) <= LONGEST else text[: LONGEST - 1] + "…"


def summary_counts(changes: Sequence[Change]) -> str:
    """`1 to create, 2 to update, 0 to replace, 0 to delete, 3 to adopt (2 with an update)`:
    adopts count every change that takes ownership; those also counted as an update or a
    replace are said so, so the numbers never add up to more changes than the plan holds
    without saying why."""
    counts = {a: sum(1 for c in changes if c.action == a) for a in Action}
    counts[Action.ADOPT] = sum(1 for c in changes if adopting(c))
    text = ", ".join(f"{counts[a]} to {a.value}" for a in Action)
    within = [
        f"{n} with {article} {action.value}"
        for action, article in ((Action.UPDATE, "an"), (Action.REPLACE, "a"))
        if (n := sum(1 for c in changes if adopting(c) and c.action == action))
    ]
    return text + (f" ({', '.join(within)})" if within else "")


def duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f}s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"
