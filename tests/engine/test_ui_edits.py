"""After an apply, a field edited in a platform's UI is restored by the next apply, for every kind
and every field the plan compares (documented defaults included): the next plan is empty."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
import yaml

from metricsync.apply import Status
from metricsync.normalise import Normalisation, desired_document, normalise
from metricsync.platforms.posthog.mapping import NORMALISATION as POSTHOG_NORMALISATION
from metricsync.platforms.posthog.sandbox.emulator import PostHog
from metricsync.platforms.statsig.mapping import NORMALISATION as STATSIG_NORMALISATION
from metricsync.platforms.statsig.sandbox.emulator import Statsig
from tests.engine.conftest import STATSIG_UPDATES, Project, statsig_updates
from tests.engine.test_convergence import POSTHOG_SHAPES, STATSIG_SHAPES, _document

OWNER = "managed-by-metricsync"
STATSIG_TYPES = {f"shape {shape}": shape for shape in STATSIG_SHAPES}
PROJECT_ID = 12345

# What a person could set in each UI: a value different from any the shapes define.
STATSIG_EDITS: dict[str, Callable[[Any], Any]] = {
    "description": lambda v: "edited in the console",
    "directionality": lambda v: "decrease" if v == "increase" else "increase",
    "isVerified": lambda v: not v,
    "isReadOnly": lambda v: not v,
    "isPermanent": lambda v: not v,
    "tags": lambda v: ["console-tag", OWNER],
    "unitTypes": lambda v: ["stableID"] if v != ["stableID"] else ["userID"],
    "metricEvents": lambda v: [{"name": "console_event", "type": "count", "criteria": []}],
    "metricComponentMetrics": lambda v: [{"name": "shape ratio", "type": "ratio"}] * 2,
    "rollupTimeWindow": lambda v: "daily",
    "customRollUpStart": lambda v: v + 1,
    "customRollUpEnd": lambda v: v + 1,
    "funnelEventList": lambda v: [*v, {"name": "console_step", "type": "event_user"}],
    "funnelCountDistinct": lambda v: "events" if v == "users" else "users",
}
POSTHOG_EDITS: dict[str, Callable[[Any], Any]] = {
    "description": lambda v: "edited in PostHog",
    "tags": lambda v: ["posthog-tag", OWNER],
    "query": lambda v: {
        "kind": "ExperimentMetric",
        "metric_type": "mean",
        "source": {"kind": "EventsNode", "event": "edited_in_posthog"},
    },
}


def _compared_fields(spec_text: str, normalisation: Normalisation) -> list[str]:
    """The top-level fields the plan compares for a shape: its desired document's."""
    spec = yaml.safe_load(spec_text)
    return sorted(normalise(desired_document(spec, normalisation), normalisation))


def _statsig_edit(project: Project, name: str, field: str) -> None:
    sandbox = project.app.platforms["statsig"]
    assert isinstance(sandbox, Statsig)
    metric = sandbox.metrics.find(name, STATSIG_TYPES[name])
    assert metric is not None
    metric[field] = STATSIG_EDITS[field](metric.get(field))
    sandbox.metrics.put(metric)


def _posthog_edit(project: Project, name: str, field: str) -> None:
    sandbox = project.app.platforms["posthog"]
    assert isinstance(sandbox, PostHog)
    holder = sandbox.metrics.name_holder(PROJECT_ID, name)
    assert holder is not None
    doc = sandbox.metrics.get(PROJECT_ID, holder)
    assert doc is not None
    doc[field] = POSTHOG_EDITS[field](doc.get(field))
    sandbox.metrics.put(doc)


def _restores(project: Project, edit: Callable[[], None], what: str) -> None:
    edit()
    assert project.plan().changes, f"{what}: the edit must show in the plan"
    report = project.apply()
    failures = [(o.change.name, o.error) for o in report.outcomes if o.status != Status.APPLIED]
    assert failures == [], what
    again = [(c.action.value, c.name, c.fields) for c in project.plan().changes]
    assert again == [], what


