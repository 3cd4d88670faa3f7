"""PostHog behaviour checked against the vendor's own source (docs/platforms/posthog.md): what
counts as legacy, finding a metric after an uncertain create on servers without `?search=`, and
what a definition's `description` means when it is removed or emptied."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from metricsync.apply import Status
from metricsync.plan import Action
from metricsync.sandbox.transport import SandboxTransport
from tests.engine.conftest import POSTHOG_KEY, Project
from tests.engine.test_import import _round_trip

OWNER = "managed-by-metricsync"
METRICS = "/api/projects/12345/experiment_saved_metrics/"
MEAN_QUERY = (
    "  query: {kind: ExperimentMetric, metric_type: mean, source: {kind: EventsNode, event: buy}}\n"
)
MEAN = {"kind": "ExperimentMetric", "metric_type": "mean", "source": {"kind": "EventsNode", "event": "buy"}}  # fmt: skip


def seed(project: Project, *metrics: dict[str, Any], **settings: Any) -> None:
    section: dict[str, Any] = {"projects": {"12345": {"saved_metrics": list(metrics)}}}
    project.app.seed({"posthog": {**section, "settings": settings}})


def posthog(project: Project) -> httpx.Client:
    """What a person in PostHog's UI does, through the sandbox's API."""
    return httpx.Client(
        transport=SandboxTransport(project.app),
        base_url="http://posthog.sandbox",
        headers={"Authorization": f"Bearer {POSTHOG_KEY}"},
    )


def live(project: Project) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (
        posthog(project).get(METRICS, params={"limit": 1000}).json()["results"]
    )
    return found


def define(project: Project, name: str, body: str) -> None:
    project.write(
        f"definitions/posthog/{name.lower().replace(' ', '_')}.yaml",
        f"kind: posthog/saved_metric\nname: {name}\nspec:\n{body}",
    )


def test_an_early_2025_experiment_metric_is_updated_in_place_never_replaced(
    project: Project,
) -> None:
    """Only a legacy query kind stops PostHog updating a metric; a replace would unlink it from
    every experiment, so an old `metric_type`/`metric_config` is PATCHed."""
    old = {
        "kind": "ExperimentMetric",
        "metric_type": "count",
        "metric_config": {"kind": "ExperimentEventMetricConfig", "event": "buy"},
    }
    seed(project, {"id": 42, "name": "Purchases", "query": old, "tags": [OWNER]})
    define(project, "Purchases", "  query: {kind: ExperimentMetric, metric_type: mean, source: {kind: EventsNode, event: buy}}\n")  # fmt: skip
    [change] = project.plan().changes
    assert (change.action, change.live_id) == (Action.UPDATE, "42")
    report = project.apply()
    assert [o.status for o in report.outcomes] == [Status.APPLIED]
    assert project.sent("DELETE", f"{METRICS}42/") == 0
    [metric] = live(project)
    assert metric["id"] == 42 and metric["query"]["metric_type"] == "mean"
    assert project.plan().changes == []


def test_a_rename_of_an_early_2025_metric_is_an_update(project: Project) -> None:
    old = {"kind": "ExperimentMetric", "metric_type": "continuous", **{"source": MEAN["source"]}}
    seed(project, {"id": 7, "name": "Old name", "query": old, "tags": [OWNER]})
    body = "  query: {kind: ExperimentMetric, metric_type: mean, source: {kind: EventsNode, event: buy}}\n"  # fmt: skip
    project.write(
        "definitions/posthog/new.yaml",
        f"kind: posthog/saved_metric\nname: New name\nlifecycle: {{renamed_from: [Old name]}}\nspec:\n{body}",
    )
    [change] = project.plan().changes
    assert (change.action, change.previous_name) == (Action.UPDATE, "Old name")


def test_a_create_whose_answer_was_lost_is_found_on_a_server_without_search(
    project: Project,
) -> None:
    """Older servers ignore `?search=` and answer the first page of everything: the look after
    an uncertain create must read on rather than create the metric a second time."""
    others = [{"name": f"Alpha {n:03d}", "query": MEAN} for n in range(120)]
    seed(project, *others, list_search=False)
    define(project, "Zeta revenue", "  query: {kind: ExperimentMetric, metric_type: mean, source: {kind: EventsNode, event: buy}}\n")  # fmt: skip
    project.app.faults.add(f"POST {METRICS}=drop-afterx1")
    report = project.apply()
    assert [o.status for o in report.outcomes] == [Status.APPLIED]
    assert project.sent("POST", METRICS) == 1  # found by reading, not sent again
    assert [m["name"] for m in live(project) if m["name"].startswith("Zeta")] == ["Zeta revenue"]
    assert project.plan().changes == []


def test_a_search_that_visibly_filtered_settles_the_look_in_one_request(
    project: Project,
) -> None:
    others = [{"name": f"Alpha {n:03d}", "query": MEAN} for n in range(120)]
    seed(project, *others)
    define(project, "Zeta revenue", "  query: {kind: ExperimentMetric, metric_type: mean, source: {kind: EventsNode, event: buy}}\n")  # fmt: skip
    project.app.faults.add(f"POST {METRICS}=drop-beforex1")
    report = project.apply()
    assert [o.status for o in report.outcomes] == [Status.APPLIED]
    assert project.sent("POST", METRICS) == 2  # nothing found, so sent again
    assert project.sent("GET", METRICS) == 2  # the plan's read, then one search: no full read


def test_an_emptied_description_is_compared_and_cleared_on_every_server(
    project: Project,
) -> None:
    """`description: null` is ignored by older servers and clears on the newest: an emptied
    description is compared as "" and sent as "", which clears everywhere."""
    seed(
        project,
        {"name": "Revenue", "description": "Old text", "query": MEAN, "tags": [OWNER]},
        null_description="ignore",
    )
    define(project, "Revenue", "  description: null\n  query: {kind: ExperimentMetric, metric_type: mean, source: {kind: EventsNode, event: buy}}\n")  # fmt: skip
    [change] = project.plan().changes
    assert [(f.path, f.before, f.after) for f in change.fields] == [("description", "Old text", "")]
    project.apply()
    assert [m["description"] for m in live(project)] == [""]
    assert project.plan().changes == []


def test_a_removed_description_is_not_managed_and_not_sent(project: Project) -> None:
    """A definition without `description` leaves it to PostHog's UI: never compared, never
    sent, so the plan stays empty and the UI's text stays."""
    seed(project, {"name": "Revenue", "description": "Written in the UI", "query": MEAN, "tags": [OWNER]})  # fmt: skip
    define(project, "Revenue", "  query: {kind: ExperimentMetric, metric_type: mean, source: {kind: EventsNode, event: buy}}\n")  # fmt: skip
    assert project.plan().changes == []
    define(project, "Revenue", "  tags: [revenue]\n  query: {kind: ExperimentMetric, metric_type: mean, source: {kind: EventsNode, event: buy}}\n")  # fmt: skip
    project.apply()
    assert [m["description"] for m in live(project)] == ["Written in the UI"]
    assert project.plan().changes == []


