"""PostHog sandbox state: saved metrics (ids global, each in one project) with a per-project
index sorted by lower-cased name and a cache of rendered JSON, so a list page and a name check
cost no full scan; and the seeded actions that ActionsNodes reference."""

from __future__ import annotations

import bisect
import json
from collections.abc import Callable, Iterable
from typing import Any, cast

from metricsync.sandbox.store import Store

Entry = tuple[str, int]  # (lower-cased name, id): the list order, ties broken by id


class SavedMetricTable:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._docs = store.collection("posthog_saved_metrics")  # str(id) -> doc with "project"
        self._counters = store.collection("posthog_counters")
        self._sorted: dict[int, list[Entry]] | None = None
        self._encoded: dict[int, bytes] = {}  # id -> the rendered metric as JSON

    def get(self, project: int, metric_id: int) -> dict[str, Any] | None:
        doc = self._docs.get(str(metric_id))
        return dict(doc) if doc is not None and doc["project"] == project else None

    def new_id(self) -> int:
        with self._store.lock:
            value = int(self._counters.get("saved_metric") or 0) + 1
            self._counters.put("saved_metric", value)
            return value

    def put(self, doc: dict[str, Any]) -> None:
        """Stores a new or changed metric; a seeded id also moves the id counter past it."""
        with self._store.lock:
            index = self._index()
            old = self._docs.get(str(doc["id"]))
            if old is not None:
                index[old["project"]].remove(_entry(old))
            bisect.insort(index.setdefault(doc["project"], []), _entry(doc))
            self._docs.put(str(doc["id"]), doc)
            self._encoded.pop(doc["id"], None)
            if doc["id"] > int(self._counters.get("saved_metric") or 0):
                self._counters.put("saved_metric", doc["id"])

    def remove(self, doc: dict[str, Any]) -> None:
        with self._store.lock:
            self._index()[doc["project"]].remove(_entry(doc))
            self._docs.delete(str(doc["id"]))
            self._encoded.pop(doc["id"], None)

    def name_holder(self, project: int, name: str) -> int | None:
        """The id of the project's metric named `name`, compared case-insensitively."""
        with self._store.lock:
            entries = self._index().get(project, [])
            lower = name.lower()
            at = bisect.bisect_left(entries, (lower, 0))
            return entries[at][1] if at < len(entries) and entries[at][0] == lower else None

    def window(self, project: int, offset: int, limit: int) -> tuple[int, list[dict[str, Any]]]:
        """How many metrics the project has, and those at [offset, offset + limit) by name."""
        with self._store.lock:
            entries = self._index().get(project, [])
            page = entries[offset : offset + limit]
            return len(entries), [self._doc(metric_id) for _, metric_id in page]

    def in_project(self, project: int) -> list[dict[str, Any]]:
        """Every metric of the project, in list order (for filtered lists and tag lists)."""
        with self._store.lock:
            entries = self._index().get(project, [])
            return [self._doc(metric_id) for _, metric_id in entries]

    def encoded(
        self, docs: list[dict[str, Any]], render: Callable[[dict[str, Any]], Any]
    ) -> list[bytes]:
        """Each document rendered and encoded, cached until it is written again or until
        `forget_encodings` (the rendering also depends on settings and action names)."""
        with self._store.lock:
            out = []
            for doc in docs:
                data = self._encoded.get(doc["id"])
                if data is None:
                    data = json.dumps(render(doc), separators=(",", ":")).encode()
                    self._encoded[doc["id"]] = data
                out.append(data)
            return out

    def forget_encodings(self) -> None:
        with self._store.lock:
            self._encoded.clear()

    def _doc(self, metric_id: int) -> dict[str, Any]:
        """The document behind an indexed id (writes keep the index free of deleted ids)."""
        return cast(dict[str, Any], self._docs.get(str(metric_id)))

    def _index(self) -> dict[int, list[Entry]]:
        if self._sorted is None:
            self._sorted = {}
            for doc in self._docs.values():
                self._sorted.setdefault(doc["project"], []).append(_entry(doc))
            for entries in self._sorted.values():
                entries.sort()
        return self._sorted


def _entry(doc: dict[str, Any]) -> Entry:
    return (str(doc["name"]).lower(), int(doc["id"]))


class ActionTable:
    """Actions exist only as seeded (`{"id", "name", "deleted"?, "steps"?: [{"event"}]}`)."""

    def __init__(self, store: Store) -> None:
        self._actions = store.collection("posthog_actions")  # "<project>/<id>" -> action

    def put(self, project: int, action: dict[str, Any]) -> None:
        if not isinstance(action.get("id"), int) or not isinstance(action.get("name"), str):
            raise ValueError(f"seeded posthog action needs an integer id and a name: {action!r}")
        self._actions.put(f"{project}/{action['id']}", dict(action))

    def name(self, project: int, action_id: int) -> str | None:
        """The current name, or None for a missing or deleted action (its node keeps its name)."""
        action = self._actions.get(f"{project}/{action_id}")
        return None if action is None or action.get("deleted") else str(action["name"])

    def known(self, project: int, action_id: int) -> bool:
        """Whether the action was ever put here, deleted or not."""
        return self._actions.get(f"{project}/{action_id}") is not None

    def usable(self, project: int, action_id: int) -> bool:
        action = self._actions.get(f"{project}/{action_id}")
        return action is not None and not action.get("deleted", False)

    def events(self, project: int, action_ids: Iterable[int]) -> set[str]:
        """The event names the actions' steps match."""
        found: set[str] = set()
        for action_id in action_ids:
            action = self._actions.get(f"{project}/{action_id}") or {}
            found.update(s["event"] for s in action.get("steps") or [] if s.get("event"))
        return found
