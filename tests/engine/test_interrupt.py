"""Ctrl-C during apply (docs/commands/apply.md): no change starts after the signal, the writes in flight
finish, every change is reported, and running apply again converges with no duplicate."""

from __future__ import annotations

import itertools
import signal
import threading
import time
from collections import Counter

import httpx
import pytest

from metricsync import deadline
from metricsync.apply import Outcome, Status, apply_plan
from metricsync.client import ApiClient
from metricsync.deadline import Deadline
from metricsync.interrupt import Interruption, NotStarted, signals_handled
from metricsync.pacing import Limits
from metricsync.planner import build_plan, open_session
from metricsync.platforms.statsig.provider import LIMITS
from metricsync.render.text import render_report
from metricsync.sandbox.transport import SandboxTransport
from tests.engine.conftest import Project
from tests.engine.test_scenarios import statsig, statsig_live

NAMES = [f"Metric {i:03}" for i in range(30)]


class _SignalAtCreate(SandboxTransport):
    """The sandbox, in-process; the signal arrives as it stores the `nth` metric create, so
    the changes in flight at that moment are known whatever the threads' timing."""

    def __init__(self, project: Project, interruption: Interruption, nth: int, signum: int):
        super().__init__(project.app)
        self.interruption, self.nth, self.signum = interruption, nth, signum
        self.creates = itertools.count(1)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        creating = (request.method, request.url.path) == ("POST", "/console/v1/metrics")
        if creating and next(self.creates) == self.nth:  # count() is atomic across threads
            self.interruption.interrupt(self.signum)
        return response


def _apply_interrupted_at(project: Project, nth: int, signum: int) -> list[Outcome]:
    """Applies with the signal arriving at the `nth` create; returns the outcomes reported."""
    interruption, outcomes = Interruption(), []
    transport = _SignalAtCreate(project, interruption, nth, signum)
    config = project.root / "metricsync.yaml"
    with open_session(config, transport_for=lambda _: transport) as s:
        plan = build_plan(s.workspace, s.providers)
        report = apply_plan(plan, s.providers, outcomes.append, interruption)
    assert list(report.outcomes) == sorted(outcomes, key=lambda o: NAMES.index(o.change.name))
    assert report.exit_code == 128 + signum
    return outcomes


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_apply_reports_every_change_and_converges(
    project: Project, signum: int
) -> None:
    for name in NAMES:
        statsig(project, name)
    outcomes = _apply_interrupted_at(project, 3, signum)
    statuses = Counter(o.status for o in outcomes)
    assert sorted(o.change.name for o in outcomes) == NAMES  # each change reported once
    assert set(statuses) == {Status.APPLIED, Status.NOT_STARTED}
    applied = sorted(o.change.name for o in outcomes if o.status == Status.APPLIED)
    # the third create and those in flight with it, at most one per worker, and no other
    assert 3 <= len(applied) <= 2 + LIMITS.writes_in_flight
    # what exists is exactly what was reported applied: nothing was sent for the rest
    assert sorted(str(m["name"]) for m in statsig_live(project)) == applied
    assert project.sent("POST", "/console/v1/metrics") == len(applied)
    name = signal.Signals(signum).name
    waiting = [o for o in outcomes if o.status == Status.NOT_STARTED]
    assert {o.error for o in waiting} == {f"the run was interrupted ({name})"}

    report = project.apply()  # the rest, once each
    assert [o.change.name for o in report.outcomes] == [n for n in NAMES if n not in applied]
    assert sorted(str(m["name"]) for m in statsig_live(project)) == NAMES
    assert project.plan().changes == []


class _SignalThenLoseTheCreate(SandboxTransport):
    """The signal arrives while the only create is on the way, and the connection breaks
    before the sandbox sees it: the outcome is unknown to the client."""

    def __init__(self, project: Project, interruption: Interruption) -> None:
        super().__init__(project.app)
        self.interruption = interruption

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if (request.method, request.url.path) == ("POST", "/console/v1/metrics"):
            self.interruption.interrupt(signal.SIGINT)
            raise httpx.ReadError("connection reset", request=request)
        return super().handle_request(request)


def test_a_create_lost_on_the_way_is_confirmed_by_reading_not_sent_again(
    project: Project,
) -> None:
    statsig(project, "Revenue total")
    interruption = Interruption()
    transport = _SignalThenLoseTheCreate(project, interruption)
    with open_session(project.root / "metricsync.yaml", transport_for=lambda _: transport) as s:
        report = apply_plan(build_plan(s.workspace, s.providers), s.providers, print, interruption)
    [outcome] = report.outcomes
    assert (outcome.status, outcome.error) == (
        Status.FAILED,
        "statsig-test: the create of 'Revenue total' failed on the way and did not reach the "
        "platform; the run was interrupted, so it is not sent again",
    )
    assert project.sent("GET", "/console/v1/metrics/Revenue%20total%3A%3Asum") == 1  # looked
    assert report.exit_code == 130
    assert statsig_live(project) == []
    project.apply()
    assert [m["name"] for m in statsig_live(project)] == ["Revenue total"]


def test_the_summary_says_the_run_was_interrupted(project: Project) -> None:
    for name in NAMES[:12]:
        statsig(project, name)
    interruption = Interruption()
    interruption.interrupt(signal.SIGINT)  # before the first change: none starts
    with open_session(project.root / "metricsync.yaml", transport_for=project.transport) as s:
        report = apply_plan(build_plan(s.workspace, s.providers), s.providers, print, interruption)
    assert render_report(report).splitlines()[-1] == (
        "Apply interrupted (SIGINT): 0 applied, 0 failed, 0 skipped, 12 not started. "
        "Run apply again to finish."
    )
    assert project.sent("POST", "/console/v1/tags") == 0  # not even the owner tag
    assert report.exit_code == 130


