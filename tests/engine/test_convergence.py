"""The invariant every kind must hold: after a successful apply, the next plan is empty."""

from __future__ import annotations

import textwrap

import pytest

from metricsync.apply import Status
from tests.engine.conftest import STATSIG_UPDATES, Project, statsig_updates


def _converges(project: Project) -> None:
    first = project.plan()
    assert first.changes, "the scenario must start with something to apply"
    report = project.apply()
    failures = [(o.change.name, o.error) for o in report.outcomes if o.status != Status.APPLIED]
    assert failures == []
    again = project.plan()
    assert [(c.action.value, c.name, c.fields) for c in again.changes] == []


@pytest.mark.parametrize("updates", STATSIG_UPDATES)
def test_shipped_examples_converge(project: Project, updates: str) -> None:
    statsig_updates(project, updates)
    project.copy_examples("statsig")
    project.copy_examples("posthog")
    project.provide_references()  # the funnel's action, as --sandbox provides it (docs/sandbox/README.md)
    _converges(project)


STATSIG_SHAPES = {
    "ratio": """
        type: ratio
        unitTypes: [userID]
        metricEvents:
          - {name: purchase, type: count, criteria: [{type: metadata, column: currency, condition: in, values: [USD, EUR]}]}
          - {name: visit, type: count}
    """,
    "mean": """
        type: mean
        unitTypes: [userID, stableID]
        tags: [Revenue]
        metricEvents: [{name: purchase, type: value, criteria: [{type: value, condition: ">", values: ["0"]}]}]
    """,
    "event_count_custom": """
        type: event_count_custom
        description: clicks
        directionality: decrease
        unitTypes: [stableID]
        tags: single-tag
        metricEvents: [{name: click, criteria: [{type: user, column: country, condition: not_in, values: [DE]}]}]
    """,
    "event_user": """
        type: event_user
        unitTypes: [userID]
        metricEvents: [{name: signup, criteria: [{type: metadata, column: plan, condition: "=", values: [pro]}]}]
    """,
    "funnel": """
        type: funnel
        unitTypes: [userID]
        funnelCountDistinct: users
        funnelEventList:
          - {name: view, type: event_user}
          - {name: buy, type: event_dau, criteria: [{type: metadata, column: x, condition: is_true}]}
    """,
    "sum": """
        type: sum
        isPermanent: true
        isReadOnly: true
        unitTypes: [userID]
        rollupTimeWindow: custom
        customRollUpStart: 0
        customRollUpEnd: 14
        metricEvents: [{name: purchase, type: value}]
    """,
    "composite_sum": """
        type: composite_sum
        unitTypes: [userID]
        metricComponentMetrics: [{name: shape sum, type: sum}, {name: shape mean, type: mean}]
    """,
    "composite": """
        type: composite
        unitTypes: [userID]
        metricComponentMetrics: [{name: shape ratio, type: ratio}]
    """,
    "undefined": """
        type: undefined
        description: finished later in the console
    """,
}

POSTHOG_SHAPES = {
    "mean with filters": """
        description: ""
        tags: [Revenue, revenue, " Checkout "]
        query:
          kind: ExperimentMetric
          metric_type: mean
          goal: increase
          conversion_window: 7
          conversion_window_unit: day
          lower_bound_percentile: 0.05
          source:
            kind: EventsNode
            event: purchase
            math: sum
            math_property: amount
            properties: [{key: currency, value: [USD, EUR], operator: exact, type: event}]
    """,
    "funnel with an action": """
        query:
          kind: ExperimentMetric
          metric_type: funnel
          funnel_order_type: unordered
          series:
            - {kind: EventsNode, event: $pageview, custom_name: Landing}
            - {kind: ActionsNode, id: 7}
    """,
    "ratio with outliers": """
        description: revenue per visit
        query:
          kind: ExperimentMetric
          metric_type: ratio
          numerator: {kind: EventsNode, event: purchase, math: sum, math_property: amount}
          denominator: {kind: EventsNode, event: $pageview, math: total}
    """,
    "retention weekly": """
        query:
          kind: ExperimentMetric
          metric_type: retention
          start_event: {kind: EventsNode, event: signup}
          completion_event: {kind: EventsNode, event: purchase}
          retention_window_start: 1
          retention_window_end: 4
          retention_window_unit: week
          start_handling: first_seen
    """,
    "funnel with the UI's keys": """
        query:
          kind: ExperimentMetric
          metric_type: funnel
          breakdownFilter: {breakdown_type: event, breakdown: $browser, breakdown_path_cleaning: true}
          series:
            - kind: EventsNode
              event: view_cart
              fixedProperties: [{key: email, value: "@example.com", operator: icontains, type: person}]
            - {kind: EventsNode, event: add_coupon, optionalInFunnel: true}
            - kind: EventsNode
              event: purchase
              math: sum
              math_property: price
              math_property_revenue_currency: {static: EUR}
    """,
    "retention from exposure": """
        query:
          kind: ExperimentMetric
          metric_type: retention
          start_event: {kind: ExperimentExposureNode}
          completion_event: {kind: EventsNode, event: purchase, limit: 100, orderBy: [timestamp DESC]}
          retention_window_start: 0
          retention_window_end: 7
          retention_window_unit: day
          start_handling: first_seen
    """,
}


def _document(kind: str, name: str, spec: str) -> str:
    indented = "\n".join("  " + line for line in textwrap.dedent(spec).strip().splitlines())
    return f"kind: {kind}\nname: {name}\nspec:\n{indented}\n"


@pytest.mark.parametrize("updates", STATSIG_UPDATES)
def test_every_statsig_create_type_converges(project: Project, updates: str) -> None:
    statsig_updates(project, updates)
    documents = [
        _document("statsig/metric", f"shape {name}", spec) for name, spec in STATSIG_SHAPES.items()
    ]
    project.write("definitions/statsig/shapes.yaml", "---\n".join(documents))
    _converges(project)


def test_every_posthog_metric_type_converges(project: Project) -> None:
    project.app.seed({"posthog": {"projects": {"12345": {"actions": [{"id": 7, "name": "Paid"}]}}}})
    documents = [
        _document("posthog/saved_metric", name, spec) for name, spec in POSTHOG_SHAPES.items()
    ]
    project.write("definitions/posthog/shapes.yaml", "---\n".join(documents))
    _converges(project)
