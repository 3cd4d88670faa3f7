"""Saved plans (`plan --out FILE`): reading them back, and the stale check of SPEC 4.5."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from metricsync.errors import ConfigError, MetricsyncError
from metricsync.files import write_whole
from metricsync.plan import FORMAT_VERSION, Change, Plan
from metricsync.render.plan_json import change_document, render_json


@dataclass(frozen=True)
class SavedPlan:
    path: Path
    digest: str
    targets: tuple[str, ...]
    changes: dict[tuple[str, str], dict[str, Any]]  # (target, kind:name) -> change document

    def touches(self, target: str, change: Change) -> bool:
        """Whether the reviewed plan holds a change of this object; the others are drift
        (or news) since the review, left for the next plan."""
        return (target, change.key) in self.changes


def save(plan: Plan, path: Path) -> None:
    text = render_json(plan)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_whole(path, text)
    except OSError as exc:
        raise MetricsyncError(f"cannot write the plan to {path}: {exc.strerror}") from None


def read_saved(path: Path) -> SavedPlan:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"no saved plan at {path}") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path} is not a metricsync plan: {exc}") from None
    if not isinstance(document, dict) or document.get("format_version") != FORMAT_VERSION:
        version = document.get("format_version") if isinstance(document, dict) else None
        expected = f"format_version {FORMAT_VERSION}"
        raise ConfigError(f"{path} is not a metricsync plan of {expected} (found {version!r})")
    changes = {
        (t["target"], f"{c['kind']}:{c['name']}"): c
        for t in document["targets"]
        for c in t["changes"]
    }
    targets = tuple(t["target"] for t in document["targets"])
    return SavedPlan(path, document["digest"], targets, changes)


def changed_since_review(saved: SavedPlan, fresh: Plan) -> list[str]:
    """What differs between the reviewed plan and the plan as it would be applied now, for
    exactly the objects concerned; empty when the saved plan is still fresh. `fresh` holds
    only the changes of objects the saved plan touches (build_plan's `reviewed`)."""
    lines = []
    if saved.digest != fresh.digest:
        lines.append("the config or definitions changed since the plan was made")
    now = {(t.target, c.key): change_document(c) for t in fresh.targets for c in t.changes}
    for key in sorted(saved.changes.keys() | now.keys()):
        before, after = saved.changes.get(key), now.get(key)
        if before != after:
            lines.append(f"{key[0]}: {key[1]}: reviewed {_brief(before)}; now {_brief(after)}")
    return lines


def _brief(change: dict[str, Any] | None) -> str:
    if change is None:
        return "no change"
    fields = ", ".join(f["path"] for f in change["fields"][:5])
    seen = f"live object {change['fingerprint']}" if change["fingerprint"] else "no live object"
    return f"{change['action']} ({fields or 'no fields'}; {seen})"
