"""Plan benchmark: N matching definitions per platform against the sandbox on loopback with added
latency, read as `plan` reads them (expecting its N definitions).

Reports, per platform: list requests against their floor (ceil(N / max page size), plus Statsig's
tag list) and per-object requests (must be 0); the median fetch wall time of warm reads and of a
cold one (a new client: new connections and threads), with the client's own CPU for the read;
the fetch against four floors; the CPU of normalise + diff with 5% of pairs changed; and both
targets read at once.

The floors, for R requests with at most c in flight and latency L:
  issue       R x L / c, as the issue states it; no client reaches it when c does not divide R
              (10 pages, 8 in flight: 0.0625 s, but pages 9 and 10 cannot leave before a slot
              frees, one round trip in, so two round trips, 0.1 s, is the least possible)
  round trips ceil(R / c) x L: the least any client with c requests in flight can take
  page 1 first (1 + ceil((pages - 1) / c)) x L: a client that learns the count from page 1
  cpu         L + the read's own CPU: nothing is received or decoded before the first answer
              lands, and on one core under the GIL that work cannot hide under later waits

    python benchmarks/plan.py            # N=10,000, 50 ms per request, 15 warm reads
    python benchmarks/plan.py --n 1000 --latency-ms 300 --repeat 5
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from sandbox_child import sandbox_in_child

from metricsync.config import Policy, Target
from metricsync.definitions import Definition
from metricsync.diff import diff
from metricsync.planner import read_targets, target_view
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


def timed_read(provider: Any, n: int) -> tuple[Any, float, float]:
    """One read as a plan makes it (expecting its N definitions): the state, wall and CPU time."""
    provider.client.requests.clear()
    cpu, started = time.process_time(), time.perf_counter()
    state = provider.read(n)
    return state, time.perf_counter() - started, time.process_time() - cpu


def measure(
    make: Callable[[], Any], kind: str, n: int, page: int, latency: float, repeat: int
) -> dict[str, Any]:
    warm = make()
    warm.read(n)  # warms the sandbox's per-object JSON cache: server cost is not ours to time
    warm.close()
    provider = make()
    state, cold, _ = timed_read(provider, n)  # a new client: connections and threads start now
    walls, cpus = [], []
    for _ in range(repeat):
        del state  # the previous read is garbage before the next one starts, as in one plan
        state, wall, cpu = timed_read(provider, n)
        walls.append(wall)
        cpus.append(cpu)
    requests = sum(provider.client.requests.values())
    provider.close()
    floor_requests = math.ceil(n / page) + (kind == "statsig/metric")  # + Statsig's tag list
    c = provider.limits.concurrency
    fetch, cpu = statistics.median(walls), statistics.median(cpus)
    floors = {
        "issue": floor_requests * latency / c,
        "round trips": math.ceil(floor_requests / c) * latency,
        "page 1 first": (1 + math.ceil((math.ceil(n / page) - 1) / c)) * latency,
        "cpu": latency + cpu,
    }
    definitions = desired(kind, n, 20)
    diff_cpu = time.process_time()
    result = diff(definitions, state.objects, target_view(provider, state, frozenset()))
    diff_cpu = time.process_time() - diff_cpu
    return {
        "kind": kind,
        "objects": len(state.objects),
        "list requests": f"{requests} (floor {floor_requests})",
        "per-object requests": requests - floor_requests,
        "fetch s": f"{fetch:.3f} (p25-p75 {_quartiles(walls)}; cold {cold:.3f})",
        "fetch cpu s": round(cpu, 3),
        "x floor": ", ".join(
            f"{name} {f:.3f} s: {fetch / f:.2f}" if f else f"{name} 0 s"
            for name, f in floors.items()
        ),
        "changes": len(result.changes),
        "normalise+diff cpu s": round(diff_cpu, 3),
    }


def _quartiles(values: list[float]) -> str:
    if len(values) < 2:  # --repeat 1: one timing has no spread
        return f"{values[0]:.3f}"
    low, _, high = statistics.quantiles(values, n=4)
    return f"{low:.3f}-{high:.3f}"


def both_targets(providers: dict[str, Any], n: int, repeat: int) -> tuple[float, float]:
    """Median wall times of `planner.read_targets` over both targets, as `plan` reads them, and of
    the same reads one after the other, interleaved so that both see the same machine."""
    expected = {name: n for name in providers}
    at_once, apart = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        states = read_targets(providers, expected)
        at_once.append(time.perf_counter() - started)
        del states
        started = time.perf_counter()
        for provider in providers.values():
            provider.read(n)
        apart.append(time.perf_counter() - started)
    return statistics.median(at_once), statistics.median(apart)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=15, help="warm reads timed per platform")
    args = parser.parse_args()
    with sandbox_in_child(partial(seed, args.n), args.latency_ms) as url:
        latency = args.latency_ms / 1000
        makers = {
            "statsig": lambda: StatsigProvider(target("statsig", "statsig", url)),
            "posthog": lambda: PostHogProvider(target("posthog", "posthog", url)),
        }
        rows = [
            measure(makers["statsig"], "statsig/metric", args.n, STATSIG_PAGE, latency,
                    args.repeat),
            measure(makers["posthog"], "posthog/saved_metric", args.n, POSTHOG_PAGE, latency,
                    args.repeat),
        ]  # fmt: skip
        providers = {name: make() for name, make in makers.items()}
        both, apart = both_targets(providers, args.n, args.repeat)
        for provider in providers.values():
            provider.close()
    print(f"N={args.n} per platform, {args.latency_ms} ms added latency, pid {os.getpid()}")
    for row in rows:
        print("  " + "\n    ".join(f"{k}: {v}" for k, v in row.items()))
    print(f"  both targets, read at once as a plan reads them: {both:.3f} s (one after the other: "
          f"{apart:.3f} s)")  # fmt: skip


if __name__ == "__main__":
    main()
