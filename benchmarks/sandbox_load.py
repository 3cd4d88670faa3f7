"""Load benchmark of the sandbox: `sandbox serve` in a subprocess on 127.0.0.1, seeded with
10,000 Statsig metrics, hit by concurrent clients mixing list pages and single reads.

    python benchmarks/sandbox_load.py [--clients 20] [--seconds 10] [--metrics 10000]

Prints requests/s, the error count (expected 0) and p50/p95 latency per request kind, among them
the 1,000-item list page under load and alone. Stops by itself: the load phase is bounded and the
server is interrupted (then killed) on the way out.
"""

from __future__ import annotations

import argparse
import random
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import httpx

ROOT = Path(__file__).resolve().parents[1]
HEADERS = {"STATSIG-API-KEY": "console-sandbox-key", "STATSIG-API-VERSION": "20240601"}
LIST = "/console/v1/metrics/list"
# request kind -> share of the mix
MIX = (("read one metric", 0.5), ("list page of 100", 0.4), ("list page of 1,000", 0.1))


@contextmanager
def sandbox_process() -> Iterator[str]:
    """`metricsync sandbox serve` on a free loopback port, in memory; yields its URL."""
    command = [sys.executable, "-m", "metricsync", "sandbox", "serve", "--port", "0", "--memory"]
    with subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    ) as process:
        assert process.stderr is not None
        try:
            first = process.stderr.readline().split()
            if first[:3] != ["Sandbox", "listening", "on"]:
                raise SystemExit(f"sandbox did not start: {' '.join(first)}")
            # drain the banner in the background so the server never blocks on a full pipe
            threading.Thread(target=process.stderr.read, daemon=True).start()
            yield first[3]
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def seed(url: str, count: int) -> list[str]:
    """Seeds `count` Statsig metrics through /_sandbox/seed; returns their ids."""
    metrics = [
        {
            "name": f"load_metric_{n:05d}",
            "type": "sum",
            "description": f"Seeded metric number {n} for the load benchmark",
            "tags": [],
            "unitTypes": ["userID"],
            "metricEvents": [{"name": f"event_{n % 97}", "type": "value", "criteria": []}],
        }
        for n in range(count)
    ]
    with httpx.Client(base_url=url, timeout=120) as client:
        client.post("/_sandbox/seed", json={"statsig": {"metrics": metrics}}).raise_for_status()
    return [f"{m['name']}::sum" for m in metrics]


def request_for(kind: str, ids: list[str], rng: random.Random) -> tuple[str, dict[str, str]]:
    if kind == "read one metric":
        return f"/console/v1/metrics/{quote(rng.choice(ids), safe='')}", {}
    limit = 1000 if kind == "list page of 1,000" else 100
    page = rng.randint(1, len(ids) // limit)
    return LIST, {"page": str(page), "limit": str(limit)}


class Results:
    def __init__(self) -> None:
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.errors: list[str] = []
        self.lock = threading.Lock()

    def add(self, kind: str, seconds: float, error: str | None) -> None:
        with self.lock:
            self.latencies[kind].append(seconds)
            if error:
                self.errors.append(f"{kind}: {error}")


def client_loop(url: str, ids: list[str], deadline: float, seed_: int, results: Results) -> None:
    rng = random.Random(seed_)
    kinds, weights = [kind for kind, _ in MIX], [share for _, share in MIX]
    with httpx.Client(base_url=url, headers=HEADERS, timeout=30) as client:
        while time.perf_counter() < deadline:
            kind = rng.choices(kinds, weights)[0]
            path, params = request_for(kind, ids, rng)
            started, error = time.perf_counter(), None
            try:
                # status only: decoding 1,000 metrics costs the client ~10 ms, which would
                # measure the client's JSON parser instead of the sandbox
                response = client.get(path, params=params)
                if response.status_code != 200 or not response.content:
                    error = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            results.add(kind, time.perf_counter() - started, error)


def load(url: str, ids: list[str], clients: int, seconds: float) -> tuple[Results, float]:
    results = Results()
    started = time.perf_counter()
    deadline = started + seconds
    threads = [
        threading.Thread(target=client_loop, args=(url, ids, deadline, n, results), daemon=True)
        for n in range(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 60)  # bounded even if a request hangs
    return results, time.perf_counter() - started


def alone(url: str, pages: int = 30) -> list[float]:
    """Latency of 1,000-item pages sent one at a time with nothing else running."""
    timings = []
    with httpx.Client(base_url=url, headers=HEADERS, timeout=30) as client:
        for page in range(pages):
            started = time.perf_counter()
            client.get(LIST, params={"page": str(page % 10 + 1), "limit": "1000"}).read()
            timings.append(time.perf_counter() - started)
    return timings


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def report(results: Results, elapsed: float, alone_timings: list[float], clients: int) -> None:
    total = sum(len(v) for v in results.latencies.values())
    rate = f"{total / elapsed:,.0f} req/s"
    print(f"\n{clients} clients, {elapsed:.1f} s: {total:,} requests, {rate}, ", end="")
    print(f"{len(results.errors)} errors")
    print(f"\n| {'request':<32} | {'count':>6} | {'p50 ms':>7} | {'p95 ms':>7} |")
    print(f"|{'-' * 34}|{'-' * 8}|{'-' * 9}|{'-' * 9}|")
    rows = [(f"{kind} (under load)", results.latencies[kind]) for kind, _ in MIX]
    rows.append(("list page of 1,000 (alone)", alone_timings))
    for name, values in rows:
        if values:
            p50, p95 = percentile(values, 0.5) * 1000, percentile(values, 0.95) * 1000
            print(f"| {name:<32} | {len(values):>6} | {p50:>7.1f} | {p95:>7.1f} |")
    for error in results.errors[:5]:
        print(f"error: {error}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--metrics", type=int, default=10_000)
    args = parser.parse_args()
    seconds = min(args.seconds, 120.0)  # the benchmark always ends
    with sandbox_process() as url:
        started = time.perf_counter()
        ids = seed(url, args.metrics)
        print(
            f"sandbox at {url}; seeded {len(ids):,} Statsig metrics in "
            f"{time.perf_counter() - started:.2f} s; python {sys.version.split()[0]}"
        )
        results, elapsed = load(url, ids, args.clients, seconds)
        alone_timings = alone(url)
    report(results, elapsed, alone_timings, args.clients)
    return 1 if results.errors else 0


if __name__ == "__main__":
    sys.exit(main())
