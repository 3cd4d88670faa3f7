"""Plan and apply scenarios against the sandbox: identity, ownership, safety, saved plans."""

from __future__ import annotations

import json

import httpx
import pytest

from metricsync.plan import Action
from metricsync.sandbox.transport import SandboxTransport
from tests.engine.conftest import POSTHOG_KEY, STATSIG_KEY, Project, config_text

OWNER = "managed-by-metricsync"
SUM = """\
kind: statsig/metric
name: {name}
spec:
  type: {type}
  description: {description}
  unitTypes: [userID]
  metricEvents: [{{name: purchase, type: value}}]
"""


def statsig(project: Project, name: str, *, file: str | None = None, **spec: str) -> None:
    values = {"name": name, "type": "sum", "description": "Revenue", **spec}
    project.write(
        f"definitions/statsig/{file or name.replace(' ', '_')}.yaml", SUM.format(**values)
    )


def seed_statsig(project: Project, *metrics: dict[str, object]) -> None:
    project.app.seed({"statsig": {"metrics": list(metrics)}})


def live_metric(
    name: str, type_: str = "sum", owned: bool = True, **extra: object
) -> dict[str, object]:
    return {
        "name": name,
        "type": type_,
        "description": "Revenue",
        "unitTypes": ["userID"],
        "metricEvents": [{"name": "purchase", "type": "value"}],
        "tags": [OWNER] if owned else [],
        **extra,
    }


def console(project: Project) -> httpx.Client:
    """What a person in the Statsig console would do, through the sandbox's API."""
    return httpx.Client(
        transport=SandboxTransport(project.app),
        base_url="http://statsig.sandbox",
        headers={"STATSIG-API-KEY": STATSIG_KEY},
    )


def statsig_live(project: Project) -> list[dict[str, object]]:
    params = {"page": 1, "limit": 1000, "showHiddenMetrics": "true"}
    metrics: list[dict[str, object]] = (
        console(project).get("/console/v1/metrics/list", params=params).json()["data"]
    )
    return metrics


def actions(project: Project) -> list[tuple[str, str]]:
    return [(c.action.value, c.name) for c in project.plan().changes]


def test_description_change_is_an_update_with_the_field_diff(project: Project) -> None:
    statsig(project, "Revenue total")
    project.apply()
    statsig(project, "Revenue total", description="Gross revenue")
    [change] = project.plan().changes
    assert change.action == Action.UPDATE
    assert [(f.path, f.before, f.after) for f in change.fields] == [
        ("description", "Revenue", "Gross revenue")
    ]
    project.apply()
    assert project.plan().changes == []


def test_renamed_from_updates_the_live_object_and_keeps_its_id(project: Project) -> None:
    statsig(project, "Old revenue", file="revenue")
    project.apply()
    project.write(
        "definitions/statsig/revenue.yaml",
        SUM.format(name="New revenue", type="sum", description="Revenue")
        + "lifecycle:\n  renamed_from: [Old revenue]\n",
    )
    [change] = project.plan().changes
    assert (change.action, change.previous_name, change.live_id) == (
        Action.UPDATE,
        "Old revenue",
        "Old revenue::sum",
    )
    project.apply()
    assert project.plan().changes == []
    assert [(m["id"], m["name"]) for m in statsig_live(project)] == [
        ("Old revenue::sum", "New revenue")
    ]


def test_a_type_change_is_a_replace_with_a_new_id(project: Project) -> None:
    statsig(project, "Order value")
    project.apply()
    statsig(project, "Order value", type="mean")
    [change] = project.plan().changes
    assert (change.action, change.live_id) == (Action.REPLACE, "Order value::sum")
    project.apply()
    assert project.plan().changes == []
    assert [m["id"] for m in statsig_live(project)] == ["Order value::mean"]


def test_replacing_a_protected_object_is_refused(project: Project) -> None:
    statsig(project, "Order value")
    project.apply()
    project.write(
        "definitions/statsig/Order_value.yaml",
        SUM.format(name="Order value", type="mean", description="Revenue")
        + "lifecycle:\n  protect: true\n",
    )
    plan = project.plan()
    assert plan.refusals == [
        "statsig-test: protected object 'Order value' would be replaced "
        "(lifecycle.protect in definitions/statsig/Order_value.yaml:1); remove protect to allow it"
    ]


def test_a_live_twin_without_the_marker_is_adopted(project: Project) -> None:
    seed_statsig(project, live_metric("Checkout revenue", owned=False))
    statsig(project, "Checkout revenue")
    [change] = project.plan().changes
    assert (change.action, change.adopt, change.fields) == (Action.ADOPT, True, ())
    project.apply()
    assert project.plan().changes == []
    [metric] = statsig_live(project)
    assert metric["tags"] == [OWNER]


