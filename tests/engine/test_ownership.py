"""Objects another repository owns (docs/config.md#policy): refused, taken over only with --adopt-from,
never pruned, never imported; on Statsig and PostHog, and posthog-definitions' own marker."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from metricsync.plan import Action
from metricsync.sandbox.transport import SandboxTransport
from tests.engine.conftest import POSTHOG_KEY, Project, config_text
from tests.engine.test_scenarios import OWNER, live_metric, seed_statsig, statsig, statsig_live

THEIRS = "managed-by-team-a"
QUERY = {
    "kind": "ExperimentMetric",
    "metric_type": "funnel",
    "series": [{"kind": "EventsNode", "event": "checkout"}],
}
POSTHOG_DEFINITION = """\
kind: posthog/saved_metric
name: Checkout conversion
spec:
  description: Share of sessions that check out
  query:
    kind: ExperimentMetric
    metric_type: funnel
    series: [{kind: EventsNode, event: checkout}]
"""
MARKER = "<!-- iac:experiment-saved-metrics:checkout_conversion iac:hash:0123456789abcdef -->"


def seed_posthog(project: Project, *metrics: dict[str, Any]) -> None:
    project.app.seed({"posthog": {"projects": {"12345": {"saved_metrics": list(metrics)}}}})


def saved_metric(tags: list[str], description: str = "Share of sessions that check out") -> Any:
    return {"name": "Checkout conversion", "description": description, "query": QUERY, "tags": tags}


def posthog_live(project: Project) -> list[dict[str, Any]]:
    client = httpx.Client(
        transport=SandboxTransport(project.app),
        base_url="http://posthog.sandbox",
        headers={"Authorization": f"Bearer {POSTHOG_KEY}"},
    )
    results: list[dict[str, Any]] = client.get(
        "/api/projects/12345/experiment_saved_metrics/"
    ).json()["results"]
    return results


def test_a_statsig_twin_of_another_repository_is_refused_naming_its_owner(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_statsig(project, live_metric("Checkout revenue", owned=False, tags=[THEIRS]))
    statsig(project, "Checkout revenue")
    plan = project.plan()
    assert plan.changes == []
    [refusal] = plan.refusals
    assert refusal == (
        "statsig-test: 'Checkout revenue' (definitions/statsig/Checkout_revenue.yaml:1) matches "
        "live object Checkout revenue::sum, which another repository owns (marker "
        "managed-by-team-a); take it over with --adopt-from managed-by-team-a"
    )
    code, out, _ = project.cli("plan", capsys=capsys)
    assert code == 5 and "--adopt-from managed-by-team-a" in out
    code, _, err = project.cli("apply", "--yes", capsys=capsys)
    assert code == 5 and "--adopt-from managed-by-team-a" in err
    assert statsig_live(project)[0]["tags"] == [THEIRS]


def test_adopt_from_takes_a_statsig_object_over_and_the_next_plan_is_empty(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_statsig(project, live_metric("Checkout revenue", owned=False, tags=["core", THEIRS]))
    statsig(project, "Checkout revenue")
    [change] = project.plan(adopt_from=(THEIRS,)).changes
    assert (change.action, change.adopt, change.adopt_from) == (Action.ADOPT, True, THEIRS)
    code, out, err = project.cli("plan", "--adopt-from", THEIRS, capsys=capsys)
    assert code == 0 and "(adopt from managed-by-team-a)" in out and err == ""
    assert "Plan: 0 to create, 0 to update, 0 to replace, 0 to delete, 1 to adopt." in out
    code, _, _ = project.cli("apply", "--yes", "--adopt-from", THEIRS, capsys=capsys)
    assert code == 0
    assert statsig_live(project)[0]["tags"] == [OWNER]
    assert project.plan().changes == [] and project.plan().refusals == []


def test_an_update_that_adopts_from_another_owner_counts_as_an_adopt(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_statsig(project, live_metric("Checkout revenue", owned=False, tags=[THEIRS]))
    statsig(project, "Checkout revenue", description="Gross revenue")
    [change] = project.plan(adopt_from=(THEIRS,)).changes
    assert (change.action, change.adopt_from) == (Action.UPDATE, THEIRS)
    _, out, _ = project.cli("plan", "--adopt-from", THEIRS, "--format", "markdown", capsys=capsys)
    assert (
        "**0 to create, 1 to update, 0 to replace, 0 to delete, 1 to adopt (1 with an update)**"
        in (out)
    )
    assert "| statsig-test | 0 | 1 | 0 | 0 | 1 |" in out
    assert "adopt from managed-by-team-a on `statsig-test`: Checkout revenue" in out
    _, out, _ = project.cli("plan", "--adopt-from", THEIRS, "--format", "json", capsys=capsys)
    assert '"adopt_from": "managed-by-team-a"' in out


def test_prune_never_deletes_an_object_another_repository_also_marks(project: Project) -> None:
    project.write("metricsync.yaml", config_text(project.url, prune=True))
    seed_statsig(
        project,
        live_metric("Shared", tags=[OWNER, THEIRS]),
        live_metric("Ours", tags=[OWNER]),
    )
    assert [(c.action, c.name) for c in project.plan().changes] == [(Action.DELETE, "Ours")]
    project.apply()
    assert [m["name"] for m in statsig_live(project)] == ["Shared"]


def test_an_adopt_from_that_matches_nothing_warns(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    statsig(project, "Checkout revenue")
    code, _, err = project.cli("plan", "--adopt-from", "managed-by-nobody", capsys=capsys)
    assert code == 0
    assert err == (
        "Warning: --adopt-from managed-by-nobody matched no object: nothing is taken over from "
        "it; remove the flag so that it cannot take over a later collision unreviewed\n"
    )


def test_import_skips_objects_of_another_repository_and_says_so(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_statsig(
        project,
        live_metric("Theirs", owned=False, tags=[THEIRS]),
        live_metric("Hand made", owned=False),
    )
    code, out, _ = project.cli("import", "--target", "statsig-test", capsys=capsys)
    assert code == 0
    assert "1 written, 1 skipped." in out
    assert (
        "  skipped 1: owned by another repository (its marker named); never imported\n"
        "    'Theirs': managed-by-team-a\n"
    ) in out
    assert not (project.root / "definitions/statsig/theirs.yaml").exists()


def test_a_posthog_twin_of_another_repository_is_refused_then_adopted(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_posthog(project, saved_metric(["Managed-By-Team-A"]))
    project.write("definitions/posthog/checkout.yaml", POSTHOG_DEFINITION)
    code, out, _ = project.cli("plan", "--target", "posthog-test", capsys=capsys)
    assert code == 5 and "--adopt-from managed-by-team-a" in out
    plan = project.plan(adopt_from=(THEIRS,))
    [change] = plan.changes
    assert (change.action, change.adopt_from) == (Action.ADOPT, THEIRS)
    project.apply(adopt_from=(THEIRS,))
    assert posthog_live(project)[0]["tags"] == [OWNER]
    assert project.plan().changes == [] and project.plan().refusals == []


def test_posthog_prune_and_import_leave_another_repositorys_metric_alone(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    project.write("metricsync.yaml", config_text(project.url, prune=True))
    seed_posthog(project, saved_metric([OWNER, THEIRS]))
    assert project.plan().changes == []
    code, out, _ = project.cli("import", "--target", "posthog-test", capsys=capsys)
    assert code == 0 and "'Checkout conversion': managed-by-team-a" in out


def test_posthog_definitions_marker_is_another_owner(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    """PostHog's own IaC tool marks its saved metrics with a trailing HTML comment."""
    seed_posthog(project, saved_metric([], f"Share of sessions that check out\n\n{MARKER}"))
    project.write("definitions/posthog/checkout.yaml", POSTHOG_DEFINITION)
    [refusal] = project.plan().refusals
    assert "(marker posthog-definitions); take it over with --adopt-from posthog-definitions" in (
        refusal
    )
    code, out, _ = project.cli("import", "--target", "posthog-test", capsys=capsys)
    assert code == 0 and "'Checkout conversion': posthog-definitions" in out
    [change] = project.plan(adopt_from=("posthog-definitions",)).changes
    assert (change.action, change.fields) == (Action.ADOPT, ())
    project.apply(adopt_from=("posthog-definitions",))
    [live] = posthog_live(project)
    assert (live["description"], live["tags"]) == ("Share of sessions that check out", [OWNER])
    assert project.plan().changes == [] and project.plan().refusals == []


