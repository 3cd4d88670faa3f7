"""Experiments that use a metric (docs/platforms/), on Statsig and PostHog: running users refuse
deletes and replaces until --allow-in-use, ended users are listed, tag-based use counts, a
failed lookup blocks, and changes that cannot alter results send no lookup at all."""

from __future__ import annotations

import json
from typing import Any

import pytest

from metricsync.plan import Action
from tests.engine.conftest import Project, config_text
from tests.engine.test_ownership import QUERY, posthog_live
from tests.engine.test_scenarios import OWNER, live_metric, statsig, statsig_live

RUNNING_REFUSAL = (
    "statsig-test: 'Checkout revenue' is used by 2 running experiment(s): checkout-v2, "
    "pricing-test; deleting it changes their results (lift it for one run with apply "
    "--allow-in-use)"
)


def experiment(name: str, status: str, **refs: Any) -> dict[str, Any]:
    return {"id": name.replace("-", "_"), "name": name, "status": status, **refs}


def uses(name: str = "Checkout revenue", type_: str = "sum") -> dict[str, Any]:
    return {"primaryMetrics": [{"name": name, "type": type_}]}


def seed(project: Project, metrics: list[dict[str, Any]], experiments: list[Any]) -> None:
    project.app.seed({"statsig": {"metrics": metrics, "experiments": experiments}})


def experiment_requests(project: Project) -> list[str]:
    return [r.path for r in project.app.requests if "experiments" in r.path]


@pytest.fixture
def pruning(project: Project) -> Project:
    project.write("metricsync.yaml", config_text(project.url, prune=True))
    return project