def test_prune_deletes_only_objects_that_carry_the_marker(project: Project) -> None:
    project.write("metricsync.yaml", config_text(project.url, prune=True))
    seed_statsig(
        project, live_metric("Left the repo"), live_metric("Made in the console", owned=False)
    )
    assert actions(project) == [("delete", "Left the repo")]
    project.apply()
    assert [m["name"] for m in statsig_live(project)] == ["Made in the console"]
    assert project.plan().changes == []


def test_without_prune_orphans_are_kept_and_reported(project: Project) -> None:
    seed_statsig(project, live_metric("Left the repo"))
    plan = project.plan()
    assert plan.changes == []
    assert plan.targets[0].notes == (
        "1 managed object(s) no longer defined ('Left the repo'); prune is off, so they are kept",
    )


def test_auto_generated_and_unmanaged_metrics_are_never_touched(project: Project) -> None:
    project.write("metricsync.yaml", config_text(project.url, prune=True))
    seed_statsig(
        project,
        {"name": "add_to_cart", "type": "event_count", "tags": [OWNER]},
        {"name": "add_to_cart", "type": "event_dau"},
        live_metric("Someone else's", owned=False),
    )
    assert project.plan().changes == []


def test_deletes_over_max_deletes_are_refused_and_lifted_narrowly(project: Project) -> None:
    project.write("metricsync.yaml", config_text(project.url, prune=True, max_deletes=1))
    seed_statsig(project, live_metric("Gone one"), live_metric("Gone two"))
    assert project.plan().refusals == [
        "statsig-test: deletes 2 > max_deletes 1 (lift with --allow-deletes 2)"
    ]
    assert project.plan(allow_deletes=2).refusals == []
    assert project.plan(allow_deletes=1).refusals != []


def test_changing_too_many_managed_objects_is_refused(project: Project) -> None:
    for i in range(10):
        statsig(project, f"Metric number {i}")
    project.apply()
    for i in range(4):
        statsig(project, f"Metric number {i}", description="Changed")
    assert project.plan().refusals == [
        "statsig-test: changes 40% of 10 managed objects > max_changes_percent 30 "
        "(lift with --allow-changes-percent 40)"
    ]
    assert project.plan(allow_changes_percent=40).refusals == []


def test_composite_is_created_after_its_components(project: Project) -> None:
    project.write(
        "definitions/statsig/composite.yaml",
        """\
        kind: statsig/metric
        name: Total value
        spec:
          type: composite_sum
          unitTypes: [userID]
          metricComponentMetrics: [{name: Part one, type: sum}, {name: Part two, type: sum}]
        """,
    )
    statsig(project, "Part two")
    statsig(project, "Part one")
    changes = project.plan().changes
    assert [c.name for c in changes] == ["Part one", "Part two", "Total value"]
    assert changes[2].depends_on == ("statsig/metric:Part one", "statsig/metric:Part two")


def test_lookalike_unmanaged_objects_are_listed(project: Project) -> None:
    seed_statsig(project, live_metric("checkout-revenue", owned=False))
    statsig(project, "Checkout revenue")
    [lookalike] = project.plan().targets[0].lookalikes
    assert (lookalike.name, lookalike.resembles) == ("checkout-revenue", "Checkout revenue")


def test_posthog_names_match_case_insensitively_and_rename_in_place(project: Project) -> None:
    project.app.seed(
        {
            "posthog": {
                "projects": {
                    "12345": {
                        "saved_metrics": [
                            {
                                "name": "checkout conversion",
                                "query": {
                                    "kind": "ExperimentMetric",
                                    "metric_type": "funnel",
                                    "series": [{"kind": "EventsNode", "event": "checkout"}],
                                },
                                "tags": [OWNER],
                            }
                        ]
                    }
                }
            }
        }
    )
    project.write(
        "definitions/posthog/checkout.yaml",
        """\
        kind: posthog/saved_metric
        name: Checkout conversion
        spec:
          query:
            kind: ExperimentMetric
            metric_type: funnel
            series: [{kind: EventsNode, event: checkout}]
        """,
    )
    [change] = project.plan().changes
    assert (change.action, change.previous_name) == (Action.UPDATE, "checkout conversion")
    project.apply()
    assert project.plan().changes == []


def test_posthog_legacy_metric_is_replaced_not_patched(project: Project) -> None:
    legacy = {"kind": "ExperimentTrendsQuery", "count_query": {"kind": "TrendsQuery", "series": []}}
    project.app.seed(
        {
            "posthog": {
                "projects": {
                    "12345": {"saved_metrics": [{"name": "Old", "query": legacy, "tags": [OWNER]}]}
                }
            }
        }
    )
    project.write(
        "definitions/posthog/old.yaml",
        """\
        kind: posthog/saved_metric
        name: Old
        spec:
          query: {kind: ExperimentMetric, metric_type: mean, source: {kind: EventsNode, event: purchase}}
        """,
    )
    assert actions(project) == [("replace", "Old")]
    project.apply()
    assert project.plan().changes == []


