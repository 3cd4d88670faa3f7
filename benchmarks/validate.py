"""Validate benchmark: N generated definitions (one file each), timed against the parse floor.

Generates N realistic definitions (30-60 lines, the four kinds, mostly Statsig and PostHog; fixed
seed) into a temporary project, then times in the same run, median of 3, interleaved:
the floor (read bytes + libyaml CSafeLoader parse of the same files, GC paused as the tool does),
a cold `validate --no-cache`, and a warm `validate` (cache present, no file changed), each as a
subprocess `python -m metricsync validate` and in-process; the first run of a checkout (cold,
writing the cache); and `metricsync --help` start-up. Cold and warm output must be identical.
The cold and warm runs are timed again on a copy of the project whose config adds five rules
(RULES, which every definition follows), and the rules' share of each time is printed.

    python benchmarks/validate.py              # N=10,000
    python benchmarks/validate.py --n 1000 --invalid-percent 1
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

CONFIG = """\
version: 1
targets:
  statsig-prod:
    provider: statsig
    api_key: env:STATSIG_CONSOLE_API_KEY
    definitions: [definitions/statsig]
  posthog-us:
    provider: posthog
    project_id: "12345"
    api_key: env:POSTHOG_PERSONAL_API_KEY
    definitions: [definitions/posthog]
  userflux:
    provider: userflux
    client_secret: env:USERFLUX_CLIENT_SECRET
    environment_api_key: env:USERFLUX_METRICS_API_KEY
    definitions: [definitions/userflux]
  unleash:
    provider: unleash
    url: https://unleash.example.com/api
    api_token: env:UNLEASH_BACKEND_TOKEN
    definitions: [definitions/unleash]
"""

# Five rules every generated definition follows, so the run with them prints what the run
# without them does and the difference is their cost alone.
RULES = """\
rules:
  statsig/metric:
    name_pattern: 'Bench [a-z_]+ metric [0-9]{6}'
    required: [spec.description, spec.tags, lifecycle.protect]
    one_tag_of: [checkout, revenue, growth, mobile]
  posthog/saved_metric:
    name_pattern: 'Bench [a-z]+ saved metric [0-9]{6}'
    required: [spec.description, spec.query.conversion_window]
