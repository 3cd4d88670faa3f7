"""References at plan time (docs/commands/plan.md): a composite's components resolve to a definition of the
same target or a live object, or the plan is invalid (exit 3) at the component's line; and
prune never deletes an object that something staying refers to (exit 5, naming both)."""

from __future__ import annotations

import pytest

from tests.engine.conftest import Project, config_text
from tests.engine.test_scenarios import live_metric, seed_statsig, statsig, statsig_live

COMPOSITE = """\
kind: statsig/metric
name: Total value
spec:
  type: composite_sum
  unitTypes: [userID]
  metricComponentMetrics:
    - {name: Part one, type: sum}
    - {name: Part two, type: sum}
"""


def test_a_component_that_is_neither_defined_nor_live_is_invalid_at_its_line(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    path = project.write("definitions/statsig/total.yaml", COMPOSITE)
    statsig(project, "Part one")
    code, out, err = project.cli("plan", capsys=capsys)
    assert (code, out) == (3, "")
    where = f"{path.relative_to(project.root)}:8:7"
    assert err.splitlines() == [
        f"{where}: warning: component 'Part two' (sum) is not among this target's definitions; "
        "it is checked against the live project at plan time [/spec/metricComponentMetrics/1]",
        f"{where}: 'Part two' is neither defined for target statsig-test nor live there: "
        "nothing it names exists (define it, or fix the name) [/spec/metricComponentMetrics/1]",
        "Error: 1 problem found; nothing was sent",
    ]
    assert project.sent("POST", "/console/v1/metrics") == 0
    code, _, _ = project.cli("apply", "--yes", capsys=capsys)
    assert code == 3
    assert statsig_live(project) == []


def test_a_component_that_lives_on_the_platform_resolves(project: Project) -> None:
    project.write("definitions/statsig/total.yaml", COMPOSITE)
    statsig(project, "Part one")
    seed_statsig(project, live_metric("Part two", owned=False))  # made in the console
    assert [(c.action.value, c.name) for c in project.plan().changes] == [
        ("create", "Part one"),
        ("create", "Total value"),
    ]


def test_prune_refuses_to_delete_a_component_a_kept_definition_uses(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    project.write("definitions/statsig/total.yaml", COMPOSITE)
    statsig(project, "Part one")
    statsig(project, "Part two")
    project.apply()
    project.write("metricsync.yaml", config_text(project.url, prune=True))
    project.remove("definitions/statsig/Part_two.yaml")  # its live object would be pruned
    code, out, _ = project.cli("plan", capsys=capsys)
    assert code == 5
    assert (
        "deleting 'Part two' is refused: 'Total value' (definitions/statsig/total.yaml:1), "
        "which stays, refers to it; remove that reference first, or keep the definition"
    ) in out
    code, _, _ = project.cli("apply", "--yes", capsys=capsys)
    assert code == 5
    names = sorted(str(m["name"]) for m in statsig_live(project))
    assert names == ["Part one", "Part two", "Total value"]


def test_prune_refuses_to_delete_a_component_a_live_object_left_alone_uses(
    project: Project,
) -> None:
    project.write("metricsync.yaml", config_text(project.url, prune=True))
    composite = live_metric(
        "Console total",
        "composite_sum",
        owned=False,  # not ours: it stays, whatever prune does
        metricComponentMetrics=[{"name": "Part one", "type": "sum"}],
    )
    seed_statsig(project, live_metric("Part one"), composite)
    target = project.plan().targets[0]
    live_id = next(str(m["id"]) for m in statsig_live(project) if m["name"] == "Console total")
    assert [(c.action.value, c.name) for c in target.changes] == [("delete", "Part one")]
    assert target.refusals == (
        f"deleting 'Part one' is refused: 'Console total' (live object {live_id}), which stays, "
        "refers to it; remove that reference first, or keep the definition",
    )


def test_prune_deletes_a_component_together_with_the_composite_using_it(
    project: Project,
) -> None:
    project.write("definitions/statsig/total.yaml", COMPOSITE)
    statsig(project, "Part one")
    statsig(project, "Part two")
    project.apply()
    project.write("metricsync.yaml", config_text(project.url, prune=True))
    project.remove("definitions/statsig/total.yaml")
    project.remove("definitions/statsig/Part_two.yaml")
    target = project.plan().targets[0]
    assert [(c.action.value, c.name) for c in target.changes] == [
        ("delete", "Total value"),
        ("delete", "Part two"),
    ]
    assert target.refusals == ()
