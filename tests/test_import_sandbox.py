"""`import --sandbox` in a new project (docs/commands/import.md): the objects come from the sandbox, so the next
step it names plans against the sandbox too, never the live account."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from metricsync.cli.main import run
from metricsync.sandbox.app import SandboxApp
from metricsync.sandbox.store import Store


def test_import_under_sandbox_names_the_sandbox_plan_as_the_next_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("STATSIG_CONSOLE_API_KEY", raising=False)
    assert run(["init", "--platform", "statsig", "--no-workflows"]) == 0
    (tmp_path / ".metricsync").mkdir()
    store = Store(tmp_path / ".metricsync" / "sandbox.db")
    metric = {"name": "Signups per user", "type": "mean", "unitTypes": ["userID"]}
    metric["metricEvents"] = [{"name": "sign_up", "type": "count"}]
    SandboxApp(store).seed({"statsig": {"metrics": [metric]}})
    store.close()
    capsys.readouterr()

    assert run(["import", "--sandbox"]) == 0
    out = capsys.readouterr().out
    assert "Next: `metricsync plan --sandbox --target statsig` shows 1 of them as adopt" in out
    assert run(["plan", "--sandbox", "--target", "statsig", "--detailed-exitcode"]) == 2
    assert "1 to adopt" in capsys.readouterr().out
    # The sandbox keeps its own credentials in its state: no one's secret, but the suite's
    # secret scan reads every file a test leaves.
    shutil.rmtree(tmp_path / ".metricsync")


def test_import_in_a_project_without_statsig_or_posthog_says_what_it_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert run(["init", "--platform", "userflux", "--no-workflows"]) == 0
    capsys.readouterr()
    assert run(["import", "--sandbox"]) == 64
    assert capsys.readouterr().err == (
        "Error: no target to import: metricsync.yaml has no statsig or posthog target "
        "(import reads only those)\n"
    )
