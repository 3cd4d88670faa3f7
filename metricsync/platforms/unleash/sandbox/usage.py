"""What Unleash keeps from accepted client metrics, and the admin read-back views over it.

Usage is additive: each toggle becomes a pending contribution, folded into its hourly row
(flag, appName, environment, hour of `bucket.stop`) once the flush delay has passed on the
sandbox clock, the way Unleash buffers in memory and upserts every 5 s.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from metricsync.platforms.unleash.sandbox.payload import Counts, Payload
from metricsync.sandbox.store import Store

HOUR = 3600
USAGE_RETENTION_HOURS = 48
UNKNOWN_FLAG_RETENTION_HOURS = 24
UNKNOWN_FLAG_LIMIT = 1000
SEP = "\x1f"  # joins the parts of a document key
ROW_KEY = ("featureName", "appName", "environment", "hour")


def iso(epoch_seconds: float) -> str:
    """JavaScript's Date.toJSON form, as Unleash serialises timestamps."""
    moment = datetime.fromtimestamp(epoch_seconds, UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="milliseconds") + "Z"


class UsageLedger:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.pending = store.collection("unleash_pending")
        self.rows = store.collection("unleash_usage")
        self.unknown = store.collection("unleash_unknown_flags")
        self.instances = store.collection("unleash_instances")
        self.last_seen = store.collection("unleash_last_seen")

    def register_instance(self, payload: Payload, client_ip: str, env: str, now: float) -> None:
        key = SEP.join((payload.app_name, payload.instance_id, env))
        instance = {
            "appName": payload.app_name,
            "instanceId": payload.instance_id,
            "environment": env,
            "clientIp": client_ip,
            "sdkVersion": payload.sdk_version,
            "lastSeen": iso(now),
        }
        self.instances.put(key, instance)

    def record(
        self, payload: Payload, env: str, known: set[str], now: float, flush_delay: float
    ) -> None:
        """Zero counts are dropped first; unknown flags are reported, not counted."""
        if payload.stop is None:
            return
        hour = math.floor(payload.stop.timestamp() / HOUR) * HOUR
        with self.store.lock:
            for flag, counts in payload.toggles.items():
                if counts.yes == 0 and counts.no == 0:
                    continue
                if flag not in known:
                    self._report_unknown(flag, payload.app_name, env, now)
                    continue
                seen = {"featureName": flag, "environment": env, "lastSeenAt": iso(now)}
                self.last_seen.put(SEP.join((flag, env)), seen)
                contribution = _contribution(flag, payload.app_name, env, hour, counts)
                contribution["visibleAt"] = now + flush_delay
                self.pending.put(str(self.store.next_id("unleash_pending")), contribution)
            self.flush(now)

    def _report_unknown(self, flag: str, app_name: str, env: str, now: float) -> None:
        report = {"name": flag, "appName": app_name, "environment": env, "seenAt": now}
        self.unknown.put(SEP.join((flag, app_name, env)), report)

    def flush(self, now: float) -> None:
        """Folds due contributions into their hourly rows; drops rows past retention."""
        with self.store.lock:
            for key, contribution in self.pending.items():
                if contribution["visibleAt"] <= now:
                    self._fold(contribution)
                    self.pending.delete(key)
            oldest = now - USAGE_RETENTION_HOURS * HOUR
            for key, row in self.rows.items():
                if row["hour"] < oldest:
                    self.rows.delete(key)

    def _fold(self, contribution: dict[str, Any]) -> None:
        key = SEP.join(str(contribution[part]) for part in ROW_KEY)
        row = self.rows.get(key) or {
            **{part: contribution[part] for part in ROW_KEY},
            **{"yes": 0, "no": 0, "variants": {}},
        }
        variants = dict(row["variants"])
        for name, count in contribution["variants"].items():
            variants[name] = variants.get(name, 0) + count
        yes, no = row["yes"] + contribution["yes"], row["no"] + contribution["no"]
        self.rows.put(key, {**row, "yes": yes, "no": no, "variants": variants})

    def rows_for(self, flag: str, since: float, now: float) -> list[dict[str, Any]]:
        self.flush(now)
        rows = [r for r in self.rows.values() if r["featureName"] == flag and r["hour"] >= since]
        return sorted(rows, key=lambda r: (r["hour"], r["environment"], r["appName"]))

    def feature_summary(self, flag: str, now: float) -> dict[str, Any]:
        """`lastHourUsage`: rows of the past hour, summed per environment."""
        per_environment: dict[str, dict[str, Any]] = {}
        for row in self.rows_for(flag, now - HOUR, now):
            usage = per_environment.setdefault(
                row["environment"],
                {
                    "environment": row["environment"],
                    "timestamp": iso(row["hour"]),
                    "yes": 0,
                    "no": 0,
                },
            )
            usage["yes"] += row["yes"]
            usage["no"] += row["no"]
        apps = sorted({r["appName"] for r in self.rows.values() if r["featureName"] == flag})
        return {
            "version": 1,
            "maturity": "stable",
            "featureName": flag,
            "lastHourUsage": list(per_environment.values()),
            "seenApplications": apps,
        }

    def raw(self, flag: str, hours_back: int, now: float) -> dict[str, Any]:
        """One row per environment × app × hour bucket, zero-filled, oldest first."""
        rows = self.rows_for(flag, now - hours_back * HOUR, now)
        current = math.floor(now / HOUR) * HOUR
        hours = [current - i * HOUR for i in range(hours_back)]
        found = {(r["environment"], r["appName"], r["hour"]): r for r in rows}
        data = [
            _raw_row(found.get((env, app, hour)), flag, env, app, hour)
            for env in sorted({r["environment"] for r in rows})
            for app in sorted({r["appName"] for r in rows if r["environment"] == env})
            for hour in hours
        ]
        data.sort(key=lambda r: r["timestamp"])
        return {"version": 1, "maturity": "stable", "data": data}

    def last_seen_at(self, flag: str) -> dict[str, str]:
        """Per environment, when the flag was last reported with non-zero counts."""
        seen = [doc for doc in self.last_seen.values() if doc["featureName"] == flag]
        return {doc["environment"]: doc["lastSeenAt"] for doc in seen}

    def applications(self) -> dict[str, Any]:
        environments: dict[str, set[str]] = {}
        for instance in self.instances.values():
            environments.setdefault(instance["appName"], set()).add(instance["environment"])
        apps = [
            {"appName": app, "usage": [{"project": "default", "environments": sorted(envs)}]}
            for app, envs in sorted(environments.items())
        ]
        return {"applications": apps, "total": len(apps)}

    def application(self, app_name: str) -> dict[str, Any] | None:
        mine = [i for i in self.instances.values() if i["appName"] == app_name]
        if not mine:
            return None
        fields = ("instanceId", "clientIp", "lastSeen", "sdkVersion", "environment")
        instances = [{f: i[f] for f in fields} for i in sorted(mine, key=_instance_order)]
        toggles = {r["featureName"] for r in self.rows.values() if r["appName"] == app_name}
        return {"appName": app_name, "instances": instances, "seenToggles": sorted(toggles)}

    def unknown_flags(self, now: float) -> dict[str, Any]:
        """Reports of the last 24 h grouped by flag then app, sorted by name, at most 1000."""
        since = now - UNKNOWN_FLAG_RETENTION_HOURS * HOUR
        by_flag: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for report in self.unknown.values():
            if report["seenAt"] >= since:
                apps = by_flag.setdefault(report["name"], {})
                apps.setdefault(report["appName"], []).append(report)
        flags = [_unknown_flag(name, by_flag[name]) for name in sorted(by_flag)]
        return {"unknownFlags": flags[:UNKNOWN_FLAG_LIMIT]}


