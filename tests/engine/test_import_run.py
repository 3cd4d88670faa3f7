"""import_targets without the command line (import_run.py): like apply, it holds the project's
lock while it runs, and reads nothing while another run holds it."""

from __future__ import annotations

import json

import pytest

from metricsync.import_run import import_targets
from metricsync.importer import ImportOptions, ImportReport
from metricsync.lock import FILE, Locked, project_lock
from tests.engine.conftest import Project
from tests.engine.test_scenarios import live_metric, seed_statsig


def test_an_import_names_itself_in_the_lock_while_it_runs(project: Project) -> None:
    seed_statsig(project, live_metric("Revenue total", owned=False))
    lock = project.root / ".metricsync" / FILE
    held: list[str] = []

    def finished(report: ImportReport) -> None:
        held.append(json.loads(lock.read_text(encoding="utf-8"))["command"])

    config = project.root / "metricsync.yaml"
    options = ImportOptions()
    reports = import_targets(
        config, ("statsig-test",), options, transport_for=project.transport, finished=finished
    )
    assert [len(r.written) for r in reports] == [1]
    assert held == ["metricsync import --target statsig-test"]
    assert not lock.exists()


def test_an_import_reads_nothing_while_another_run_holds_the_project(project: Project) -> None:
    config = project.root / "metricsync.yaml"
    with (
        project_lock(project.root / ".metricsync", "metricsync apply"),
        pytest.raises(Locked) as locked,
    ):
        import_targets(config, ("statsig-test",), ImportOptions(), transport_for=project.transport)
    assert str(locked.value).startswith(
        "another metricsync run holds this project: `metricsync apply`"
    )
    assert list(project.app.requests) == []
