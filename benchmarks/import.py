"""Import benchmark: N unmanaged live objects per platform in the sandbox on loopback (a child
process, with added latency), imported into an empty project. Reports the wall time by phase,
the read requests against the list-page floor, and, with --verify, that the next plan holds
exactly N adoptions per platform.

    python benchmarks/import.py                 # N=10,000 per platform, 50 ms per request
    python benchmarks/import.py --n 1000 --latency-ms 20 --verify --keep
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import tempfile
import time
from collections import Counter
from functools import partial
from pathlib import Path
from typing import Any

from sandbox_child import sandbox_in_child

from metricsync.import_run import import_objects
from metricsync.importer import ImportOptions
from metricsync.platforms.posthog.provider import PAGE_SIZE as POSTHOG_PAGE
from metricsync.platforms.statsig.provider import PAGE_SIZE as STATSIG_PAGE

CONDITIONS = ("in", "not_in", "=", ">", "contains")


def statsig_metric(i: int) -> dict[str, Any]:
    kind = ("sum", "ratio", "event_count_custom", "mean")[i % 4]
    criterion = {"type": "metadata", "column": "currency", "condition": CONDITIONS[i % 5]}
    criteria = [{**criterion, "values": ["USD"]}]
    return {
        "name": f"Imported metric {i:05d}",
        "type": kind,
        "description": f"Revenue from checkout step {i}" if i % 3 else "",
        "unitTypes": ["userID"],
        "tags": ["bench"],
        "isReadOnly": i % 2 == 0,
        "metricEvents": [
            {"name": f"purchase_{i % 50}", "type": "value", "criteria": criteria},
            *([{"name": "visit", "type": "count"}] if kind == "ratio" else []),
        ],
    }


def posthog_metric(i: int) -> dict[str, Any]:
    node = {"kind": "EventsNode", "event": f"purchase_{i % 50}", "math": "sum", "name": None}
    query: dict[str, Any] = {"kind": "ExperimentMetric", "metric_type": ("mean", "funnel")[i % 2]}
    if i % 2:
        query["series"] = [node, {"kind": "EventsNode", "event": "$pageview"}]
    else:
        query.update(source=node, conversion_window=7, conversion_window_unit="day")
    description = f"Mean order value {i}" if i % 3 else None
    return {"name": f"Imported metric {i:05d}", "description": description, "query": query}


def seed(n: int) -> dict[str, Any]:
    return {
        "statsig": {
            "settings": {"rate_limits": []},
            "metrics": [statsig_metric(i) for i in range(n)],
        },
        "posthog": {
            "settings": {"rate_limits": [], "max_page_size": POSTHOG_PAGE},
            "projects": {"1": {"saved_metrics": [posthog_metric(i) for i in range(n)]}},
        },
    }


def project(url: str) -> Path:
    root = Path(tempfile.mkdtemp(prefix="metricsync-import-bench-"))
    for folder in ("statsig", "posthog"):
        (root / "definitions" / folder).mkdir(parents=True)
    (root / "metricsync.yaml").write_text(
        "version: 1\ntargets:\n"
        f"  statsig:\n    provider: statsig\n    base_url: {url}\n"
        "    api_key: env:BENCH_STATSIG_KEY\n    definitions: [definitions/statsig]\n"
        f"  posthog:\n    provider: posthog\n    host: {url}\n    project_id: '1'\n"
        "    api_key: env:BENCH_POSTHOG_KEY\n    definitions: [definitions/posthog]\n",
        encoding="utf-8",
    )
    os.environ["BENCH_STATSIG_KEY"] = "console-sandbox-key"
    os.environ["BENCH_POSTHOG_KEY"] = "phx_sandbox_personal_key"
    return root


def measure(root: Path, target: str, n: int, page: int, latency: float) -> dict[str, Any]:
    marks: list[tuple[str, float]] = []
    started = time.perf_counter()
    report = import_objects(
        root / "metricsync.yaml",
        target,
        ImportOptions(),
        progress=lambda message: marks.append((message, time.perf_counter())),
    )
    wall = time.perf_counter() - started
    # Phases from the progress messages, which imports of 500 objects or more print.
    read = next((t for m, t in marks if m.startswith("Read")), started) - started
    writing = next((t for m, t in marks if m.startswith("Writing")), started)
    list_pages = math.ceil(n / page)
    floor = list_pages + (1 if target == "statsig" else 0)  # Statsig also reads its tag list
    concurrency = 8
    return {
        "target": target,
        "written": len(report.written),
        "wall s": round(wall, 2),
        "read s": round(read, 2),
        "latency floor s": round(latency * (1 + math.ceil((list_pages - 1) / concurrency)), 2),
        "convert+check+name s": round(writing - started - read, 2),
        "render+write s": round(started + wall - writing, 2),
        "requests": report.requests,
        "request floor": floor,
    }


def verify(root: Path) -> dict[str, Counter[str]]:
    from metricsync.planner import build_plan, open_session

    with open_session(root / "metricsync.yaml") as session:
        plan = build_plan(session.workspace, session.providers)
    return {t.target: Counter(c.action.value for c in t.changes) for t in plan.targets}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--verify", action="store_true", help="plan afterwards: N adoptions each")
    parser.add_argument("--keep", action="store_true", help="keep the project with its files")
    args = parser.parse_args()
    with sandbox_in_child(partial(seed, args.n), args.latency_ms) as url:
        root = project(url)
        latency = args.latency_ms / 1000
        rows = [
            measure(root, "statsig", args.n, STATSIG_PAGE, latency),
            measure(root, "posthog", args.n, POSTHOG_PAGE, latency),
        ]
        plans = verify(root) if args.verify else None
    if not args.keep:
        shutil.rmtree(root)
    where = f", files in {root}" if args.keep else ""
    print(f"N={args.n} per platform, {args.latency_ms} ms added latency{where}")
    for row in rows:
        print("  " + ", ".join(f"{k}: {v}" for k, v in row.items()))
    if plans is not None:
        print("  next plan: " + "; ".join(f"{t}: {dict(c)}" for t, c in plans.items()))


if __name__ == "__main__":
    main()