def test_a_saved_plan_keeps_the_takeovers_it_was_reviewed_with(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_statsig(project, live_metric("Checkout revenue", owned=False, tags=[THEIRS]))
    statsig(project, "Checkout revenue")
    out_file = str(project.root / "plan.json")
    code, _, _ = project.cli("plan", "--adopt-from", THEIRS, "--out", out_file, capsys=capsys)
    assert code == 0
    code, _, _ = project.cli("apply", out_file, capsys=capsys)
    assert code == 0
    assert statsig_live(project)[0]["tags"] == [OWNER]


def test_an_update_that_adds_our_marker_counts_as_an_adopt_in_every_summary(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 16 item 6: `(and adopt)` was counted as 0 adopts."""
    seed_statsig(project, live_metric("Checkout revenue", owned=False))
    statsig(project, "Checkout revenue", description="Gross revenue")
    _, out, _ = project.cli("plan", capsys=capsys)
    assert "(and adopt)" in out
    assert (
        "Plan: 0 to create, 1 to update, 0 to replace, 0 to delete, 1 to adopt (1 with an update)."
        in out
    )
    _, out, _ = project.cli("plan", "--format", "markdown", capsys=capsys)
    assert "| statsig-test | 0 | 1 | 0 | 0 | 1 |" in out


def test_a_tag_with_the_prefix_that_the_definition_writes_itself_is_no_owner(
    project: Project,
) -> None:
    project.write(
        "definitions/posthog/checkout.yaml",
        POSTHOG_DEFINITION.replace("spec:\n", "spec:\n  tags: [managed-by-team-a]\n"),
    )
    project.apply()
    plan = project.plan()
    assert (plan.changes, plan.refusals) == ([], [])
    project.write(
        "definitions/posthog/checkout.yaml",
        POSTHOG_DEFINITION.replace("spec:\n", "spec:\n  tags: [managed-by-team-a]\n").replace(
            "check out", "check out and pay"
        ),
    )
    plan = project.plan()
    assert ([c.action for c in plan.changes], plan.refusals) == ([Action.UPDATE], [])


def test_a_foreign_owner_tag_cannot_forge_a_line_of_the_refusal_on_stderr(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_statsig(project, live_metric("Checkout revenue", owned=False, tags=[THEIRS + "\n::x"]))
    statsig(project, "Checkout revenue")
    code, _, err = project.cli("apply", "--yes", capsys=capsys)
    assert code == 5
    assert "\n::x" not in err and "(marker managed-by-team-a\\n::x)" in err


def test_an_object_in_sync_that_another_repository_also_marks_is_refused_until_taken_over(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    """Our marker beside theirs makes it no less theirs: in sync or not, the definition is
    refused, and --adopt-from takes it over (their marker goes) rather than warning that it
    matched nothing."""
    seed_statsig(project, live_metric("Checkout revenue", tags=[OWNER, THEIRS]))
    statsig(project, "Checkout revenue")
    [refusal] = project.plan().refusals
    assert "another repository owns (marker managed-by-team-a)" in refusal
    code, out, err = project.cli("apply", "--yes", "--adopt-from", THEIRS, capsys=capsys)
    assert code == 0 and "matched no object" not in err
    assert "(adopt from managed-by-team-a)" in out
    assert statsig_live(project)[0]["tags"] == [OWNER]
    assert project.plan().changes == [] and project.plan().refusals == []


def test_an_adopt_from_that_matches_nothing_is_a_risk_in_the_pull_request_comment(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    """The warning exists for a flag left in CI, whose stderr nobody reads: the comment shows it."""
    statsig(project, "Checkout revenue")
    args = ("plan", "--adopt-from", "managed-by-nobody", "--format", "markdown")
    code, out, _ = project.cli(*args, capsys=capsys)
    assert code == 0
    assert (
        "> - **warning**: --adopt-from managed-by-nobody matched no object: nothing is taken "
        "over from it; remove the flag"
    ) in out
    assert out.index("matched no object") < out.index("| target |")
