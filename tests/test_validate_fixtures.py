"""Bad input, one folder per case under fixtures/invalid/, named for what it breaks: `validate`
must report every problem with the exact file, line, column, message and pointer, and exit 3.

Each folder holds a small metricsync.yaml, its definition files, and expected.txt: the exact
stdout of `metricsync validate` (problem lines, then the summary line). After an intended change
of messages, regenerate them in the one way below, then review every changed line by eye (does the
message say what is wrong in words a user understands, and do line and column point at it?):

    METRICSYNC_REGENERATE=1 python -m pytest tests/test_validate_fixtures.py
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from metricsync.cli.main import run

CASES = sorted(p for p in (Path(__file__).parent / "fixtures" / "invalid").iterdir() if p.is_dir())
REGENERATE = os.environ.get("METRICSYNC_REGENERATE") == "1"


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_validate_reports_each_problem_exactly(
    case: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(case)
    code = run(["validate", "--config", str(case / "metricsync.yaml"), "--no-cache"])
    output = capsys.readouterr().out
    expected = case / "expected.txt"
    if REGENERATE:
        expected.write_text(output, encoding="utf-8")
    assert code == 3
    assert output == expected.read_text(encoding="utf-8")
    *problems, summary = output.splitlines()
    assert problems and summary.startswith("invalid: ")


def test_there_are_at_least_thirty_cases_and_no_stray_state() -> None:
    assert len(CASES) >= 30
    for case in CASES:
        assert (case / "metricsync.yaml").is_file(), case.name
        assert not (case / ".metricsync").exists(), f"{case.name}: --no-cache must write nothing"
