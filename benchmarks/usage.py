"""Usage-lookup benchmark (experiments that use a metric, docs/platforms/): a plan of 10,000
metrics per platform with 5% changed in descriptions and 50 deletes, against accounts with 200
experiments per platform, on loopback with 50 ms added latency (sandbox in a child process).

Reports, per platform: the lookup requests made against the minimum this design needs, the
lookup phase's wall time against its round-trip floor, the whole plan's wall time (read, diff,
lookups) against the same plan on an account without experiments, and the lookups of the same
plan without its deletes (descriptions only: there must be none).

Minimum requests: Statsig, one lineage read per deleted metric plus the experiments list once
(ceil(E / 100) pages, for tag-based scorecards); PostHog, which has no reverse lookup and whose
current list omits the links, the two experiment lists (archived and not) plus one detail read
per experiment. Floors, with c requests in flight and latency L: Statsig ceil(D / c) x L (the
list pages overlap the lineage reads); PostHog (1 + ceil(E / c)) x L.

    python benchmarks/usage.py                  # 10,000 metrics, 200 experiments, 50 ms
    python benchmarks/usage.py --n 2000 --experiments 50 --repeat 1
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from functools import partial
from typing import Any

from plan import desired, seed, target
from sandbox_child import sandbox_in_child

from metricsync.plan import TargetPlan
from metricsync.planner import Overrides, plan_target, read_targets
from metricsync.platforms.posthog.provider import PostHogProvider
from metricsync.platforms.statsig.experiments import PAGE_SIZE as STATSIG_LOOKUP_PAGE
from metricsync.platforms.statsig.provider import StatsigProvider

DELETES = 50
CHANGED_EVERY = 20  # 5% of the definitions change their description
KINDS = {"statsig": "statsig/metric", "posthog": "posthog/saved_metric"}


def name(i: int) -> str:
    return f"bench metric {i:05d}"


def with_experiments(n: int, count: int) -> dict[str, Any]:
    """The plan benchmark's estate plus `count` experiments per platform, half of them running,
    each using three metrics: one of the deleted ones and two that stay."""
    data = seed(n)
    data["posthog"]["settings"]["rate_limits"] = []  # repeated runs: only the client paces
    deleted = [n - 1 - d for d in range(DELETES)]
    statsig, posthog = [], []
    for e in range(count):
        used = [deleted[e % DELETES], (e * 37) % (n - DELETES), (e * 91 + 5) % (n - DELETES)]
        running = e % 2 == 0
        statsig.append(
            {
                "id": f"bench_experiment_{e:03d}",
                "status": "active" if running else "decision_made",
                "primaryMetrics": [{"name": name(i), "type": "sum"} for i in used],
            }
        )
        posthog.append(
            {
                "name": f"bench experiment {e:03d}",
                "status": "running" if running else "stopped",
                "archived": not running and e % 4 == 1,
                "saved_metrics": [i + 1 for i in used],  # seeded ids count from 1
            }
        )
    data["statsig"]["experiments"] = statsig
    data["posthog"]["projects"]["1"]["experiments"] = posthog
    return data


def minimum(platform: str, experiments: int, deletes: int) -> int:
    if platform == "statsig":
        return deletes + max(1, math.ceil(experiments / STATSIG_LOOKUP_PAGE))
    return 2 + experiments


def floor_seconds(platform: str, experiments: int, deletes: int, c: int, latency: float) -> float:
    if platform == "statsig":
        return max(math.ceil(deletes / c), math.ceil(experiments / STATSIG_LOOKUP_PAGE)) * latency
    return (1 + math.ceil(experiments / c)) * latency


def one_plan(make: Callable[[], Any], platform: str, n: int, deletes: int) -> dict[str, Any]:
    """A plan as `plan` makes it for one target: read, diff, lookups; timed in phases."""
    provider = make()
    definitions = desired(KINDS[platform], n - deletes, CHANGED_EVERY)
    started = time.perf_counter()
    state = provider.read(len(definitions))
    read = time.perf_counter() - started
    looked_up: list[float] = []
    usage = provider.usage

    def timed_usage(objects: Any) -> Any:
        began = time.perf_counter()
        try:
            return usage(objects)
        finally:
            looked_up.append(time.perf_counter() - began)

    provider.usage = timed_usage
    plan: TargetPlan = plan_target(provider.target, definitions, provider, Overrides(), state)
    total = time.perf_counter() - started
    provider.close()
    return {
        "plan": plan,
        "read": read,
        "lookup": sum(looked_up),
        "total": total,
    }


def run(make: Callable[[], Any], platform: str, n: int, deletes: int, repeat: int) -> Any:
    runs = [one_plan(make, platform, n, deletes) for _ in range(repeat)]
    return runs[-1]["plan"], {
        key: statistics.median(r[key] for r in runs) for key in ("read", "lookup", "total")
    }


def both_targets(url: str, n: int, repeat: int) -> tuple[float, float]:
    """Median wall time of planning both targets from their read states at once, as
    `build_plan` does (one platform's lookups overlapping the other's), and one after the other."""
    at_once, apart = [], []
    for _ in range(repeat):
        for timings, concurrent in ((at_once, True), (apart, False)):
            providers = {platform: make() for platform, make in makers(url).items()}
            states = read_targets(providers, dict.fromkeys(providers, n - DELETES))
            jobs = [
                (p.target, desired(KINDS[name], n - DELETES, CHANGED_EVERY), p, Overrides(),
                 states[name])
                for name, p in providers.items()
            ]  # fmt: skip
            started = time.perf_counter()
            if concurrent:
                with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
                    list(pool.map(lambda job: plan_target(*job), jobs))
            else:
                for job in jobs:
                    plan_target(*job)
            timings.append(time.perf_counter() - started)
            for provider in providers.values():
                provider.close()
    return statistics.median(at_once), statistics.median(apart)


def makers(url: str) -> dict[str, Callable[[], Any]]:
    def pruning(platform: str) -> Any:
        base = target(platform, platform, url)
        return replace(base, policy=replace(base.policy, prune=True, max_deletes=DELETES))

    return {
        "statsig": lambda: StatsigProvider(pruning("statsig")),
        "posthog": lambda: PostHogProvider(pruning("posthog")),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--experiments", type=int, default=200)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3, help="plans timed per case (median)")
    args = parser.parse_args()
    if args.n <= DELETES:  # the estate deletes DELETES metrics and keeps some in use
        parser.error(f"--n must be over {DELETES}: the plan deletes {DELETES} metrics")
    latency = args.latency_ms / 1000
    results: dict[str, dict[str, Any]] = {}
    estate = partial(with_experiments, args.n, args.experiments)
    with sandbox_in_child(estate, args.latency_ms) as url:
        for platform, make in makers(url).items():
            results[platform] = {
                "with": run(make, platform, args.n, DELETES, args.repeat),
                "descriptions only": run(make, platform, args.n, 0, 1),
            }
        both, apart = both_targets(url, args.n, args.repeat)
    with sandbox_in_child(partial(seed, args.n), args.latency_ms) as url:
        for platform, make in makers(url).items():
            results[platform]["without"] = run(make, platform, args.n, DELETES, args.repeat)
    print(
        f"N={args.n} metrics per platform, {DELETES} deletes, {100 // CHANGED_EVERY}% changed "
        f"descriptions, {args.experiments} experiments per platform, {args.latency_ms} ms "
        f"latency, median of {args.repeat}"
    )
    for platform, cases in results.items():
        plan, times = cases["with"]
        bare_plan, bare = cases["without"]
        only_plan, _ = cases["descriptions only"]
        c = (StatsigProvider if platform == "statsig" else PostHogProvider).limits.concurrency
        floor = floor_seconds(platform, args.experiments, DELETES, c, latency)
        deletes = sum(1 for change in plan.changes if change.action == "delete")
        used = sum(1 for change in plan.changes if change.used_by)
        print(f"  {platform}:")
        print(f"    changes: {len(plan.changes)} ({deletes} deletes, {used} with experiments)")
        print(
            f"    lookup requests: {plan.lookups} (minimum "
            f"{minimum(platform, args.experiments, DELETES)}); plan API calls {plan.api_calls}"
        )
        print(f"    lookup wall: {times['lookup']:.3f} s (round-trip floor {floor:.3f} s)")
        print(
            f"    plan wall: {times['total']:.3f} s (read {times['read']:.3f} s) vs "
            f"{bare['total']:.3f} s without experiments (lookups {bare_plan.lookups}, "
            f"{bare['lookup']:.3f} s)"
        )
        print(f"    descriptions only: {only_plan.lookups} lookup requests")
    print(
        f"  both targets planned from their read states at once (as build_plan does): "
        f"{both:.3f} s (one after the other: {apart:.3f} s)"
    )


if __name__ == "__main__":
    main()