def _instance_order(instance: dict[str, Any]) -> tuple[str, str]:
    return (instance["instanceId"], instance["environment"])


def _contribution(flag: str, app: str, env: str, hour: int, counts: Counts) -> dict[str, Any]:
    return {
        "featureName": flag,
        "appName": app,
        "environment": env,
        "hour": hour,
        "yes": counts.yes,
        "no": counts.no,
        "variants": counts.variants,
    }


def _raw_row(
    row: dict[str, Any] | None, flag: str, env: str, app: str, hour: int
) -> dict[str, Any]:
    return {
        "featureName": flag,
        "appName": app,
        "environment": env,
        "timestamp": iso(hour),
        "yes": row["yes"] if row else 0,
        "no": row["no"] if row else 0,
        "variants": row["variants"] if row else {},
    }


def _unknown_flag(name: str, apps: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    reports = [
        {
            "appName": app,
            "environments": [
                {"environment": r["environment"], "seenAt": iso(r["seenAt"])}
                for r in sorted(apps[app], key=lambda r: r["environment"])
            ],
        }
        for app in sorted(apps)
    ]
    last_seen = max(r["seenAt"] for reports_of_app in apps.values() for r in reports_of_app)
    return {"name": name, "lastSeenAt": iso(last_seen), "reports": reports}
