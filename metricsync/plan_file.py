"""The plan file: the versioned JSON document of a plan (`plan --format json`, `plan --out
FILE`), read back with its shape checks, and the stale check apply makes before applying a saved
plan (docs/commands/apply.md)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from metricsync.display import printable
from metricsync.documents import non_finite
from metricsync.errors import ConfigError, MetricsyncError
from metricsync.files import write_whole
from metricsync.plan import ABSENT, Absent, Change, FieldChange, Plan, TargetPlan
from metricsync.render.values import show

FORMAT_VERSION = 1


def plan_document(plan: Plan) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "created": plan.created,
        "digest": plan.digest,
        "targets": [_target(t) for t in plan.targets],
    }


def dumps(plan: Plan) -> str:
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


# ---- a saved plan (`plan --out FILE`): reading it back, and the stale check ---------------


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
    text = dumps(plan)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_whole(path, text)
    except OSError as exc:
        raise MetricsyncError(f"cannot write the plan to {path}: {exc.strerror}") from None


def read(path: Path) -> SavedPlan:
    """The saved plan at `path`; ConfigError (exit 3) names the file and what is wrong with it."""
    try:
        document = json.loads(path.read_bytes(), parse_constant=_no_constant)
    except FileNotFoundError:
        raise ConfigError(f"no saved plan at {path}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read the saved plan {path}: {exc.strerror}") from None
    except RecursionError:
        raise ConfigError(f"{path} is not a metricsync plan: nested too deeply") from None
    except ValueError as exc:  # not JSON, not UTF-8, or NaN
        raise ConfigError(f"{path} is not a metricsync plan: {exc}") from None
    if not isinstance(document, dict) or document.get("format_version") != FORMAT_VERSION:
        version = document.get("format_version") if isinstance(document, dict) else None
        expected = f"format_version {FORMAT_VERSION}"
        raise ConfigError(f"{path} is not a metricsync plan of {expected} (found {version!r})")
    wrong = _shape(document)
    if wrong is not None:
        raise ConfigError(f"{path} is not a metricsync plan: {wrong[0]} {wrong[1]}")
    changes = {
        (t["target"], f"{c['kind']}:{c['name']}"): c
        for t in document["targets"]
        for c in t["changes"]
    }
    targets = tuple(t["target"] for t in document["targets"])
    return SavedPlan(path, document["digest"], targets, changes)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


_TEXT, _OPTIONAL_TEXT = (str,), (str, type(None))
_CHANGE = {"action": _TEXT, "kind": _TEXT, "name": _TEXT, "fingerprint": _OPTIONAL_TEXT,
           "fields": (list,)}  # fmt: skip


def _shape(document: dict[str, Any]) -> tuple[str, str] | None:
    """(JSON pointer, what is wrong) for the first value apply relies on that is missing or of
    the wrong type, or None."""
    if not isinstance(document.get("digest"), str):
        return "/digest", "must be text"
    if not isinstance(document.get("targets"), list):
        return "/targets", "must be a list"
    for i, target in enumerate(document["targets"]):
        where = f"/targets/{i}"
        if not isinstance(target, dict):
            return where, "must be an object"
        if not isinstance(target.get("target"), str):
            return f"{where}/target", "must be text"
        if not isinstance(target.get("changes"), list):
            return f"{where}/changes", "must be a list"
        for j, change in enumerate(target["changes"]):
            wrong = _change_shape(change, f"{where}/changes/{j}")
            if wrong is not None:
                return wrong
    return None


def _change_shape(change: Any, where: str) -> tuple[str, str] | None:
    if not isinstance(change, dict):
        return where, "must be an object"
    for key, types in _CHANGE.items():
        if key not in change or not isinstance(change[key], types):
            kind = "text" if types[0] is str else "a list"
            return f"{where}/{key}", f"must be {kind}" + (" or null" if len(types) > 1 else "")
    if not isinstance(change.get("adopt_from"), _OPTIONAL_TEXT):
        return f"{where}/adopt_from", "must be text or null"
    for k, field in enumerate(change["fields"]):
        if not isinstance(field, dict) or not isinstance(field.get("path"), str):
            return f"{where}/fields/{k}", "must be an object with a text path"
    return None


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
            lines += _live_drift(before, after)
    return lines


def _live_drift(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[str]:
    """How the live object's fields moved since review, one line per field: a field the
    reviewed change set but no longer needs to was made live as desired meanwhile, and one it
    now sets drifted away from the desired value."""
    if before is None or after is None:
        return []
    then = {f["path"]: f for f in before["fields"]}
    now = {f["path"]: f for f in after["fields"]}
    lines = []
    for path in sorted(then.keys() | now.keys()):
        was = then[path].get("before", ABSENT) if path in then else now[path].get("after", ABSENT)
        is_ = now[path].get("before", ABSENT) if path in now else then[path].get("after", ABSENT)
        if was != is_:
            lines.append(f"    {printable(path)}: live {show(was)} when reviewed, now {show(is_)}")
    return lines


def _brief(change: dict[str, Any] | None) -> str:
    if change is None:
        return "no change"
    fields = ", ".join(f["path"] for f in change["fields"][:5])
    seen = f"live object {change['fingerprint']}" if change["fingerprint"] else "no live object"
    return f"{change['action']} ({fields or 'no fields'}; {seen})"