def test_saved_plan_applies_when_fresh(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    statsig(project, "Revenue total")
    code, _, _ = project.cli("plan", "--out", "plan.json", capsys=capsys)
    assert code == 0
    code, out, _ = project.cli("apply", "plan.json", capsys=capsys)
    assert code == 0
    assert out.endswith("Apply: 1 applied, 0 failed, 0 skipped.\n")
    assert project.cli("plan", "--detailed-exitcode", capsys=capsys)[0] == 0


def test_saved_plan_is_refused_when_a_touched_object_changed(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    statsig(project, "Revenue total")
    project.apply()
    statsig(project, "Revenue total", description="Reviewed text")
    assert project.cli("plan", "--out", "plan.json", capsys=capsys)[0] == 0
    edit = {"description": "Edited in the console"}
    assert (
        console(project).post("/console/v1/metrics/Revenue%20total%3A%3Asum", json=edit).status_code
        == 200
    )
    code, _, err = project.cli("apply", "plan.json", capsys=capsys)
    assert code == 5
    assert "Changed since review:" in err
    assert "statsig-test: statsig/metric:Revenue total: reviewed update" in err
    assert "Error: plan.json is stale; run plan again and review it" in err


def test_saved_plan_leaves_drift_of_an_untouched_object_to_the_next_plan(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    """An object the saved plan does not touch drifting in the console does not make
    the plan stale; the reviewed change applies, and the drift waits for the next plan."""
    statsig(project, "Revenue total")
    statsig(project, "Revenue net")
    project.apply()
    statsig(project, "Revenue total", description="Reviewed text")
    assert project.cli("plan", "--out", "plan.json", capsys=capsys)[0] == 0
    edit = {"description": "Edited in the console"}
    assert (
        console(project).post("/console/v1/metrics/Revenue%20net%3A%3Asum", json=edit).status_code
        == 200
    )
    code, out, err = project.cli("apply", "plan.json", capsys=capsys)
    assert code == 0, err
    assert "Changed since review" not in err
    assert "1 change(s) outside the reviewed plan (update 'Revenue net') are left for " in out
    assert out.endswith("Apply: 1 applied, 0 failed, 0 skipped.\n")
    [drift] = project.plan().changes
    assert (drift.name, [(f.path, f.before) for f in drift.fields]) == (
        "Revenue net",
        [("description", "Edited in the console")],
    )


def test_saved_plan_is_refused_for_exactly_the_touched_objects_that_changed(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    statsig(project, "Revenue total")
    statsig(project, "Revenue net")
    project.apply()
    statsig(project, "Revenue total", description="Reviewed text")
    assert project.cli("plan", "--out", "plan.json", capsys=capsys)[0] == 0
    for name in ("Revenue%20total", "Revenue%20net"):
        edit = {"description": "Edited in the console"}
        response = console(project).post(f"/console/v1/metrics/{name}%3A%3Asum", json=edit)
        assert response.status_code == 200
    code, _, err = project.cli("apply", "plan.json", capsys=capsys)
    assert code == 5
    stale = [line for line in err.splitlines() if line.startswith("  statsig-test: ")]
    assert len(stale) == 1 and stale[0].startswith(
        "  statsig-test: statsig/metric:Revenue total: reviewed update"
    )


def test_changed_since_review_shows_how_each_live_field_moved(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    """The refusal is a diff: per field of the touched object, the live value the reviewer saw
    and the live value now (server text escaped, as everywhere on the terminal)."""
    statsig(project, "Revenue total")
    project.apply()
    statsig(project, "Revenue total", description="Reviewed text")
    assert project.cli("plan", "--out", "plan.json", capsys=capsys)[0] == 0
    edit = {"description": "Edited\x1b[31m in the console"}
    response = console(project).post("/console/v1/metrics/Revenue%20total%3A%3Asum", json=edit)
    assert response.status_code == 200
    code, _, err = project.cli("apply", "plan.json", capsys=capsys)
    assert code == 5
    fields = [line for line in err.splitlines() if line.startswith("      ")]
    assert fields == [
        '      description: live "Revenue" when reviewed, now "Edited\\u001b[31m in the console"'
    ]


def test_saved_plan_is_refused_when_definitions_changed(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    statsig(project, "Revenue total")
    assert project.cli("plan", "--out", "plan.json", capsys=capsys)[0] == 0
    statsig(project, "Revenue total", description="Edited after review")
    code, _, err = project.cli("apply", "plan.json", capsys=capsys)
    assert code == 5
    assert "the config or definitions changed since the plan was made" in err


def test_detailed_exitcode_and_apply_needs_yes_off_a_terminal(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    statsig(project, "Revenue total")
    assert project.cli("plan", "--detailed-exitcode", capsys=capsys)[0] == 2
    code, _, err = project.cli("apply", capsys=capsys)
    assert (code, err.strip().splitlines()[-1]) == (
        64,
        "Error: apply needs --yes when it cannot ask (no terminal)",
    )
    assert project.cli("apply", "--yes", capsys=capsys)[0] == 0
    assert project.cli("plan", "--detailed-exitcode", capsys=capsys)[0] == 0


def test_no_secret_in_any_output_or_plan_file(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    statsig(project, "Revenue total")
    outputs = []
    for args in (
        ["plan", "--format", "json", "--out", "plan.json"],
        ["plan", "--format", "markdown"],
    ):
        outputs += project.cli(*args, capsys=capsys)[1:]
    outputs.append((project.root / "plan.json").read_text())
    project.write("metricsync.yaml", config_text(project.url).replace("TEST_STATSIG_KEY", "NOPE"))
    outputs += project.cli("plan", capsys=capsys)[1:]
    for text in outputs:
        assert STATSIG_KEY not in text and POSTHOG_KEY not in text
    assert "set the environment variable NOPE" in outputs[-1]


def test_json_plan_is_versioned(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    statsig(project, "Revenue total")
    _, out, _ = project.cli("plan", "--format", "json", capsys=capsys)
    document = json.loads(out)
    assert document["format_version"] == 1
    [target] = [t for t in document["targets"] if t["changes"]]
    assert target["api_calls"] == 2  # create the owner tag, then the metric
    assert [c["action"] for c in target["changes"]] == ["create"]


def test_posthog_project_that_ignores_tags_is_remembered_not_adopted_forever(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    project.app.configure({"posthog": {"tagging": False}})
    project.write(
        "definitions/posthog/checkout.yaml",
        """\
        kind: posthog/saved_metric
        name: Checkout funnel
        spec:
          tags: [checkout]
          query: {kind: ExperimentMetric, metric_type: funnel, series: [{kind: EventsNode, event: checkout}]}
        """,
    )
    code, out, _ = project.cli("apply", "--yes", "--target", "posthog-test", capsys=capsys)
    assert code == 0
    assert "note: PostHog project 12345 ignores tags (its paid tagging feature is off)" in out
    code, out, _ = project.cli("plan", "--detailed-exitcode", capsys=capsys)
    assert code == 0
    assert "note: PostHog project 12345 ignores tags" in out
    assert out.endswith("No changes.\n")


def test_ignored_fields_are_written_on_create_and_left_alone_after(project: Project) -> None:
    project.write(
        "definitions/statsig/revenue.yaml",
        SUM.format(name="Revenue total", type="sum", description="Written once")
        + "lifecycle:\n  ignore_changes: [spec.description]\n",
    )
    project.apply()
    assert [m["description"] for m in statsig_live(project)] == ["Written once"]
    edit = {"description": "Edited in the console"}
    console(project).post("/console/v1/metrics/Revenue%20total%3A%3Asum", json=edit)
    project.write(
        "definitions/statsig/revenue.yaml",
        SUM.format(name="Revenue total", type="sum", description="Changed in Git")
        + "lifecycle:\n  ignore_changes: [spec.description]\n",
    )
    assert project.plan().changes == []


def test_plan_on_invalid_definitions_lists_every_problem_and_sends_nothing(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    project.write(
        "definitions/statsig/bad.yaml",
        """\
        kind: statsig/metric
        name: Bad
        spec:
          type: ratio
          createdTime: 1
        """,
    )
    code, out, err = project.cli("plan", capsys=capsys)
    assert (code, out) == (3, "")
    assert err.splitlines() == [
        "definitions/statsig/bad.yaml:5:3: `createdTime` is set by Statsig; remove it from spec [/spec/createdTime]",
        "Error: 1 problem found; nothing was sent",
    ]
    assert list(project.app.requests) == []


def test_saved_plan_of_all_targets_applies_beside_unplanned_targets(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    config = (project.root / "metricsync.yaml").read_text()
    config += (
        "  userflux-test:\n    provider: userflux\n    client_secret: env:UF_SECRET\n"
        "    environment_api_key: env:UF_KEY\n    definitions: [definitions/userflux]\n"
    )
    project.write("metricsync.yaml", config)
    project.write(
        "definitions/userflux/q.yaml",
        "kind: userflux/query\nname: rows\nspec: {sql: SELECT name FROM eventsTable LIMIT 1}\n",
    )
    statsig(project, "Revenue total")
    assert project.cli("plan", "--out", "plan.json", capsys=capsys)[0] == 0
    code, out, err = project.cli("apply", "plan.json", capsys=capsys)
    assert code == 0, err
    assert out.endswith("Apply: 1 applied, 0 failed, 0 skipped.\n")
