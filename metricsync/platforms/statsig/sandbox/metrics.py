"""Statsig metric documents: the fields the server fills in on create, the merge an update makes,
and the table of stored metrics with the indexes (creation order, names, encoded JSON) that keep
a 1000-item list page and a name lookup cheap with 10,000 metrics stored."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, cast

from metricsync.platforms.statsig.sandbox.parsing import DEFINITION_FIELDS
from metricsync.sandbox.store import Store

API_CREATOR = "CONSOLE API"
# Keys an update may set besides the definition keys; `type` is absent on purpose (it is in the id).
UPDATE_KEYS = (
    "name", "description", "tags", "isVerified", "isReadOnly", "isPermanent",
    "warehouseNative", "unitTypes", "team", "teamID", "directionality",
)  # fmt: skip
LINEAGE_SOURCES = ("metricEvents", "metricComponentMetrics", "funnelEventList")


def lineage(metric: Mapping[str, Any]) -> dict[str, list[str]]:
    """What the definition reads: event names in first-use order, component metrics as ids."""
    events = [e.get("name") for e in metric.get("metricEvents") or [] if isinstance(e, dict)]
    events += [s.get("name") for s in metric.get("funnelEventList") or [] if isinstance(s, dict)]
    metrics = [
        f"{c.get('name')}::{c.get('type')}"
        for c in metric.get("metricComponentMetrics") or []
        if isinstance(c, dict)
    ]
    return {
        "events": list(dict.fromkeys(e for e in events if isinstance(e, str))),
        "metrics": metrics,
    }


def _modified(now_ms: int) -> dict[str, Any]:
    return {
        "lastModifierID": "console-api",
        "lastModifiedTime": now_ms,
        "lastModifierEmail": None,
        "lastModifierName": API_CREATOR,
    }


def new_metric(body: Mapping[str, Any], now_ms: int, owner: Mapping[str, Any]) -> dict[str, Any]:
    """A created metric as the server returns it: every default and server field filled in."""
    tags = body.get("tags", [])
    metric: dict[str, Any] = {
        "id": f"{body['name']}::{body['type']}",
        "name": body["name"],
        "type": body["type"],
        "directionality": body.get("directionality", "increase"),
        "description": body.get("description", ""),
        "isPermanent": body.get("isPermanent", False),
        "isReadOnly": body.get("isReadOnly", False),
        "isHidden": False,
        "isVerified": body.get("isVerified", False),
        "tags": [tags] if isinstance(tags, str) else list(tags),
        "unitTypes": list(body.get("unitTypes", [])),
        "metricEvents": list(body.get("metricEvents", [])),
    }
    for key in (*DEFINITION_FIELDS, "warehouseNative", "teamID"):
        if key in body and key not in metric:
            metric[key] = body[key]
    metric["lineage"] = lineage(metric)
    metric.update(creatorName=API_CREATOR, creatorEmail=None, createdTime=now_ms)
    metric.update(_modified(now_ms), owner=dict(owner), team=body.get("team"))
    return metric


def seeded_metric(seed: Mapping[str, Any], now_ms: int, owner: Mapping[str, Any]) -> dict[str, Any]:
    """A pre-existing metric: taken as given (no validation), missing server fields filled in."""
    if not isinstance(seed.get("name"), str) or not isinstance(seed.get("type"), str):
        raise ValueError(f"seeded statsig metric needs a string name and type: {seed!r}")
    metric = {**new_metric(seed, now_ms, owner), **seed}
    if isinstance(metric["tags"], str):
        metric["tags"] = [metric["tags"]]
    return metric


def merged_metric(
    stored: Mapping[str, Any], body: Mapping[str, Any], now_ms: int
) -> dict[str, Any]:
    """An update merges: sent keys replace, omitted keys stay, `type` never changes."""
    metric = dict(stored)
    for key in (*UPDATE_KEYS, *DEFINITION_FIELDS):
        if key in body:
            metric[key] = body[key]
    if "owner" in body:
        metric["owner"] = _user_owner(body["owner"])
    if any(key in body for key in LINEAGE_SOURCES):
        metric["lineage"] = lineage(metric)
    metric.update(_modified(now_ms))
    return metric


def _user_owner(sent: Mapping[str, Any]) -> dict[str, Any]:
    email, owner_id = sent.get("email"), sent.get("ownerID")
    label = email or owner_id
    return {
        "name": label,
        "ownerID": owner_id or email,
        "ownerType": "USER",
        "ownerName": label,
        "ownerEmail": email,
    }


class MetricTable:
    """Metrics by id in the store (`{"seq", "metric"}` records), plus in-memory indexes built on
    first use and kept up to date by every write, so no request sorts or copies all metrics."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._records = store.collection("statsig_metrics")
        self._order: list[str] = []  # every id, creation order
        self._visible: list[str] = []  # ids of metrics that are not hidden, creation order
        self._names: dict[tuple[str, str], list[str]] = {}  # (current name, type) -> ids
        self._encoded: dict[str, bytes] = {}  # id -> the metric's JSON
        self._indexed = False

    def get(self, metric_id: str) -> dict[str, Any] | None:
        record = self._records.get(metric_id)
        return None if record is None else dict(record["metric"])

    def find(self, name: str, kind: str) -> dict[str, Any] | None:
        with self._store.lock:
            self._index()
            ids = self._names.get((name, kind))
            return self.get(ids[0]) if ids else None

    def clashes(self, name: str, kind: str, metric_id: str, own_id: str | None = None) -> bool:
        """Whether `name`/`kind` or `metric_id` already belongs to a metric other than `own_id`."""
        with self._store.lock:
            self._index()
            holders = set(self._names.get((name, kind), ()))
            if metric_id in self._records and metric_id != own_id:
                holders.add(metric_id)
            return bool(holders - {own_id})

    def put(self, metric: dict[str, Any]) -> None:
        """Stores a new metric at the end of the order, or replaces one in its place."""
        with self._store.lock:
            self._index()
            metric_id = metric["id"]
            record = self._records.get(metric_id)
            if record is None:
                seq = self._store.next_id("statsig_metric_seq")
                self._append(metric_id, metric)
            else:
                seq = record["seq"]
                self._unname(metric_id, record["metric"])
                self._name(metric_id, metric)
                if bool(record["metric"].get("isHidden")) != bool(metric.get("isHidden")):
                    self._visible = [i for i in self._order if not self._hidden(i, metric)]
            self._records.put(metric_id, {"seq": seq, "metric": metric})
            # Encoded now, on the write path, so no list page pays for it.
            self._encoded[metric_id] = _encode(metric)

    def remove(self, metric_id: str) -> bool:
        with self._store.lock:
            self._index()
            record = self._records.get(metric_id)
            if record is None:
                return False
            self._records.delete(metric_id)
            self._order.remove(metric_id)
            if metric_id in self._visible:
                self._visible.remove(metric_id)
            self._unname(metric_id, record["metric"])
            self._encoded.pop(metric_id, None)
            return True

    def window(self, show_hidden: bool, start: int, stop: int) -> tuple[int, list[str]]:
        """How many metrics list, and the ids of those in [start, stop), in creation order."""
        with self._store.lock:
            self._index()
            ids = self._order if show_hidden else self._visible
            return len(ids), ids[start:stop]

    def matching(self, show_hidden: bool, keep: Callable[[dict[str, Any]], bool]) -> list[str]:
        """The ids, in creation order, of the listed metrics `keep` accepts (a filtered list)."""
        with self._store.lock:
            self._index()
            ids = self._order if show_hidden else self._visible
            return [i for i in ids if keep(self._stored(i))]

    def encoded(self, ids: list[str]) -> list[bytes]:
        """The JSON of each metric; metrics loaded from SQLite are encoded on first use."""
        with self._store.lock:
            out = []
            for metric_id in ids:
                data = self._encoded.get(metric_id)
                if data is None:
                    data = _encode(self._stored(metric_id))
                    self._encoded[metric_id] = data
                out.append(data)
            return out

    def _stored(self, metric_id: str) -> dict[str, Any]:
        """The metric behind an indexed id (writes keep the index free of deleted ids)."""
        metric: dict[str, Any] = cast(dict[str, Any], self._records.get(metric_id))["metric"]
        return metric

    def _index(self) -> None:
        if self._indexed:
            return
        records = sorted(self._records.items(), key=lambda item: item[1]["seq"])
        for metric_id, record in records:
            self._append(metric_id, record["metric"])
        self._indexed = True

    def _append(self, metric_id: str, metric: Mapping[str, Any]) -> None:
        self._order.append(metric_id)
        if not metric.get("isHidden"):
            self._visible.append(metric_id)
        self._name(metric_id, metric)

    def _hidden(self, metric_id: str, replacing: Mapping[str, Any]) -> bool:
        record = self._records.get(metric_id)
        metric = replacing if replacing["id"] == metric_id or record is None else record["metric"]
        return bool(metric.get("isHidden"))

    def _name(self, metric_id: str, metric: Mapping[str, Any]) -> None:
        self._names.setdefault((metric["name"], metric["type"]), []).append(metric_id)

    def _unname(self, metric_id: str, metric: Mapping[str, Any]) -> None:
        key = (metric["name"], metric["type"])
        holders = self._names.get(key, [])
        if metric_id in holders:
            holders.remove(metric_id)
        if not holders:
            self._names.pop(key, None)


def _encode(metric: Mapping[str, Any]) -> bytes:
    return json.dumps(metric, separators=(",", ":")).encode()
