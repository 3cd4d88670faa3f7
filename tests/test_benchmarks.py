"""The benchmarks still run: each at its smallest size, in a subprocess, so that a module moved
or renamed in the package breaks here rather than when the next measurement is due. The sizes
measure nothing; the full runs are for people (each script's --help says how)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SMALLEST = {
    "plan.py": ["--n", "10", "--repeat", "1", "--latency-ms", "0"],
    "validate.py": ["--n", "5", "--repeat", "1"],
    "usage.py": ["--n", "51", "--experiments", "2", "--repeat", "1", "--latency-ms", "0"],
    "import.py": ["--n", "5", "--latency-ms", "0"],
    "sandbox_load.py": ["--help"],  # a load test: only that it starts
}


def test_every_benchmark_is_run_here() -> None:
    scripts = {p.name for p in (ROOT / "benchmarks").glob("*.py")} - {"sandbox_child.py"}
    assert scripts == set(SMALLEST)


@pytest.mark.parametrize("script", SMALLEST)
def test_the_benchmark_runs_at_its_smallest(script: str, tmp_path: Path) -> None:
    command = [sys.executable, str(ROOT / "benchmarks" / script), *SMALLEST[script]]
    ran = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-2000:]
    assert ran.stdout.strip()
