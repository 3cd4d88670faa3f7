"""Ctrl-C during a real `metricsync apply` process against `metricsync sandbox serve` with
latency: the process exits 130 (143 for SIGTERM), reports every change, sends no write after
the signal (the sandbox's request log and state agree with its report), and a second apply
converges with no duplicate. Every wait is for observable progress, each one bounded."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import IO

import httpx
import pytest

from metricsync.cli.main import run
from metricsync.platforms.statsig.provider import LIMITS
from tests.engine.test_scenarios import SUM
from tests.sandbox.test_serve import STATSIG, client, serving

NAMES = [f"Metric {i:03}" for i in range(90)]  # under one rate-limit window: no pacing waits
OUTCOME = re.compile(
    r"^  (ok|failed|skipped|not started)\s+statsig-test: create statsig/metric '(.+?)'"
)
CREATES = ("POST", "/console/v1/metrics")


def project_at(root: Path, url: str, names: list[str] = NAMES) -> Path:
    config = root / "metricsync.yaml"
    config.write_text(
        "version: 1\ntargets:\n  statsig-test:\n    provider: statsig\n"
        f"    base_url: {url}\n    api_key: env:TEST_STATSIG_KEY\n"
        "    definitions: [definitions]\n",
        encoding="utf-8",
    )
    (root / "definitions").mkdir()
    for i, name in enumerate(names):
        text = SUM.format(name=name, type="sum", description="Revenue")
        (root / "definitions" / f"m{i:03}.yaml").write_text(text, encoding="utf-8")
    return config


def creates(http: httpx.Client) -> int:
    log = http.get("/_sandbox/requests").json()["requests"]
    return sum(1 for r in log if (r["method"], r["path"]) == CREATES)


def live(http: httpx.Client) -> list[str]:
    params = {"page": 1, "limit": 1000, "showHiddenMetrics": "true"}
    metrics = http.get("/console/v1/metrics/list", params=params, headers=STATSIG).json()["data"]
    return sorted(str(m["name"]) for m in metrics)


def read_until(stream: IO[str], lines: list[str], done: re.Pattern[str], count: int) -> None:
    """Reads stderr lines into `lines` until `count` of them match `done` (or the stream ends)."""
    while sum(1 for line in lines if done.search(line)) < count:
        line = stream.readline()
        if not line:
            return
        lines.append(line.rstrip("\n"))


@pytest.mark.parametrize(
    ("signals", "code"),
    [((signal.SIGINT, signal.SIGINT), 130), ((signal.SIGTERM,), 143)],
    ids=["ctrl-c-twice", "sigterm"],
)
def test_an_interrupted_apply_process_reports_everything_and_converges(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    signals: tuple[signal.Signals, ...],
    code: int,
) -> None:
    monkeypatch.setenv("TEST_STATSIG_KEY", STATSIG["STATSIG-API-KEY"])
    with serving("--memory", "--latency-ms", "300") as (url, _, _), client(url) as http:
        config = project_at(tmp_path, url)
        command = [sys.executable, "-m", "metricsync", "apply", "--yes", "--config", str(config)]
        with (
            open(tmp_path / "stdout.txt", "w+", encoding="utf-8") as stdout,
            subprocess.Popen(command, stdout=stdout, stderr=subprocess.PIPE, text=True) as process,
        ):
            assert process.stderr is not None
            watchdog = threading.Timer(120, process.kill)  # a hung apply fails, never stalls
            watchdog.start()
            err: list[str] = []
            try:
                read_until(process.stderr, err, re.compile(r"^  ok "), 8)  # under way
                for number, signum in enumerate(signals, start=1):
                    process.send_signal(signum)
                    # the handler has run once it says so: only then is the next one separate
                    notice = re.compile(rf"^{signum.name}( again)?:")
                    read_until(process.stderr, err, notice, number)
                at_signal = creates(http)
                err += process.stderr.read().splitlines()
                assert process.wait(timeout=60) == code, "\n".join(err)
            finally:
                watchdog.cancel()
            stdout.seek(0)
            summary = stdout.read().splitlines()[-1]

        reported = [m.groups() for m in map(OUTCOME.match, err) if m]
        statuses = Counter(status for status, _ in reported)
        assert sorted(name for _, name in reported) == NAMES, "each change reported once"
        assert set(statuses) == {"ok", "not started"}
        applied = sorted(name for status, name in reported if status == "ok")
        name = signals[0].name
        assert summary == (
            f"Apply interrupted ({name}): {len(applied)} applied, 0 failed, 0 skipped, "
            f"{statuses['not started']} not started. Run apply again to finish."
        )
        # the server holds exactly what was reported applied, each sent once ...
        assert live(http) == applied
        assert creates(http) == len(applied)
        # ... and nothing left after the signal but the writes already in flight
        assert creates(http) - at_signal <= LIMITS.writes_in_flight

        http.delete("/_sandbox/faults")  # the second run need not wait
        assert run(["apply", "--yes", "--config", str(config)]) == 0
        assert live(http) == NAMES  # the rest, and no duplicate
        assert creates(http) == len(NAMES)
        assert run(["plan", "--detailed-exitcode", "--config", str(config)]) == 0
