"""One apply run without the command line (apply_run.py): what it shows and asks, in order, and
that a stale saved plan or a declined confirmation stops it before any write."""

from __future__ import annotations

from typing import Any

import pytest

from metricsync.apply_run import ApplyOptions, Screen, run_apply
from metricsync.errors import Refused
from metricsync.lock import FILE
from metricsync.plan import Plan
from metricsync.plan_file import save
from tests.engine.conftest import Project
from tests.engine.test_scenarios import console, statsig, statsig_live

WRITES = ("POST", "PATCH", "PUT", "DELETE")


class Declined(Exception):
    pass


def _options(project: Project, **given: Any) -> ApplyOptions:
    return ApplyOptions(project.root / "metricsync.yaml", transport_for=project.transport, **given)


def _screen(events: list[tuple[str, Any]], confirm: str = "never") -> Screen:
    def asked(plan: Plan) -> None:
        events.append(("confirm", [c.name for c in plan.changes]))
        if confirm == "decline":
            raise Declined
        assert confirm == "accept", "a saved plan was confirmed by its review: never asked"

    return Screen(
        warn=lambda line: events.append(("warn", line)),
        show=lambda plan: events.append(("show", [c.name for c in plan.changes])),
        confirm=asked,
        progress=lambda outcome: events.append(("progress", outcome.change.name)),
    )


def _writes(project: Project) -> int:
    return sum(1 for r in project.app.requests if r.method in WRITES)


def test_a_stale_saved_plan_is_refused_before_the_plan_is_shown_or_anything_written(
    project: Project,
) -> None:
    statsig(project, "Revenue total")
    project.apply()
    statsig(project, "Revenue total", description="Reviewed text")
    save(project.plan(), project.root / "plan.json")
    edit = {"description": "Edited in the console"}
    response = console(project).post("/console/v1/metrics/Revenue%20total%3A%3Asum", json=edit)
    assert response.status_code == 200
    writes, events = _writes(project), []
    with pytest.raises(Refused) as refused:
        run_apply(_options(project, planfile=project.root / "plan.json"), _screen(events))
    assert str(refused.value) == (
        f"{project.root / 'plan.json'} is stale; run plan again and review it"
    )
    [(kind, text)] = events
    assert kind == "warn"
    assert text.startswith(
        "Changed since review:\n  statsig-test: statsig/metric:Revenue total: reviewed update"
    )
    assert _writes(project) == writes
    assert not (project.root / ".metricsync" / FILE).exists()  # the lock is released


def test_a_fresh_plan_is_shown_then_confirmed_and_a_refusal_writes_nothing(
    project: Project,
) -> None:
    statsig(project, "Revenue total")
    events: list[tuple[str, Any]] = []
    with pytest.raises(Declined):
        run_apply(_options(project), _screen(events, confirm="decline"))
    assert events == [("show", ["Revenue total"]), ("confirm", ["Revenue total"])]
    assert _writes(project) == 0
    assert statsig_live(project) == []


def test_a_saved_plan_applies_without_asking_and_leaves_nothing_to_change(
    project: Project,
) -> None:
    statsig(project, "Revenue total")
    save(project.plan(), project.root / "plan.json")
    events: list[tuple[str, Any]] = []
    report = run_apply(_options(project, planfile=project.root / "plan.json"), _screen(events))
    assert report is not None and report.exit_code == 0
    assert events == [("show", ["Revenue total"]), ("progress", "Revenue total")]
    again: list[tuple[str, Any]] = []
    assert run_apply(_options(project), _screen(again)) is None
    assert again == [("show", [])]
