"""Apply under failure: retries that are safe, creates never duplicated, partial applies that
skip only dependants and converge when run again."""

from __future__ import annotations

import pytest

from metricsync.apply import Status
from tests.engine.conftest import Project
from tests.engine.test_scenarios import statsig, statsig_live


def test_rate_limited_list_is_retried_after_retry_after(project: Project) -> None:
    statsig(project, "Revenue total")
    project.app.faults.add("GET /console/v1/metrics/list=429x1,retry-after=0")
    [change] = project.plan().changes
    assert change.name == "Revenue total"
    assert project.sent("GET", "/console/v1/metrics/list") == 2


def test_server_errors_on_update_are_retried(project: Project) -> None:
    statsig(project, "Revenue total")
    project.apply()
    statsig(project, "Revenue total", description="Gross")
    project.app.faults.add("POST /console/v1/metrics/*=503x2")
    report = project.apply()
    assert [o.status for o in report.outcomes] == [Status.APPLIED]
    assert project.plan().changes == []


def test_a_create_whose_response_was_lost_is_not_created_twice(project: Project) -> None:
    statsig(project, "Revenue total")
    project.app.faults.add("POST /console/v1/metrics=drop-afterx1")
    report = project.apply()
    assert [o.status for o in report.outcomes] == [Status.APPLIED]
    assert [m["name"] for m in statsig_live(project)] == ["Revenue total"]
    assert project.sent("POST", "/console/v1/metrics") == 1  # re-read, not re-sent
    assert project.plan().changes == []


def test_a_create_answered_too_late_is_confirmed_by_reading_not_sent_again(
    project: Project,
) -> None:
    statsig(project, "Revenue total")
    project.app.faults.add("POST /console/v1/metrics=hang:120x1")  # stored, answered too late
    report = project.apply()
    assert [o.status for o in report.outcomes] == [Status.APPLIED]
    assert [m["name"] for m in statsig_live(project)] == ["Revenue total"]
    assert project.sent("POST", "/console/v1/metrics") == 1
    assert project.sent("GET", "/console/v1/metrics/Revenue%20total%3A%3Asum") == 1


def test_a_create_dropped_before_the_server_saw_it_is_sent_again_after_a_look(
    project: Project,
) -> None:
    statsig(project, "Revenue total")
    project.app.faults.add("POST /console/v1/metrics=drop-beforex1")
    report = project.apply()
    assert [o.status for o in report.outcomes] == [Status.APPLIED]
    assert [m["name"] for m in statsig_live(project)] == ["Revenue total"]
    assert project.sent("GET", "/console/v1/metrics/Revenue%20total%3A%3Asum") == 1
    assert project.sent("POST", "/console/v1/metrics") == 2


def test_a_create_refused_with_5xx_is_checked_before_it_is_retried(project: Project) -> None:
    project.write(
        "definitions/posthog/one.yaml",
        """\
        kind: posthog/saved_metric
        name: Checkout funnel
        spec:
          query: {kind: ExperimentMetric, metric_type: funnel, series: [{kind: EventsNode, event: checkout}]}
        """,
    )
    project.app.faults.add("POST /api/projects/12345/experiment_saved_metrics/=502x1")
    report = project.apply()
    assert [o.status for o in report.outcomes] == [Status.APPLIED]
    assert project.plan().changes == []


def test_partial_failure_skips_dependants_exits_4_and_converges_on_rerun(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    statsig(project, "Independent one")
    project.write(
        "definitions/statsig/broken.yaml",
        """\
        kind: statsig/metric
        name: Broken part
        spec:
          type: sum
          unitTypes: [companyID]
          metricEvents: [{name: purchase, type: value}]
        """,
    )
    project.write(
        "definitions/statsig/total.yaml",
        """\
        kind: statsig/metric
        name: Total with broken part
        spec:
          type: composite_sum
          unitTypes: [userID]
          metricComponentMetrics: [{name: Broken part, type: sum}, {name: Independent one, type: sum}]
        """,
    )
    code, out, err = project.cli("apply", "--yes", capsys=capsys)
    assert code == 4
    assert out.endswith("Apply: 1 applied, 1 failed, 1 skipped.\n")
    assert "failed  statsig-test: create statsig/metric 'Broken part': statsig-test: POST" in out
    assert (
        "skipped statsig-test: create statsig/metric 'Total with broken part': skipped: "
        "statsig/metric:Broken part did not apply" in out
    )
    assert "ok      statsig-test: create statsig/metric 'Independent one'" in err
    project.write(
        "definitions/statsig/broken.yaml",
        (project.root / "definitions/statsig/broken.yaml")
        .read_text()
        .replace("companyID", "userID"),
    )
    assert project.cli("apply", "--yes", capsys=capsys)[0] == 0
    assert project.cli("plan", "--detailed-exitcode", capsys=capsys)[0] == 0


def test_unreachable_platform_is_a_clear_error(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    statsig(project, "Revenue total")
    project.write(
        "metricsync.yaml",
        (project.root / "metricsync.yaml").read_text().replace(project.url, "http://127.0.0.1:9"),
    )
    code, _, err = project.cli("plan", capsys=capsys)
    assert code == 1
    assert err.startswith(
        "Error: statsig-test: GET http://127.0.0.1:9/console/v1/metrics/list failed: ConnectError"
    )