"""

TEXT = """users sessions checkout purchase revenue order value cart page view signup retention
first week mobile desktop paid plan conversion share per exposed variant within days of the and
that who start complete events counted excluding internal traffic currency"""
WORDS = TEXT.split()
EVENTS = ["purchase", "checkout_start", "add_to_cart", "signup", "page_view", "search", "login"]
COLUMNS = ["currency", "device", "country", "plan", "referrer", "browser"]


def sentence(rng: random.Random, low: int, high: int) -> str:
    words = rng.choices(WORDS, k=rng.randint(low, high))
    return " ".join(words).capitalize() + "."


def description(rng: random.Random, indent: str) -> list[str]:
    if rng.random() < 0.3:
        return [f"{indent}description: |", *(f"{indent}  {sentence(rng, 6, 14)}" for _ in "abc")]
    return [f"{indent}description: {sentence(rng, 6, 20)}"]


def criteria(rng: random.Random, indent: str) -> list[str]:
    lines = [f"{indent}criteria:"]
    for _ in range(rng.randint(1, 3)):
        column = rng.choice(COLUMNS)
        values = ", ".join(rng.sample(["US", "GB", "CA", "ios", "android", "free", "pro"], 2))
        lines += [
            f"{indent}  - type: metadata",
            f"{indent}    column: {column}",
            f"{indent}    condition: {rng.choice(['in', 'not_in'])}",
            f"{indent}    values: [{values}]",
        ]
    return lines


def header(rng: random.Random, schema: str, what: str) -> list[str]:
    notes = [f"# {sentence(rng, 8, 14)}" for _ in range(rng.randint(3, 6))]
    return [f"# yaml-language-server: $schema=../../schemas/{schema}.schema.json", what, *notes]


def lifecycle(rng: random.Random, i: int) -> list[str]:
    lines = ["lifecycle:", f"  protect: {rng.choice(['true', 'false'])}"]
    if rng.random() < 0.3:
        lines.append(f"  renamed_from: [Old bench metric {i:06d}]")
    return [*lines, "  ignore_changes: [spec.description]"]


def statsig(rng: random.Random, i: int) -> list[str]:
    kind = rng.choice(["ratio", "sum", "event_count_custom", "mean", "funnel"])
    lines = [
        *header(rng, "statsig/metric", f"# Generated Statsig {kind} metric number {i}."),
        "kind: statsig/metric",
        f"name: Bench {kind} metric {i:06d}",
        "spec:",
        f"  type: {kind}",
        *description(rng, "  "),
        f"  directionality: {rng.choice(['increase', 'decrease'])}",
        "  unitTypes: [userID]",
        f"  tags: [{', '.join(rng.sample(['checkout', 'revenue', 'growth', 'mobile'], 2))}]",
        "  isReadOnly: true",
        f"  isPermanent: {rng.choice(['true', 'false'])}",
    ]
    if kind == "funnel":
        lines += ["  funnelCountDistinct: users", "  funnelEventList:"]
        for event in rng.sample(EVENTS, rng.randint(2, 4)):
            lines += [f"    - name: {event}", "      type: event_user"]
            lines += criteria(rng, "      ") if rng.random() < 0.5 else []
    else:
        lines.append("  metricEvents:")
        for event in rng.sample(EVENTS, 2 if kind == "ratio" else 1):
            kind_of = "value" if kind in ("sum", "mean") else "count"
            lines += [f"    - name: {event}", f"      type: {kind_of}", *criteria(rng, "      ")]
    if rng.random() < 0.4:
        lines += ["  rollupTimeWindow: custom", "  customRollUpStart: 0", "  customRollUpEnd: 13"]
    return [*lines, *lifecycle(rng, i)]


def posthog(rng: random.Random, i: int) -> list[str]:
    kind = rng.choice(["mean", "funnel", "ratio"])
    lines = [
        *header(rng, "posthog/saved_metric", f"# Generated PostHog {kind} saved metric {i}."),
        "kind: posthog/saved_metric",
        f"name: Bench {kind} saved metric {i:06d}",
        "spec:",
        *description(rng, "  "),
        f"  tags: [{', '.join(rng.sample(['checkout', 'revenue', 'growth'], 2))}]",
        "  query:",
        "    kind: ExperimentMetric",
        f"    metric_type: {kind}",
        "    goal: increase",
        f"    conversion_window: {rng.randint(1, 30)}",
        "    conversion_window_unit: day",
    ]
    if kind == "mean":
        lines += ["    upper_bound_percentile: 0.99", *source(rng, "    source:", "      ")]
    elif kind == "ratio":
        lines += [
            *source(rng, "    numerator:", "      "),
            *source(rng, "    denominator:", "      "),
        ]
    else:
        lines += ["    funnel_order_type: ordered", "    series:"]
        for event in rng.sample(EVENTS, rng.randint(2, 4)):
            lines += ["      - kind: EventsNode", f"        event: {event}", *step(rng)]
    return [*lines, *lifecycle(rng, i)]


def step(rng: random.Random) -> list[str]:
    if rng.random() < 0.5:
        return []
    return [
        "        properties:",
        f"          - key: {rng.choice(COLUMNS)}",
        f"            value: {rng.choice(['USD', 'EUR', 'pro'])}",
        "            operator: exact",
        "            type: event",
    ]


def source(rng: random.Random, head: str, indent: str) -> list[str]:
    return [
        head,
        f"{indent}kind: EventsNode",
        f"{indent}event: {rng.choice(EVENTS)}",
        f"{indent}math: {rng.choice(['sum', 'total'])}",
        f"{indent}math_property: amount",
        f"{indent}properties:",
        f"{indent}  - key: {rng.choice(COLUMNS)}",
        f"{indent}    value: {rng.choice(['USD', 'EUR', 'pro'])}",
        f"{indent}    operator: exact",
        f"{indent}    type: event",
    ]


def userflux(rng: random.Random, i: int) -> list[str]:
    return [
        "# yaml-language-server: $schema=../../schemas/userflux/query.schema.json",
        f"# Generated UserFlux SQL query number {i}: placeholders are bound from variables.",
        "kind: userflux/query",
        f"name: bench query {i:06d}",
        "spec:",
        "  sql: |",
        "    SELECT timestamp, userId, ufProperties.amount AS amount,",
        "           ufProperties.currency AS currency, ufProperties.device AS device",
        "    FROM eventsTable",
        "    WHERE name = '@{eventName}' AND ufProperties.currency = '@{currency}'",
        "    ORDER BY timestamp DESC",
        "    LIMIT @{rowLimit}",
        "  variables:",
        f"    eventName: {rng.choice(EVENTS)}",
        f"    currency: {rng.choice(['USD', 'EUR'])}",
        f"    rowLimit: {rng.randint(10, 500)}",
        "  expect:",
        "    min_rows: 1",
        "    columns: [timestamp, userId, amount, currency, device]",
        "lifecycle:",
        "  protect: false",
    ] + [f"# note {n}: {sentence(rng, 5, 12)}" for n in range(rng.randint(8, 25))]


def unleash(rng: random.Random, i: int) -> list[str]:
    lines = [
        *header(rng, "unleash/usage", f"# Generated Unleash usage payload number {i}."),
        "kind: unleash/usage",
        f"name: bench usage {i:06d}",
        "spec:",
        "  appName: metricsync",
        f"  instanceId: ci-run-{i}",
        "  bucket:",
        "    start: 2026-03-01T10:00:00Z",
        "    stop: 2026-03-01T11:00:00Z",
        "    toggles:",
    ]
    for flag in range(rng.randint(5, 10)):
        lines += [
            f"      flag-{flag}:",
            f"        yes: {rng.randint(1, 500)}",
            f"        no: {rng.randint(0, 500)}",
        ]
        if flag % 2 == 0:
            lines += ["        variants:", f"          blue: {rng.randint(0, 50)}"]
    return lines


KINDS = [(statsig, "statsig", 45), (posthog, "posthog", 40), (userflux, "userflux", 10)]
KINDS.append((unleash, "unleash", 5))


def generate(root: Path, n: int, invalid_percent: float, seed: int = 20261122) -> list[Path]:
    """Writes the project; a few definitions get one injected error when asked."""
    rng = random.Random(seed)
    (root / "metricsync.yaml").write_text(CONFIG)
    files = []
    for folder in ("statsig", "posthog", "userflux", "unleash"):
        (root / "definitions" / folder).mkdir(parents=True)
    weights = [w for _, _, w in KINDS]
    for i in range(n):
        make, folder, _ = rng.choices(KINDS, weights)[0]
        lines = make(rng, i)
        if rng.random() * 100 < invalid_percent:  # a misspelt envelope key: every kind refuses it
            kind = next(at for at, line in enumerate(lines) if line.startswith("kind:"))
            lines.insert(kind, "lifecyle: {}")
        path = root / "definitions" / folder / f"{folder}_{i:06d}.yaml"
        path.write_text("\n".join(lines) + "\n")
        files.append(path)
    return files


def floor(files: list[Path]) -> None:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    gc.disable()
    try:
        for path in files:
            with open(path, "rb") as handle:
                list(yaml.load_all(handle.read(), Loader=loader))
    finally:
        gc.enable()


def in_process(root: Path, *flags: str) -> Callable[[], None]:
    def run() -> None:
        from metricsync.cli.main import run as cli_run

        previous = os.getcwd()
        os.chdir(root)
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                code = cli_run(["validate", *flags])
        finally:
            os.chdir(previous)
        assert code in (0, 3), code

    return run


def subprocess_run(root: Path, *flags: str) -> Callable[[], None]:
    def run() -> None:
        command = [sys.executable, "-m", "metricsync", "validate", *flags]
        done = subprocess.run(command, cwd=root, capture_output=True, check=False)
        assert done.returncode in (0, 3), done.stderr

    return run


def first_run(root: Path) -> Callable[[], None]:
    """A cold run that also writes the cache, as the first validate of a checkout does."""
    run = subprocess_run(root)

    def cold() -> None:
        shutil.rmtree(root / ".metricsync", ignore_errors=True)
        run()

    return cold


def timed(function: Callable[[], None]) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def cpu_timed(function: Callable[[], None]) -> tuple[float, float]:
    """Wall time and CPU time (this process and its children, user + system). On a shared
    machine the CPU time moves far less with other load than the wall time does."""
    before, own, started = os.times(), time.process_time(), time.perf_counter()
    function()
    wall, own, after = time.perf_counter() - started, time.process_time() - own, os.times()
    children = after.children_user + after.children_system
    return wall, own + children - before.children_user - before.children_system


def output(root: Path, *flags: str) -> bytes:
    command = [sys.executable, "-m", "metricsync", "validate", *flags]
    return subprocess.run(command, cwd=root, capture_output=True, check=False).stdout


def startup(runs: int) -> tuple[float, float]:
    """Median wall time of the console script's --help, and of a bare `python -c pass`.

    The script beside this interpreter is timed, not a version manager's shim in front of it.
    """
    script = Path(sys.executable).with_name("metricsync")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "metricsync"]
    cases = {"help": [*command, "--help"], "bare": [sys.executable, "-c", "pass"]}
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, argv in cases.items():
            started = time.perf_counter()
            subprocess.run(argv, capture_output=True, check=True)
            times[name].append(time.perf_counter() - started)
    return statistics.median(times["help"]), statistics.median(times["bare"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--invalid-percent", type=float, default=0.0)
    parser.add_argument("--keep", action="store_true", help="Keep the generated project.")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="metricsync-bench-"))
    try:
        report(root, args)
    finally:
        if not args.keep:
            shutil.rmtree(root)


RULED = "with 5 rules: "
RULES_ALONE = "the rules alone, every definition checked in-process"


def rules_alone(ruled: Path) -> Callable[[], None]:
    """The rules' own work: every parsed definition checked, without reading or parsing."""
    from metricsync import governance, validation
    from metricsync.config_file import load_config

    config = load_config(ruled / "metricsync.yaml")
    targets = list(config.targets.values())
    work = []
    for folder in dict.fromkeys(f for t in targets for f in t.definitions):
        rules = governance.for_folder(targets, folder)
        for path in sorted((ruled / folder).rglob("*.yaml")):
            source = path.read_bytes()
            work.append((rules, str(path), source, validation.check_file(str(path), source).valid))

    def run() -> None:
        found = [rules.check(file, source, valid) for rules, file, source, valid in work]
        assert not any(found), "the benchmark's definitions all follow the rules"

    return run