@pytest.mark.parametrize("updates", STATSIG_UPDATES)
def test_a_statsig_field_edited_in_the_console_is_restored_by_one_apply(
    project: Project, updates: str
) -> None:
    statsig_updates(project, updates)
    documents = [_document("statsig/metric", f"shape {n}", s) for n, s in STATSIG_SHAPES.items()]
    project.write("definitions/statsig/shapes.yaml", "---\n".join(documents))
    assert all(o.status == Status.APPLIED for o in project.apply().outcomes)
    for shape, spec in STATSIG_SHAPES.items():
        for field in _compared_fields(spec, STATSIG_NORMALISATION):
            if field == "type":  # part of the id: no console edits it
                continue
            name = f"shape {shape}"
            _restores(project, partial(_statsig_edit, project, name, field), f"{name}.{field}")


def test_a_posthog_field_edited_in_the_ui_is_restored_by_one_apply(project: Project) -> None:
    project.app.seed({"posthog": {"projects": {"12345": {"actions": [{"id": 7, "name": "Paid"}]}}}})
    documents = [_document("posthog/saved_metric", n, s) for n, s in POSTHOG_SHAPES.items()]
    project.write("definitions/posthog/shapes.yaml", "---\n".join(documents))
    assert all(o.status == Status.APPLIED for o in project.apply().outcomes)
    for name, spec in POSTHOG_SHAPES.items():
        for field in _compared_fields(spec, POSTHOG_NORMALISATION):
            _restores(project, partial(_posthog_edit, project, name, field), f"{name}.{field}")


def _leaves(value: Any, path: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """Every scalar inside a normalised query, by path; node and metric kinds are left out (a
    UI changes those only with the keys that go with them: the whole-query edit above)."""
    if isinstance(value, dict):
        return [
            leaf
            for key, item in value.items()
            if key not in ("kind", "metric_type")
            for leaf in _leaves(item, (*path, key))
        ]
    if isinstance(value, list):
        return [leaf for i, item in enumerate(value) for leaf in _leaves(item, (*path, i))]
    return [path]


def _edited(value: Any) -> Any:
    """Another value of the same type, as a person could set in PostHog's editor."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value / 2 if isinstance(value, float) else value + 1
    return f"{value} edited"


def _posthog_query_edit(project: Project, name: str, path: tuple[str | int, ...], how: str) -> None:
    sandbox = project.app.platforms["posthog"]
    assert isinstance(sandbox, PostHog)
    holder = sandbox.metrics.name_holder(PROJECT_ID, name)
    assert holder is not None
    doc = sandbox.metrics.get(PROJECT_ID, holder)
    assert doc is not None
    parent: Any = doc["query"]
    for step in path[:-1]:
        parent = parent[step]
    if how == "removed" and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = _edited(parent[path[-1]])
    sandbox.metrics.put(doc)


@pytest.mark.parametrize("how", ["changed", "removed"])
def test_every_posthog_query_field_edited_in_the_ui_is_restored_by_one_apply(
    project: Project, how: str
) -> None:
    """Not just the query as a whole: each value inside it, changed or removed in the UI."""
    project.app.seed({"posthog": {"projects": {"12345": {"actions": [{"id": 7, "name": "Paid"}]}}}})
    documents = [_document("posthog/saved_metric", n, s) for n, s in POSTHOG_SHAPES.items()]
    project.write("definitions/posthog/shapes.yaml", "---\n".join(documents))
    assert all(o.status == Status.APPLIED for o in project.apply().outcomes)
    for name, spec in POSTHOG_SHAPES.items():
        query = normalise(
            desired_document(yaml.safe_load(spec), POSTHOG_NORMALISATION), POSTHOG_NORMALISATION
        )
        for path in _leaves(query["query"]):
            edit = partial(_posthog_query_edit, project, name, path, how)
            _restores(project, edit, f"{name}.query.{'.'.join(map(str, path))} {how}")
