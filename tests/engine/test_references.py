"""A project copied from a real account runs under --sandbox as it is (docs/sandbox/README.md): the objects its
definitions reference but metricsync does not manage (PostHog actions) exist there, under the
names the definitions give them; the sandbox server alone still checks them, as PostHog does."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from metricsync.apply import Status
from metricsync.cli.main import run
from metricsync.definitions import Definition
from metricsync.platforms.posthog.references import referenced_actions
from tests.engine.conftest import REPO, Project

FUNNEL = """\
kind: posthog/saved_metric
name: Signup funnel
spec:
  query:
    kind: ExperimentMetric
    metric_type: funnel
    series:
      - {kind: EventsNode, event: $pageview}
      - {kind: ActionsNode, id: 77, name: Signed up}
"""


def _query(*nodes: dict[str, object]) -> Definition:
    query = {"kind": "ExperimentMetric", "metric_type": "funnel", "series": list(nodes)}
    return Definition("posthog/saved_metric", "m", {"query": query})


def test_referenced_actions_take_the_first_name_the_definitions_give() -> None:
    definitions = [
        _query({"kind": "ActionsNode", "id": 9}, {"kind": "EventsNode", "event": "x"}),
        _query({"kind": "ActionsNode", "id": 9, "name": "Paid"}, {"kind": "ActionsNode", "id": 3}),
        _query({"kind": "ActionsNode", "id": 9, "name": "Paid later"}),
    ]
    assert referenced_actions(definitions) == {9: "Paid", 3: "Action 3"}


def test_the_sandbox_server_alone_still_checks_action_references(project: Project) -> None:
    project.write("definitions/posthog/funnel.yaml", FUNNEL)
    [outcome] = project.apply().outcomes
    assert outcome.status == Status.FAILED
    assert "Action 77 not found or deleted" in str(outcome.error)


def test_provided_actions_carry_the_definitions_names_and_keep_existing_ones(
    project: Project,
) -> None:
    project.write("definitions/posthog/funnel.yaml", FUNNEL)
    project.provide_references()
    assert [o.status for o in project.apply().outcomes] == [Status.APPLIED]
    assert project.plan().changes == []
    actions = project.app.platforms["posthog"].actions  # type: ignore[attr-defined]
    assert actions.name(12345, 77) == "Signed up"

    project.app.seed(
        {
            "posthog": {
                "projects": {"12345": {"actions": [{"id": 78, "name": "Gone", "deleted": True}]}}
            }
        }
    )
    project.write("definitions/posthog/funnel.yaml", FUNNEL.replace("id: 77", "id: 78"))
    project.provide_references()  # a deleted action stays deleted: it is the account's state
    assert not actions.usable(12345, 78)


def test_a_copy_of_this_repository_runs_under_sandbox_as_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """This repository's definitions and config, real hosts and no credentials, in an empty
    folder: the sandbox flow applies everything, its PostHog action reference included."""
    for variable in ("STATSIG_CONSOLE_API_KEY", "POSTHOG_PERSONAL_API_KEY"):
        monkeypatch.delenv(variable, raising=False)
    shutil.copytree(REPO / "definitions", tmp_path / "definitions")
    shutil.copy(REPO / "metricsync.yaml", tmp_path / "metricsync.yaml")
    assert (
        "kind: ActionsNode" in (tmp_path / "definitions" / "posthog" / "checkout.yaml").read_text()
    )
    monkeypatch.chdir(tmp_path)
    assert run(["validate"]) == 0
    assert run(["plan", "--sandbox", "--detailed-exitcode"]) == 2
    capsys.readouterr()
    assert run(["apply", "--sandbox", "--yes"]) == 0, capsys.readouterr().err
    assert run(["plan", "--sandbox", "--detailed-exitcode"]) == 0
    assert "No changes." in capsys.readouterr().out