def test_deleting_a_statsig_metric_running_experiments_use_is_refused_until_allowed(
    pruning: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(
        pruning,
        [live_metric("Checkout revenue")],
        [
            experiment("checkout-v2", "active", **uses()),
            experiment("pricing-test", "assignment_stopped", **uses()),
            experiment("old-test", "decision_made", **uses()),
        ],
    )
    plan = pruning.plan()
    [change] = plan.changes
    assert change.action == Action.DELETE
    assert [(u.name, u.status, u.running) for u in change.used_by or ()] == [
        ("checkout-v2", "active", True),
        ("pricing-test", "assignment_stopped", True),
        ("old-test", "decision_made", False),
    ]
    assert plan.refusals == [RUNNING_REFUSAL]
    code, out, _ = pruning.cli("plan", capsys=capsys)
    assert code == 5
    assert (
        "      used by: checkout-v2 (active, running), pricing-test (assignment_stopped, "
        "running), old-test (decision_made)\n"
    ) in out
    code, out, _ = pruning.cli("plan", "--format", "markdown", capsys=capsys)
    assert (
        "> - `statsig-test`: deletes `Checkout revenue`, used by 2 running experiments: "
        "checkout-v2, pricing-test; and by 1 experiment not running: old-test (decision\\_made)"
    ) in out
    assert out.index("used by 2 running") < out.index("<details>")
    _, out, _ = pruning.cli("plan", "--format", "json", capsys=capsys)
    [document] = json.loads(out)["targets"][0]["changes"]
    assert document["used_by"][0] == {
        "id": "checkout_v2",
        "name": "checkout-v2",
        "status": "active",
        "running": True,
    }
    code, _, err = pruning.cli("apply", "--yes", capsys=capsys)
    assert code == 5 and "--allow-in-use" in err
    assert [m["name"] for m in statsig_live(pruning)] == ["Checkout revenue"]
    code, _, _ = pruning.cli("apply", "--yes", "--allow-in-use", capsys=capsys)
    assert code == 0
    assert statsig_live(pruning) == []


def test_protect_in_use_off_lets_the_delete_through(pruning: Project) -> None:
    pruning.write("metricsync.yaml", config_text(pruning.url, prune=True, protect_in_use=False))
    seed(
        pruning, [live_metric("Checkout revenue")], [experiment("checkout-v2", "active", **uses())]
    )
    plan = pruning.plan()
    assert plan.refusals == [] and plan.changes[0].used_by


def test_replacing_a_statsig_metric_in_use_is_refused_and_allow_in_use_applies_it(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(
        project, [live_metric("Checkout revenue")], [experiment("checkout-v2", "active", **uses())]
    )
    statsig(project, "Checkout revenue", type="mean")
    [change] = project.plan().changes
    assert change.action == Action.REPLACE
    [refusal] = project.plan().refusals
    assert "replacing it changes their results" in refusal
    code, _, _ = project.cli("apply", "--yes", capsys=capsys)
    assert code == 5
    code, _, _ = project.cli("apply", "--yes", "--allow-in-use", capsys=capsys)
    assert code == 0
    assert [m["id"] for m in statsig_live(project)] == ["Checkout revenue::mean"]


def test_a_metric_only_ended_experiments_use_is_deleted_with_its_usage_listed(
    pruning: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(
        pruning,
        [live_metric("Checkout revenue")],
        [experiment("old-test", "abandoned", **uses()), experiment("older", "archived", **uses())],
    )
    code, out, _ = pruning.cli("apply", "--yes", capsys=capsys)
    assert code == 0
    assert "      used by: old-test (abandoned), older (archived)\n" in out
    assert statsig_live(pruning) == []


def test_tag_based_use_counts_even_when_lineage_leaves_it_out(pruning: Project) -> None:
    seed(
        pruning,
        [live_metric("Checkout revenue", tags=[OWNER, "core"])],
        [experiment("core-scorecard", "active", secondaryMetricTags=["core"])],
    )
    [refusal] = pruning.plan().refusals
    assert "used by 1 running experiment(s): core-scorecard" in refusal
    pruning.app.configure({"statsig": {"lineage_includes_tags": False}})
    [refusal] = pruning.plan().refusals
    assert "used by 1 running experiment(s): core-scorecard" in refusal


def test_a_measuring_update_of_a_metric_in_use_is_allowed_and_flagged(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(
        project, [live_metric("Checkout revenue")], [experiment("checkout-v2", "active", **uses())]
    )
    project.write(
        "definitions/statsig/Checkout_revenue.yaml",
        """\
        kind: statsig/metric
        name: Checkout revenue
        spec:
          type: sum
          description: Revenue
          unitTypes: [userID]
          metricEvents: [{name: order_paid, type: value}]
        """,
    )
    plan = project.plan()
    assert plan.refusals == [] and plan.changes[0].action == Action.UPDATE
    code, out, _ = project.cli("plan", capsys=capsys)
    assert code == 0
    assert (
        "      ! changes the results of running experiment checkout-v2 (updates 'Checkout revenue')\n"
        in out
    )
    _, out, _ = project.cli("plan", "--format", "markdown", capsys=capsys)
    assert (
        "> - `statsig-test`: changes the results of running experiment checkout-v2 "
        "(updates `Checkout revenue`)"
    ) in out


def test_description_renames_and_tags_send_no_experiments_request(project: Project) -> None:
    seed(
        project, [live_metric("Checkout revenue")], [experiment("checkout-v2", "active", **uses())]
    )
    project.write(
        "definitions/statsig/Checkout_revenue.yaml",
        """\
        kind: statsig/metric
        name: Checkout revenue (gross)
        spec:
          type: sum
          description: Gross revenue
          tags: [core]
          unitTypes: [userID]
          metricEvents: [{name: purchase, type: value}]
        lifecycle:
          renamed_from: [Checkout revenue]
        """,
    )
    [change] = project.plan().changes
    assert change.action == Action.UPDATE and change.used_by is None
    project.apply()
    assert experiment_requests(project) == []


def test_a_failing_lookup_blocks_the_delete(
    pruning: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(pruning, [live_metric("Checkout revenue")], [])
    pruning.app.faults.add("GET /console/v1/metrics/*/experiments=403")
    plan = pruning.plan()
    [change] = plan.changes
    assert change.usage_unknown is not None and "HTTP 403" in change.usage_unknown
    [refusal] = plan.refusals
    assert refusal.startswith(
        "statsig-test: the experiments using 'Checkout revenue' are unknown (lookup failed: "
    )
    assert refusal.endswith(
        "so it counts as in use; not deleting it (lift it for one run with apply --allow-in-use)"
    )
    code, out, _ = pruning.cli("plan", capsys=capsys)
    assert code == 5 and "used by: unknown, so treated as in use" in out


# -- PostHog -------------------------------------------------------------------------------------


def seed_posthog(project: Project, metrics: list[Any], experiments: list[Any]) -> None:
    project.app.seed(
        {"posthog": {"projects": {"12345": {"saved_metrics": metrics, "experiments": experiments}}}}
    )


def saved(name: str = "Checkout conversion", **extra: Any) -> dict[str, Any]:
    return {"name": name, "description": "d", "query": QUERY, "tags": [OWNER], **extra}


def test_deleting_a_saved_metric_a_running_experiment_links_is_refused_until_allowed(
    pruning: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_posthog(
        pruning,
        [saved()],
        [
            {"name": "checkout-v2", "status": "running", "saved_metrics": ["Checkout conversion"]},
            {"name": "paused-test", "status": "paused", "saved_metrics": ["Checkout conversion"]},
            {"name": "ended", "status": "stopped", "archived": True, "saved_metrics": ["Checkout conversion"]},
            {"name": "unrelated", "status": "running"},
        ],
    )  # fmt: skip
    plan = pruning.plan()
    [change] = plan.changes
    assert [(u.name, u.status, u.running) for u in change.used_by or ()] == [
        ("paused-test", "paused", True),
        ("checkout-v2", "running", True),
        ("ended", "stopped", False),
    ]
    [refusal] = plan.refusals
    assert "'Checkout conversion' is used by 2 running experiment(s): paused-test, checkout-v2" in (
        refusal
    )
    code, out, _ = pruning.cli("plan", "--format", "markdown", capsys=capsys)
    assert code == 5
    assert (
        "deletes `Checkout conversion`, used by 2 running experiments: paused-test, checkout-v2"
    ) in out
    code, _, _ = pruning.cli("apply", "--yes", "--allow-in-use", capsys=capsys)
    assert code == 0 and posthog_live(pruning) == []


def test_replacing_a_legacy_saved_metric_in_use_is_refused(project: Project) -> None:
    legacy = {"kind": "ExperimentTrendsQuery", "count_query": {"kind": "TrendsQuery", "series": []}}
    seed_posthog(
        project,
        [saved(query=legacy)],
        [{"name": "checkout-v2", "status": "running", "saved_metrics": ["Checkout conversion"]}],
    )
    project.write(
        "definitions/posthog/checkout.yaml",
        """\
        kind: posthog/saved_metric
        name: Checkout conversion
        spec:
          description: d
          query:
            kind: ExperimentMetric
            metric_type: funnel
            series: [{kind: EventsNode, event: checkout}]
        """,
    )
    plan = project.plan()
    assert [c.action for c in plan.changes] == [Action.REPLACE]
    [refusal] = plan.refusals
    assert "replacing it changes their results" in refusal
    project.apply(allow_in_use=True)
    assert project.plan().changes == []


def test_a_saved_metric_only_ended_experiments_link_is_deleted_with_its_usage_listed(
    pruning: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_posthog(
        pruning,
        [saved()],
        [{"name": "ended", "status": "stopped", "saved_metrics": ["Checkout conversion"]}],
    )
    code, out, _ = pruning.cli("apply", "--yes", capsys=capsys)
    assert code == 0 and "      used by: ended (stopped)\n" in out
    assert posthog_live(pruning) == []


def test_a_posthog_description_change_sends_no_experiments_request(project: Project) -> None:
    seed_posthog(
        project,
        [saved()],
        [{"name": "checkout-v2", "status": "running", "saved_metrics": ["Checkout conversion"]}],
    )
    project.write(
        "definitions/posthog/checkout.yaml",
        """\
        kind: posthog/saved_metric
        name: Checkout conversion
        spec:
          description: Share of sessions that check out
          query:
            kind: ExperimentMetric
            metric_type: funnel
            series: [{kind: EventsNode, event: checkout}]
        """,
    )
    [change] = project.plan().changes
    assert change.action == Action.UPDATE
    project.apply()
    assert experiment_requests(project) == []


def test_a_failing_posthog_lookup_blocks_the_delete(pruning: Project) -> None:
    seed_posthog(pruning, [saved()], [{"name": "checkout-v2", "status": "running"}])
    pruning.app.faults.add("GET /api/projects/12345/experiments/*=403")
    [refusal] = pruning.plan().refusals
    assert "the experiments using 'Checkout conversion' are unknown (lookup failed" in refusal
    report = pruning.apply(allow_in_use=True)
    assert report.exit_code == 0 and posthog_live(pruning) == []


def test_a_saved_plan_keeps_its_usage_and_applies_with_allow_in_use(
    pruning: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(
        pruning, [live_metric("Checkout revenue")], [experiment("checkout-v2", "active", **uses())]
    )
    saved_plan = pruning.root / "plan.json"
    code, _, _ = pruning.cli("plan", "--out", str(saved_plan), capsys=capsys)
    assert code == 5
    [change] = json.loads(saved_plan.read_text())["targets"][0]["changes"]
    assert [u["name"] for u in change["used_by"]] == ["checkout-v2"]
    code, _, err = pruning.cli("apply", str(saved_plan), capsys=capsys)
    assert code == 5 and "--allow-in-use" in err
    code, _, _ = pruning.cli("apply", str(saved_plan), "--allow-in-use", capsys=capsys)
    assert code == 0 and statsig_live(pruning) == []


def test_verify_sends_no_experiments_request(
    pruning: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(
        pruning, [live_metric("Checkout revenue")], [experiment("checkout-v2", "active", **uses())]
    )
    statsig(pruning, "New metric")
    code, _, _ = pruning.cli("verify", "--target", "statsig-test", capsys=capsys)
    assert code == 0
    assert experiment_requests(pruning) == []


def test_an_experiment_name_cannot_forge_a_line_of_the_refusal_on_stderr(
    pruning: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    """Anyone who may name an experiment on the account must not start a line of apply's
    error (in CI, a line starting `::` is a workflow command): its line break stays an escape."""
    seed(
        pruning,
        [live_metric("Checkout revenue")],
        [experiment("checkout-v2\n::error::forged\r", "active", **uses())],
    )
    code, _, err = pruning.cli("apply", "--yes", capsys=capsys)
    assert code == 5
    assert "\n::error" not in err and "\r" not in err
    assert "running experiment(s): checkout-v2\\n::error::forged\\r; deleting it" in err


@pytest.mark.parametrize(
    ("status", "running"),
    [
        ("active", True),
        ("assignment_stopped", True),
        ("paused", True),  # a status the spec does not list yet: it may still be running
        (None, True),
        ("setup", False),
        ("decision_made", False),
        ("abandoned", False),
        ("archived", False),
        ("experiment_stopped", False),
    ],
)
def test_a_statsig_status_metricsync_cannot_place_counts_as_running(
    status: str | None, running: bool
) -> None:
    from metricsync.platforms.statsig.experiments import use

    assert use({"id": "e", "status": status}).running is running