def test_a_write_held_back_by_rate_limit_pacing_never_leaves_after_the_signal(
    project: Project,
) -> None:
    """One write per hour: the second waits in the pacer, and the signal ends its wait."""
    limits = Limits(windows=((1, 3600.0),), paced_methods=frozenset({"POST"}))
    pacing = threading.Event()

    def clock() -> float:  # the pacer reads the clock before it decides to wait
        if threading.current_thread() is not threading.main_thread():
            pacing.set()
        return time.monotonic()

    transport = SandboxTransport(project.app)
    client = ApiClient("statsig-test", "http://sandbox.test", {}, limits, transport, clock=clock)
    interruption, errors = Interruption(), []
    client.guard = interruption

    def write() -> None:
        try:
            with interruption.change():
                client.send("POST", "/console/v1/tags", body={"name": "team-a"}, ok=(400, 401))
        except NotStarted as exc:
            errors.append(exc)

    write()  # the hour's one write
    held = threading.Thread(target=write, daemon=True)
    held.start()
    assert pacing.wait(timeout=30)
    interruption.interrupt(signal.SIGINT)
    held.join(timeout=30)
    assert not held.is_alive(), "the held write still waits for the pacer after the signal"
    assert [str(e) for e in errors] == ["the run was interrupted (SIGINT)"]
    assert project.sent("POST", "/console/v1/tags") == 1


def test_signal_handlers_are_installed_for_the_run_and_restored_after() -> None:
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    with signals_handled(Interruption()) as interruption:
        signal.raise_signal(signal.SIGTERM)  # handled: raises the flag, does not end the process
        signal.raise_signal(signal.SIGINT)  # a second signal changes nothing
        assert interruption.interrupted and interruption.exit_code == 143
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


class _DeadlineAtCreate(SandboxTransport):
    """The sandbox, in-process; the run's deadline passes (its clock jumps) as the sandbox
    stores the `nth` metric create."""

    def __init__(self, project: Project, now: list[float], nth: int) -> None:
        super().__init__(project.app)
        self.now, self.nth = now, nth
        self.creates = itertools.count(1)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        creating = (request.method, request.url.path) == ("POST", "/console/v1/metrics")
        if creating and next(self.creates) == self.nth:
            self.now[0] += 1000.0
        return response


def test_an_apply_stopped_by_its_deadline_reports_what_never_started_and_converges(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--timeout passing mid-apply: a change that sent nothing is 'not started' (not a
    failure that might have happened), the summary says the deadline stopped the run, the
    exit code is 4 (some applied, the rest not), and apply again converges with no duplicate."""
    for name in NAMES:
        statsig(project, name)
    now = [0.0]
    monkeypatch.setattr(deadline, "_run", Deadline(600, clock=lambda: now[0]))
    transport, outcomes = _DeadlineAtCreate(project, now, 3), []
    with open_session(project.root / "metricsync.yaml", transport_for=lambda _: transport) as s:
        report = apply_plan(build_plan(s.workspace, s.providers), s.providers, outcomes.append)
    assert sorted(o.change.name for o in outcomes) == NAMES  # each change reported once
    applied = sorted(o.change.name for o in outcomes if o.status == Status.APPLIED)
    assert 3 <= len(applied) <= 2 + LIMITS.writes_in_flight
    assert sorted(str(m["name"]) for m in statsig_live(project)) == applied
    waiting = [o for o in outcomes if o.status == Status.NOT_STARTED]
    assert len(waiting) >= len(NAMES) - 2 - LIMITS.writes_in_flight
    assert {o.error for o in waiting} == {
        "the run's deadline (--timeout 600) passed before it started"
    }
    assert report.exit_code == 4
    assert render_report(report).endswith(
        f"Apply stopped at the run's deadline: {len(applied)} applied, "
        f"{report.count(Status.FAILED)} failed, 0 skipped, {len(waiting)} not started. "
        "Run apply again to finish (with a larger --timeout).\n"
    )

    monkeypatch.setattr(deadline, "_run", Deadline(None))
    project.apply()
    assert sorted(str(m["name"]) for m in statsig_live(project)) == NAMES
    assert project.plan().changes == []


class _DeadlineWhileCreating(SandboxTransport):
    """The deadline passes while the only create is on the way, whose answer is lost."""

    def __init__(self, project: Project, now: list[float]) -> None:
        super().__init__(project.app)
        self.now = now

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if (request.method, request.url.path) == ("POST", "/console/v1/metrics"):
            super().handle_request(request)  # it is created; the answer never arrives
            self.now[0] += 1000.0
            raise httpx.ReadError("connection reset", request=request)
        return super().handle_request(request)


def test_a_create_whose_check_the_deadline_stops_is_reported_as_unknown_not_merely_late(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    statsig(project, "Revenue")
    now = [0.0]
    monkeypatch.setattr(deadline, "_run", Deadline(600, clock=lambda: now[0]))
    transport, outcomes = _DeadlineWhileCreating(project, now), []
    with open_session(project.root / "metricsync.yaml", transport_for=lambda _: transport) as s:
        apply_plan(build_plan(s.workspace, s.providers), s.providers, outcomes.append)
    [outcome] = outcomes
    assert outcome.status == Status.FAILED
    assert outcome.error is not None
    assert "whether the create of 'Revenue' reached the platform is unknown" in outcome.error
    assert outcome.error.endswith("; run plan to see")
