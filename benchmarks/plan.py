"""Plan benchmark: N matching definitions per platform against the sandbox on loopback with added
latency. Reports list requests against the floor, per-object requests (must be 0), the median
fetch wall time against the latency floors (page 1 first, and the count known in advance) and
against the client's own CPU for the read, the CPU time of normalise + diff with 5% of pairs
changed, and both targets read at once as `plan` reads them.

    python benchmarks/plan.py            # N=10,000, 50 ms per request, 7 timed reads
    python benchmarks/plan.py --n 1000 --latency-ms 300 --repeat 3
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time
from functools import partial
from typing import Any

from sandbox_child import sandbox_in_child

from metricsync.config import Policy, Target
from metricsync.definitions import Definition
from metricsync.diff import diff
from metricsync.planner import read_states
from metricsync.platforms.posthog.provider import PAGE_SIZE as POSTHOG_PAGE
from metricsync.platforms.posthog.provider import PostHogProvider
from metricsync.platforms.statsig.provider import PAGE_SIZE as STATSIG_PAGE
from metricsync.platforms.statsig.provider import StatsigProvider

OWNER = "managed-by-metricsync"


def statsig_spec(i: int) -> dict[str, Any]:
    return {
        "type": "sum",
        "description": f"Revenue from checkout step {i}",
        "unitTypes": ["userID"],
        "tags": ["bench"],
        "metricEvents": [
            {
                "name": f"purchase_{i % 50}",
                "type": "value",
                "criteria": [
                    {"type": "metadata", "column": "currency", "condition": "in", "values": ["USD"]}
                ],
            }
        ],
    }


def posthog_spec(i: int) -> dict[str, Any]:
    return {
        "description": f"Mean order value {i}",
        "tags": ["bench"],
        "query": {
            "kind": "ExperimentMetric",
            "metric_type": "mean",
            "conversion_window": 7,
            "conversion_window_unit": "day",
            "source": {"kind": "EventsNode", "event": f"purchase_{i % 50}", "math": "sum"},
        },
    }


def seed(n: int) -> dict[str, Any]:
    statsig = [{"name": f"bench metric {i:05d}", **statsig_spec(i)} for i in range(n)]
    for metric in statsig:
        metric["tags"] = [*metric["tags"], OWNER]
    posthog = [
        {"name": f"bench metric {i:05d}", **posthog_spec(i), "tags": ["bench", OWNER]}
        for i in range(n)
    ]
    return {
        "statsig": {"metrics": statsig, "tags": [{"name": "bench"}, {"name": OWNER}]},
        "posthog": {
            "settings": {"max_page_size": POSTHOG_PAGE},
            "projects": {"1": {"saved_metrics": posthog}},
        },
    }


def desired(kind: str, n: int, changed_every: int) -> list[Definition]:
    make = statsig_spec if kind == "statsig/metric" else posthog_spec
    definitions = []
    for i in range(n):
        spec = make(i)
        if i % changed_every == 0:
            spec["description"] = f"Changed description {i}"
        definitions.append(Definition(kind, f"bench metric {i:05d}", spec))
    return definitions


def target(name: str, provider: str, url: str) -> Target:
    settings = {"project_id": "1", "sync_tags": True} if provider == "posthog" else {}
    key = "console-sandbox-key" if provider == "statsig" else "phx_sandbox_personal_key"
    return Target(name, provider, (), url, Policy(), settings, fixed_credentials={"api_key": key})


def timed_reads(provider: Any, n: int, repeat: int) -> tuple[Any, list[float], list[float]]:
    """`repeat` reads as a plan makes them (expecting its N definitions): wall and CPU times."""
    walls, cpus, state = [], [], None
    for _ in range(repeat):
        del state  # the previous read is garbage before the next one starts, as in one plan
        provider.client.requests.clear()
        cpu, started = time.process_time(), time.perf_counter()
        state = provider.read(n)
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
    return state, walls, cpus


def measure(
    provider: Any, kind: str, n: int, page: int, latency: float, repeat: int
) -> dict[str, Any]:
    provider.read(n)  # warms the sandbox's per-object JSON cache: server cost is not ours to time
    state, walls, cpus = timed_reads(provider, n, repeat)
    requests = sum(provider.client.requests.values())
    list_pages = math.ceil(n / page)
    tag_pages = 1 if kind == "statsig/metric" else 0  # Statsig: the tag list, read alongside
    concurrency = provider.limits.concurrency
    # The floor of a client that learns the count from page 1, then reads the rest c at a time;
    # and of one that knows it already (a plan expects its N definitions): c at a time from 0.
    floor = latency * (1 + math.ceil((list_pages - 1) / concurrency))
    known = latency * math.ceil(list_pages / concurrency)
    fetch, cpu = statistics.median(walls), statistics.median(cpus)
    definitions = desired(kind, n, 20)
    diff_cpu = time.process_time()
    result = diff(definitions, state.objects, provider.kind_diff(state))
    diff_cpu = time.process_time() - diff_cpu
    return {
        "kind": kind,
        "objects": len(state.objects),
        "list requests": requests,
        "floor": list_pages + tag_pages,
        "per-object requests": requests - list_pages - tag_pages,
        f"fetch s (median of {repeat})": round(fetch, 3),
        "latency floor s": round(floor, 3),
        "x floor": round(fetch / floor, 2),
        "floor if count known s": round(known, 3),
        "fetch cpu s": round(cpu, 3),
        "x max(floor, cpu)": round(fetch / max(floor, cpu), 2),
        "changes": len(result.changes),
        "normalise+diff cpu s": round(diff_cpu, 3),
    }


def both_targets(providers: dict[str, Any], n: int, repeat: int) -> float:
    """Median wall time of `planner.read_states` over both targets, as `plan` reads them."""
    walls = []
    for _ in range(repeat):
        started = time.perf_counter()
        states = read_states(providers, {name: n for name in providers})
        walls.append(time.perf_counter() - started)
        del states
    return statistics.median(walls)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=7, help="reads timed per platform")
    args = parser.parse_args()
    with sandbox_in_child(partial(seed, args.n), args.latency_ms) as url:
        latency = args.latency_ms / 1000
        providers = {
            "statsig": StatsigProvider(target("statsig", "statsig", url)),
            "posthog": PostHogProvider(target("posthog", "posthog", url)),
        }
        rows = [
            measure(providers["statsig"], "statsig/metric", args.n, STATSIG_PAGE, latency,
                    args.repeat),
            measure(providers["posthog"], "posthog/saved_metric", args.n, POSTHOG_PAGE, latency,
                    args.repeat),
        ]  # fmt: skip
        both = both_targets(providers, args.n, args.repeat)
    print(f"N={args.n} per platform, {args.latency_ms} ms added latency, pid {os.getpid()}")
    for row in rows:
        print("  " + ", ".join(f"{k}: {v}" for k, v in row.items()))
    apart = sum(row[f"fetch s (median of {args.repeat})"] for row in rows)
    print(f"  both targets, read at once as a plan reads them: {both:.3f} s (one after the other: "
          f"{apart:.3f} s)")  # fmt: skip
    print("(Statsig's request floor includes its tag-list page, read concurrently with the list;")
    print(" fetch cpu is the client's own: on one core under the GIL it cannot hide under latency)")


if __name__ == "__main__":
    main()