# Metrics as PostHog's UI saves them: every node key present (null when unset), the keys the
# current ExperimentMetric schema added, a step optional in its funnel, a revenue currency, fixed
# filters, and a retention window that starts at the experiment's exposure.
def ui_node(event: str, **keys: Any) -> dict[str, Any]:
    unset = (
        "custom_name", "fixedProperties", "limit", "math_group_type_index", "math_hogql",
        "math_multiplier", "math_property", "math_property_revenue_currency",
        "math_property_type", "optionalInFunnel", "orderBy", "response", "version",
    )  # fmt: skip
    return {"kind": "EventsNode", "event": event, "name": event, **dict.fromkeys(unset), **keys}


UI_METRICS: list[dict[str, Any]] = [
    {
        "name": "Checkout funnel (UI)",
        "description": "Made in PostHog",
        "tags": ["checkout"],
        "query": {
            "kind": "ExperimentMetric", "metric_type": "funnel", "goal": "increase",
            "isSharedMetric": True, "version": 2, "response": None, "breakdownFilter": {
                "breakdown_type": "event", "breakdown_path_cleaning": False, "breakdowns": None,
                "breakdown_limit": None,
            },
            "series": [
                ui_node("view_cart", math="total", properties=[
                    {"key": "actionContext", "label": None, "operator": "exact", "type": "event", "value": ["session"]},
                ]),
                ui_node("add_coupon", optionalInFunnel=True),
                ui_node("purchase", fixedProperties=[
                    {"key": "email", "operator": "icontains", "type": "person", "value": "@example.com"},
                ]),
            ],
            "funnel_order_type": "ordered",
        },
    },
    {
        "name": "Revenue per user (UI)",
        "query": {
            "kind": "ExperimentMetric", "metric_type": "mean", "goal": "increase",
            "source": ui_node(
                "purchase", math="sum", math_property="price", version=1,
                math_property_revenue_currency={"property": None, "static": "EUR"},
            ),
            "upper_bound_percentile": 0.99, "ignore_zeros": False,
        },
    },
    {
        "name": "Came back after exposure (UI)",
        "query": {
            "kind": "ExperimentMetric", "metric_type": "retention",
            "start_event": {"kind": "ExperimentExposureNode"},
            "completion_event": ui_node("$pageview", limit=100, orderBy=["timestamp DESC"]),
            "retention_window_start": 1, "retention_window_end": 7,
            "retention_window_unit": "day", "start_handling": "first_seen",
        },
    },
]  # fmt: skip


