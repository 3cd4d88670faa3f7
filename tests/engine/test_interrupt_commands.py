"""Ctrl-C during the commands other than apply's writes (plan, import): exit 130 as
docs/commands/ says, 'Interrupted.', the project lock released and no file left half written."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest

from metricsync import import_run, planner
from metricsync.lock import FILE
from tests.engine.conftest import Project
from tests.engine.test_scenarios import live_metric, seed_statsig


def _ctrl_c(*args: Any, **kwargs: Any) -> Any:
    raise KeyboardInterrupt


def test_ctrl_c_during_plan_exits_130(
    project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(planner, "build_plan", _ctrl_c)
    code, out, err = project.cli("plan", capsys=capsys)
    assert (code, out) == (130, "")
    assert err.endswith("Interrupted.\n")
    assert "Aborted" not in err


def test_ctrl_c_during_import_exits_130_leaving_whole_files_and_no_lock(
    project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_statsig(project, *(live_metric(f"Metric {n}") for n in range(3)))
    write_whole, written = import_run.write_whole, []

    def interrupted_at_the_second(path: Path, data: Any, **kwargs: Any) -> None:
        if written:
            raise KeyboardInterrupt
        write_whole(path, data, **kwargs)
        written.append(path)

    monkeypatch.setattr(import_run, "write_whole", interrupted_at_the_second)
    code, _, err = project.cli("import", capsys=capsys)
    assert code == 130
    assert err.endswith("Interrupted.\n")
    folder = project.root / "definitions" / "statsig"
    assert sorted(folder.iterdir()) == written  # whole files only: no temporary one left
    assert not (project.root / ".metricsync" / FILE).exists()  # the lock is released
    monkeypatch.setattr(import_run, "write_whole", write_whole)
    code, _, err = project.cli("import", capsys=capsys)  # again: the rest, each once
    assert code == 0
    assert len(list(folder.iterdir())) == 3


def test_sigterm_during_import_stops_it_as_ctrl_c_does_and_exits_143(
    project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Python's own SIGTERM ends the process on the spot: the lock stayed behind (for the next
    run to take over) and nothing said why the run ended."""
    seed_statsig(project, *(live_metric(f"Metric {n}") for n in range(3)))
    write_whole, written = import_run.write_whole, []

    def terminated_at_the_second(path: Path, data: Any, **kwargs: Any) -> None:
        if written:
            os.kill(os.getpid(), signal.SIGTERM)  # handled before the next line runs
        write_whole(path, data, **kwargs)
        written.append(path)

    def outside(signum: int, frame: object) -> None:  # pytest's own process must survive
        raise AssertionError("the SIGTERM reached the handler outside the run")

    before = signal.signal(signal.SIGTERM, outside)
    monkeypatch.setattr(import_run, "write_whole", terminated_at_the_second)
    try:
        code, _, err = project.cli("import", capsys=capsys)
        assert signal.getsignal(signal.SIGTERM) is outside  # the run's handler was its own
    finally:
        signal.signal(signal.SIGTERM, before)
    assert (code, err.splitlines()[-1]) == (143, "Terminated.")
    folder = project.root / "definitions" / "statsig"
    assert sorted(folder.iterdir()) == written[:1]  # whole files only: no temporary one left
    assert not (project.root / ".metricsync" / FILE).exists()  # the lock is released
