"""Two runs at once (docs/commands/apply.md): one writing run per project holds `.metricsync/run.lock` and a
second one names it and exits 1; stale locks are taken over. Against one server, a create
that loses a race to an identical object counts as done."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from metricsync.apply import Status, apply_plan
from metricsync.cli.main import run
from metricsync.lock import FILE, Locked, project_lock
from metricsync.plan import Plan
from metricsync.planner import build_plan, open_session
from metricsync.platforms.statsig.provider import LIMITS
from tests.engine.conftest import Project
from tests.engine.test_interrupt_served import creates, live, project_at, read_until
from tests.engine.test_scenarios import OWNER, console, seed_statsig, statsig, statsig_live
from tests.sandbox.test_serve import STATSIG, client, serving


def _lock(project: Project) -> Path:
    return project.root / ".metricsync" / FILE


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid  # reaped: no process has this id now (ids are not reused at once)


def _write_lock(project: Project, pid: int, host: str) -> None:
    _lock(project).parent.mkdir(exist_ok=True)
    holder = {
        "pid": pid,
        "host": host,
        "command": "metricsync apply --target statsig-test",
        "since": "2026-12-04T20:00:00Z",
        "token": "0123456789abcdef",
    }
    _lock(project).write_text(json.dumps(holder), encoding="utf-8")


def test_a_second_apply_names_the_run_that_holds_the_project_and_sends_nothing(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    statsig(project, "Revenue total")
    with project_lock(project.root / ".metricsync", "metricsync apply --yes") as holder:
        code, out, err = project.cli("apply", "--yes", capsys=capsys)
    assert (code, out) == (1, "")
    assert err == (
        "Error: another metricsync run holds this project: `metricsync apply --yes` "
        f"(pid {os.getpid()} on {socket.gethostname()}, since {holder.since}); "
        "wait for it to finish\n"
    )
    assert list(project.app.requests) == []  # refused before any request
    assert not _lock(project).exists()  # released by its holder


def test_import_takes_the_lock_too(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    with project_lock(project.root / ".metricsync", "metricsync apply"):
        code, _, err = project.cli("import", "--target", "statsig-test", capsys=capsys)
    assert code == 1
    assert err.startswith("Error: another metricsync run holds this project: `metricsync apply`")


def test_a_failed_apply_releases_the_lock(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    statsig(project, "Revenue total")
    project.app.faults.add("POST /console/v1/metrics=400")
    code, _, _ = project.cli("apply", "--yes", "--target", "statsig-test", capsys=capsys)
    assert code == 1 and not _lock(project).exists()


def test_the_lock_file_names_its_holder_and_is_held_once(tmp_path: Path) -> None:
    with project_lock(tmp_path, "metricsync apply") as holder:
        written = json.loads((tmp_path / FILE).read_text(encoding="utf-8"))
        assert written == {**written, "pid": os.getpid(), "command": "metricsync apply"}
        assert written["host"] == socket.gethostname() and written["since"] == holder.since
        with pytest.raises(Locked), project_lock(tmp_path, "metricsync import"):
            pass
        assert (tmp_path / FILE).exists()  # the refused run leaves the holder's lock alone
    assert list(tmp_path.iterdir()) == []


def test_a_lock_left_by_a_dead_run_on_this_host_is_taken_over(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    statsig(project, "Revenue total")
    _write_lock(project, _dead_pid(), socket.gethostname())
    code, _, err = project.cli("apply", "--yes", capsys=capsys)
    assert code == 0, err
    assert [m["name"] for m in statsig_live(project)] == ["Revenue total"]
    assert not _lock(project).exists()


def test_a_lock_from_another_host_is_named_with_what_to_do(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    _write_lock(project, _dead_pid(), "ci-runner-7")
    code, _, err = project.cli("apply", "--yes", capsys=capsys)
    assert code == 1
    assert err == (
        "Error: another metricsync run holds this project: "
        "`metricsync apply --target statsig-test` (pid "
        f"{json.loads(_lock(project).read_text())['pid']} on ci-runner-7, since "
        "2026-12-04T20:00:00Z); wait for it to finish; if that run is gone, delete "
        f"{_lock(project)}\n"
    )


def test_an_unreadable_lock_is_named_not_taken(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    _lock(project).parent.mkdir(exist_ok=True)
    _lock(project).write_text("{", encoding="utf-8")
    code, _, err = project.cli("apply", "--yes", capsys=capsys)
    assert (code, err) == (
        1,
        f"Error: {_lock(project)} exists but cannot be read: another run may hold this "
        "project; delete the file if none does\n",
    )


def _planned(project: Project) -> Plan:
    with open_session(project.root / "metricsync.yaml", transport_for=project.transport) as s:
        return build_plan(s.workspace, s.providers)


def _apply(project: Project, plan: Plan) -> list[tuple[Status, str | None]]:
    with open_session(project.root / "metricsync.yaml", transport_for=project.transport) as s:
        report = apply_plan(plan, s.providers, lambda _: None)
    return [(o.status, o.error) for o in report.outcomes] + [
        (Status.APPLIED, n) for n in report.notes
    ]


def test_a_tag_another_run_created_since_the_plan_does_not_fail_the_target(
    project: Project,
) -> None:
    statsig(project, "Revenue total")
    plan = _planned(project)  # the owner tag does not exist yet: apply creates it first
    console(project).post("/console/v1/tags", json={"name": OWNER})  # another run, meanwhile
    assert _apply(project, plan) == [(Status.APPLIED, None)]
    assert [m["name"] for m in statsig_live(project)] == ["Revenue total"]
    tags = console(project).get("/console/v1/tags").json()["data"]
    assert [t["name"] for t in tags] == [OWNER]


def test_a_create_that_lost_the_race_to_an_identical_metric_counts_as_applied(
    project: Project,
) -> None:
    statsig(project, "Revenue total")
    plan = _planned(project)
    project.apply()  # another run applies the same definitions first
    assert _apply(project, plan) == [
        (Status.APPLIED, None),
        (
            Status.APPLIED,
            "'Revenue total' was created meanwhile by another run, exactly as defined: "
            "counted as applied",
        ),
    ]
    assert [m["name"] for m in statsig_live(project)] == ["Revenue total"]
    assert project.plan().changes == []


def test_a_create_that_lost_the_race_to_a_different_metric_fails_saying_so(
    project: Project,
) -> None:
    statsig(project, "Revenue total")
    plan = _planned(project)
    seed_statsig(  # made by hand meanwhile: another description, and not ours
        project,
        {
            "name": "Revenue total",
            "type": "sum",
            "description": "Gross",
            "unitTypes": ["userID"],
            "metricEvents": [{"name": "purchase", "type": "value"}],
        },
    )
    [(status, error)] = _apply(project, plan)
    assert status == Status.FAILED
    assert error == (
        "'Revenue total' was created meanwhile (by another run, or by hand) and differs from "
        'this definition: description (still "Gross", sent "Revenue"), ownership marker '
        '(still (absent), sent "present"); run plan again to see it'
    )


def test_two_apply_processes_at_once_one_waits_its_turn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The first run holds the project while its creates crawl (300 ms each); a second one
    started meanwhile names it and sends nothing; every object exists once."""
    monkeypatch.setenv("TEST_STATSIG_KEY", STATSIG["STATSIG-API-KEY"])
    names = [f"Metric {i:03}" for i in range(40)]
    with serving("--memory", "--latency-ms", "300") as (url, _, _), client(url) as http:
        config = project_at(tmp_path, url, names)
        command = [sys.executable, "-m", "metricsync", "apply", "--yes", "--config", str(config)]
        with subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        ) as first:
            assert first.stderr is not None
            watchdog = threading.Timer(120, first.kill)
            watchdog.start()
            try:
                err: list[str] = []
                read_until(first.stderr, err, re.compile(r"^  ok "), 1)  # under way
                sent = creates(http)
                assert run(["apply", "--yes", "--config", str(config)]) == 1
                assert creates(http) - sent <= LIMITS.writes_in_flight  # the first run's, in flight
                err += first.stderr.read().splitlines()
                assert first.wait(timeout=60) == 0, "\n".join(err)
            finally:
                watchdog.cancel()
        second = capsys.readouterr().err
        assert second.startswith(
            "Error: another metricsync run holds this project: "
            f"`metricsync apply` (pid {first.pid} on {socket.gethostname()}, since "
        )
        assert live(http) == names and creates(http) == len(names)
