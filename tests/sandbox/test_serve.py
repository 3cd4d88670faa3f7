"""`metricsync sandbox serve`: a real process on 127.0.0.1, stopped by Ctrl-C; refusals in-process."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx
import pytest

from metricsync.cli.main import run

ROOT = Path(__file__).resolve().parents[2]
STATSIG = {"STATSIG-API-KEY": "console-sandbox-key"}


@contextmanager
def serving(
    *options: str, sigint_ignored: bool = False
) -> Iterator[tuple[str, list[str], subprocess.Popen[str]]]:
    """Starts `sandbox serve --port 0 OPTIONS`, with SIGINT ignored as a script's background job
    starts it if asked; yields its URL, its banner lines and the process."""
    command = [sys.executable, "-m", "metricsync", "sandbox", "serve", "--port", "0", *options]
    if sigint_ignored:
        command = ["sh", "-c", 'trap "" INT; exec "$@"', "sh", *command]
    with subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    ) as process:
        assert process.stderr is not None
        # a server that never prints or never stops fails its test instead of hanging the suite:
        # killed, it closes its stderr, so every read of it returns
        watchdog = threading.Timer(60, process.kill)
        watchdog.start()
        try:
            lines = _banner(process.stderr)
            url = lines[0].split()[3] if lines[0].startswith("Sandbox listening") else ""
            assert url.startswith("http://127.0.0.1:"), "\n".join(lines)
            yield url, lines, process
        finally:
            watchdog.cancel()
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                raise


def _banner(stream: IO[str]) -> list[str]:
    """The lines printed up to "Press Ctrl-C", or up to the end when the process exits early."""
    lines: list[str] = []
    while not lines or "Press Ctrl-C" not in lines[-1]:
        line = stream.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
    return lines or [""]


def stop(process: subprocess.Popen[str]) -> tuple[int, str]:
    process.send_signal(signal.SIGINT)
    assert process.stderr is not None
    rest = process.stderr.read()
    return process.wait(timeout=10), rest


def client(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, verify=False, timeout=5)  # plain http on loopback


def test_serve_answers_health_and_stops_cleanly_on_ctrl_c() -> None:
    with serving("--memory") as (url, lines, process), client(url) as http:
        assert http.get("/_sandbox/health").json()["status"] == "ok"
        assert stop(process) == (0, "Sandbox stopped.\n")
    assert lines[0] == f"Sandbox listening on {url} (state: in memory)"
    assert "  export STATSIG_CONSOLE_API_KEY=console-sandbox-key" in lines
    assert f"  unleash   url: {url}/api" in lines
    exported = [line.split()[1].split("=")[0] for line in lines if line.startswith("  export ")]
    assert exported == [
        "STATSIG_CONSOLE_API_KEY",
        "POSTHOG_PERSONAL_API_KEY",
        "USERFLUX_CLIENT_SECRET",
        "USERFLUX_METRICS_API_KEY",
        "UNLEASH_BACKEND_TOKEN",
    ]


def test_ctrl_c_stops_a_server_started_as_a_background_job() -> None:
    with serving("--memory", sigint_ignored=True) as (_, _, process):
        assert stop(process) == (0, "Sandbox stopped.\n")


def test_serve_seeds_keeps_state_and_reset_starts_empty(tmp_path: Path) -> None:
    state, seed = tmp_path / "sandbox.db", ROOT / "docs" / "sandbox" / "seed-example.yaml"
    options = ("--state", str(state), "--seed", str(seed), "--fault", "POST /x=503x2")
    with serving(*options) as (url, lines, _), client(url) as http:
        assert "Faults: POST /x=503x2" in lines
        assert http.get("/_sandbox/faults").json()["rules"] == [
            {"path": "/x", "method": "POST", "status": 503, "times": 2}
        ]
        seeded = http.get("/console/v1/metrics/list", headers=STATSIG).json()["data"]
        assert len(seeded) == 3
    with serving("--state", str(state), "--reset") as (url, _, _), client(url) as http:
        assert http.get("/console/v1/metrics/list", headers=STATSIG).json()["data"] == []


def test_serve_refuses_a_non_loopback_host(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["sandbox", "serve", "--memory", "--host", "0.0.0.0"]) == 64
    assert capsys.readouterr().err == (
        "Error: --host '0.0.0.0' is not a loopback address: the sandbox serves locally\n"
    )


def test_serve_refuses_memory_with_state(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["sandbox", "serve", "--memory", "--state", "x.db"]) == 64
    assert "--memory keeps no file" in capsys.readouterr().err


def test_serve_refuses_a_bad_fault_spec(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["sandbox", "serve", "--memory", "--fault", "/x=teapot"]) == 64
    assert capsys.readouterr().err.startswith("Error: --fault: fault '/x=teapot': expected")


def test_serve_reports_a_bad_seed_file_as_invalid_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"amplitude": {}}))
    assert run(["sandbox", "serve", "--memory", "--seed", str(seed)]) == 3
    assert capsys.readouterr().err == (
        f"Error: {seed}: unknown section(s) 'amplitude' "
        "(expected: statsig, posthog, userflux, unleash, faults)\n"
    )


def test_serve_reports_bad_environment_faults(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("METRICSYNC_SANDBOX_FAULTS", "{")
    assert run(["sandbox", "serve", "--memory"]) == 1
    assert capsys.readouterr().err.startswith("Error: METRICSYNC_SANDBOX_FAULTS: Expecting")


def test_serve_reports_a_port_in_use(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert run(["sandbox", "serve", "--memory", "--port", str(port)]) == 1
    assert capsys.readouterr().err.startswith(f"Error: cannot listen on 127.0.0.1:{port}: ")