def test_metrics_made_in_the_posthog_ui_import_validate_and_plan_to_adoption_only(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(project, *UI_METRICS)
    out, actions = _round_trip(project, capsys, "posthog-test")
    assert actions == {"adopt": 3}
    assert "3 written, 0 skipped." in out
    text = (project.root / "definitions" / "posthog" / "checkout_funnel_ui.yaml").read_text()
    assert "optionalInFunnel: true" in text and "fixedProperties:" in text


def test_a_metric_with_a_blank_filter_imports_validates_and_plans_to_adoption_only(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    """PostHog's schema takes an empty property filter (`EmptyPropertyFilter`, a filter row left
    blank): such a metric is not skipped as invalid, and it converges."""
    blank = {
        "name": "Blank filter (UI)",
        "query": {
            "kind": "ExperimentMetric", "metric_type": "mean",
            "source": ui_node("purchase", properties=[{}], fixedProperties=[{}]),
        },
    }  # fmt: skip
    seed(project, blank)
    out, actions = _round_trip(project, capsys, "posthog-test")
    assert (actions, "1 written, 0 skipped." in out) == ({"adopt": 1}, True)


def test_an_exposure_start_accepts_neither_a_conversion_window_nor_last_seen(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    define(
        project,
        "Retained",
        "  query:\n    kind: ExperimentMetric\n    metric_type: retention\n"
        "    start_event: {kind: ExperimentExposureNode}\n"
        "    completion_event: {kind: EventsNode, event: $pageview}\n"
        "    retention_window_start: 0\n    retention_window_end: 7\n"
        "    retention_window_unit: day\n    start_handling: last_seen\n"
        "    conversion_window: 3\n    conversion_window_unit: day\n",
    )
    code, out, _ = project.cli("validate", capsys=capsys)
    assert code == 3
    assert "conversion_window cannot be combined with an experiment exposure start" in out
    assert "start_handling last_seen cannot be combined with an experiment exposure start" in out


def test_an_update_posthog_does_not_take_fails_naming_the_field(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    """Apply checks its own work: PostHog answered 200 but still holds the old description, so
    the change fails naming the field and what to do, and apply exits 1 (nothing succeeded)."""
    define(project, "Revenue", "  description: Old text\n" + MEAN_QUERY)
    assert project.cli("apply", "--yes", capsys=capsys)[0] == 0
    project.app.platforms["posthog"].configure({"update_ignores": ["description"]})
    define(project, "Revenue", "  description: New text\n" + MEAN_QUERY)
    code, out, _ = project.cli("apply", "--yes", capsys=capsys)
    assert code == 1
    assert "failed  posthog-test: update posthog/saved_metric 'Revenue': PostHog accepted" in out
    assert 'did not take description (still "Old text", sent "New text")' in out
    assert "`lifecycle.ignore_changes: [spec.description]`" in out
    [change] = project.plan().changes  # still planned, loudly: never a silent "ok"
    assert [f.path for f in change.fields] == ["description"]


def test_a_partly_taken_apply_exits_4(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    define(project, "Revenue", MEAN_QUERY)
    assert project.cli("apply", "--yes", capsys=capsys)[0] == 0
    project.app.platforms["posthog"].configure({"update_ignores": ["query"]})
    define(project, "Revenue", MEAN_QUERY.replace("event: buy", "event: purchase"))
    define(project, "Signups", MEAN_QUERY.replace("event: buy", "event: signup"))
    code, out, _ = project.cli("apply", "--yes", capsys=capsys)
    assert code == 4
    assert 'did not take query.source.event (still "buy", sent "purchase")' in out