def with_rules(root: Path) -> Path:
    """A copy of the generated project whose config adds RULES (its own cache, same files)."""
    ruled = root / "with-rules"
    shutil.copytree(root / "definitions", ruled / "definitions")
    (ruled / "metricsync.yaml").write_text(CONFIG + RULES)
    return ruled


def report(root: Path, args: argparse.Namespace) -> None:
    files = generate(root, args.n, args.invalid_percent)
    lines = [len(p.read_bytes().splitlines()) for p in files]
    size = sum(p.stat().st_size for p in files)
    cold_text, warm_text = output(root, "--no-cache"), output(root)  # primes the cache
    assert output(root) == warm_text == cold_text, "a cached run must print what a cold one does"
    ruled = with_rules(root)
    assert output(ruled, "--no-cache") == output(ruled) == output(ruled) == cold_text
    cases = {
        "floor: read + CSafeLoader (in-process)": lambda: floor(files),
        "cold validate --no-cache, in-process": in_process(root, "--no-cache"),
        "cold validate --no-cache, subprocess": subprocess_run(root, "--no-cache"),
        "cold validate writing the cache, subprocess": first_run(root),
        "warm validate (cache), in-process": in_process(root),
        "warm validate (cache), subprocess": subprocess_run(root),
        RULED + "cold validate --no-cache, in-process": in_process(ruled, "--no-cache"),
        RULED + "cold validate --no-cache, subprocess": subprocess_run(ruled, "--no-cache"),
        RULED + "warm validate (cache), in-process": in_process(ruled),
        RULED + "warm validate (cache), subprocess": subprocess_run(ruled),
    }
    in_process(root)()  # imports and schema compilation once, as a subprocess pays them anyway
    cases[RULES_ALONE] = rules_alone(ruled)
    samples: dict[str, list[float]] = {name: [] for name in cases}
    cpu: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.repeat):
        for name, function in cases.items():
            wall, used = cpu_timed(function)
            samples[name].append(wall)
            cpu[name].append(used)
    medians = {name: statistics.median(times) for name, times in samples.items()}
    base = medians["floor: read + CSafeLoader (in-process)"]
    quantiles = statistics.quantiles(lines, n=10)
    print(f"N={args.n} files, {size / 1e6:.1f} MB, lines p10 {quantiles[0]:.0f} "
          f"median {statistics.median(lines):.0f} p90 {quantiles[-1]:.0f}; "
          f"{cold_text.decode().splitlines()[-1]}")  # fmt: skip
    print(f"{'case':<58} {'median s':>9} {'x floor':>8}   runs")
    for name, value in medians.items():
        runs = " ".join(f"{t:.3f}" for t in samples[name])
        print(f"{name:<58} {value:>9.3f} {value / base:>8.2f}   {runs}")
    print(f"\nthe rules' share: {RULED}vs without; median wall, min wall, median CPU (s)")
    for name in medians:
        if name.startswith(RULED):
            plain = name.removeprefix(RULED)
            figures = [
                (statistics.median(samples[plain]), statistics.median(samples[name])),
                (min(samples[plain]), min(samples[name])),
                (statistics.median(cpu[plain]), statistics.median(cpu[name])),
            ]
            shown = "   ".join(
                f"{a:.3f} -> {b:.3f} ({(b - a) / a * 100:+.1f}%)" for a, b in figures
            )
            print(f"  {plain:<42} {shown}")
    alone = statistics.median(cpu[RULES_ALONE])
    print(f"  {RULES_ALONE}: {alone * 1000:.1f} ms CPU, {alone / args.n * 1e6:.1f} us a definition")
    help_time, bare = startup(11)
    print(f"metricsync --help: {help_time * 1000:.0f} ms (python -c pass: {bare * 1000:.0f} ms)")


if __name__ == "__main__":
    main()
