"""Apply checks its own work: a write the platform accepted but did not take is a failure naming
the fields and what to do, never "ok"; what is learnt never turns into a silent loop."""

from __future__ import annotations

import json

import httpx
import pytest
import yaml

from metricsync.apply import Status
from metricsync.definitions import Definition
from metricsync.normalise import desired_document, normalise
from metricsync.platforms.posthog.mapping import NORMALISATION as POSTHOG_NORMALISATION
from metricsync.platforms.posthog.mapping import to_payload as posthog_payload
from metricsync.platforms.statsig.mapping import NORMALISATION as STATSIG_NORMALISATION
from metricsync.platforms.statsig.mapping import to_payload as statsig_payload
from metricsync.platforms.statsig.sandbox.emulator import Statsig
from metricsync.sandbox.transport import SandboxTransport
from tests.engine.conftest import Project
from tests.engine.test_convergence import POSTHOG_SHAPES, STATSIG_SHAPES
from tests.engine.test_scenarios import statsig

OWNER = "managed-by-metricsync"


def _definition(kind: str, spec_text: str) -> Definition:
    return Definition(kind, "Some metric", yaml.safe_load(spec_text))


@pytest.mark.parametrize(
    ("kind", "payload", "normalisation", "shape"),
    [
        *(
            ("statsig/metric", statsig_payload, STATSIG_NORMALISATION, s)
            for s in STATSIG_SHAPES.values()
        ),
        *(
            ("posthog/saved_metric", posthog_payload, POSTHOG_NORMALISATION, s)
            for s in POSTHOG_SHAPES.values()
        ),
    ],
)
def test_every_compared_field_is_in_the_update_that_applies_it(
    kind: str, payload: object, normalisation: object, shape: str
) -> None:
    definition = _definition(kind, shape)
    compared = normalise(definition.spec, normalisation)  # type: ignore[arg-type]
    assert compared == normalise(desired_document(definition.spec, normalisation), normalisation)  # type: ignore[arg-type]
    body = payload(definition, OWNER, update=True)  # type: ignore[operator]
    assert set(compared) - {"type"} <= set(body)


def _ignore_definition_updates(project: Project) -> Statsig:
    sandbox = project.app.platforms["statsig"]
    assert isinstance(sandbox, Statsig)
    sandbox.configure({"update_definition_fields": "ignore"})
    return sandbox


def _edit_events(sandbox: Statsig) -> None:
    metric = sandbox.metrics.find("Revenue total", "sum")
    assert metric is not None
    metric["metricEvents"] = [{"name": "edited_in_console", "type": "value"}]
    sandbox.metrics.put(metric)


def test_an_update_statsig_does_not_take_fails_and_the_next_plan_replaces(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox = _ignore_definition_updates(project)
    statsig(project, "Revenue total")
    assert project.cli("apply", "--yes", capsys=capsys)[0] == 0
    _edit_events(sandbox)
    code, out, _ = project.cli("apply", "--yes", capsys=capsys)
    assert code == 1  # the only change failed
    assert (
        "failed  statsig-test: update statsig/metric 'Revenue total': Statsig accepted the " in out
    )
    assert 'did not take metricEvents[0].name (still "edited_in_console", sent "purchase")' in out
    assert (
        "add `create_only_fields: [metricEvents]` to target statsig-test in metricsync.yaml" in out
    )
    assert "Apply: 0 applied, 1 failed, 0 skipped." in out
    code, out, _ = project.cli("plan", capsys=capsys)
    assert "-/+ statsig/metric 'Revenue total'" in out
    assert "this project does not change metricEvents in place" in out
    assert project.cli("apply", "--yes", capsys=capsys)[0] == 0
    code, out, _ = project.cli("plan", "--detailed-exitcode", capsys=capsys)
    assert (code, out.endswith("No changes.\n")) == (0, True)


def test_without_the_learnt_state_the_same_update_fails_loudly_again(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox = _ignore_definition_updates(project)
    statsig(project, "Revenue total")
    project.apply()
    _edit_events(sandbox)
    assert project.cli("apply", "--yes", capsys=capsys)[0] == 1
    (project.root / ".metricsync" / "state.json").unlink()  # a fresh CI checkout
    code, out, _ = project.cli("apply", "--yes", capsys=capsys)
    assert code == 1
    assert "did not take metricEvents" in out


def test_the_configured_create_only_fields_plan_a_replace_from_the_start(project: Project) -> None:
    sandbox = _ignore_definition_updates(project)
    statsig(project, "Revenue total")
    project.apply()
    _edit_events(sandbox)
    config = project.root / "metricsync.yaml"
    text = config.read_text().replace(
        "    definitions: [definitions/statsig]\n",
        "    definitions: [definitions/statsig]\n    create_only_fields: [metricEvents]\n",
    )
    config.write_text(text)
    assert [c.action.value for c in project.plan().changes] == ["replace"]
    assert [o.status for o in project.apply().outcomes] == [Status.APPLIED]
    assert project.plan().changes == []


class DropsDescription(httpx.BaseTransport):
    """A server that answers an update 200 but keeps the description it had."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.startswith("/console/v1/metrics/"):
            body = json.loads(request.content)
            body.pop("description", None)
            headers = {k: v for k, v in request.headers.items() if k != "content-length"}
            request = httpx.Request(request.method, request.url, headers=headers, json=body)
        return self.inner.handle_request(request)


def test_a_field_the_platform_drops_fails_the_change_naming_it(project: Project) -> None:
    statsig(project, "Revenue total")
    project.apply()
    statsig(project, "Revenue total", description="Net")
    project.transport = lambda _target: DropsDescription(SandboxTransport(project.app))  # type: ignore[method-assign]
    report = project.apply()
    [outcome] = report.outcomes
    assert outcome.status == Status.FAILED
    assert outcome.error == (
        'the platform accepted the update but did not take description (still "Revenue", sent '
        '"Net"); the API key may lack the permission for these fields, or the platform manages '
        "them: fix the key, or list them in lifecycle.ignore_changes to stop comparing them"
    )
    assert report.exit_code == 1


class AnswersWithoutData(httpx.BaseTransport):
    """A server whose write answers carry only the message, not the metric."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.method == "POST" and request.url.path.startswith("/console/v1/metrics"):
            response.read()
            message = {"message": response.json()["message"]}
            return httpx.Response(response.status_code, json=message)
        return response


def test_a_write_answered_without_the_metric_is_checked_against_a_read(project: Project) -> None:
    statsig(project, "Revenue total")
    project.transport = lambda _target: AnswersWithoutData(SandboxTransport(project.app))  # type: ignore[method-assign]
    assert [o.status for o in project.apply().outcomes] == [Status.APPLIED]
    statsig(project, "Revenue total", description="Net")
    assert [o.status for o in project.apply().outcomes] == [Status.APPLIED]
    assert project.sent("GET", "/console/v1/metrics/Revenue%20total%3A%3Asum") == 2
    assert project.plan().changes == []


def test_a_create_shows_and_sends_the_definitions_own_fields_before_the_defaults(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    statsig(project, "Revenue total")
    code, out, _ = project.cli("plan", capsys=capsys)
    assert code == 0
    lines = out.split("+ statsig/metric 'Revenue total'\n", 1)[1].splitlines()
    assert [line.split(":")[0].strip() for line in lines[:8]] == [
        "type", "description", "unitTypes", "metricEvents",
        "directionality", "isPermanent", "isReadOnly", "isVerified",
    ]  # fmt: skip
    spec = {"type": "sum", "description": "Revenue", "unitTypes": ["userID"]}
    body = statsig_payload(Definition("statsig/metric", "Revenue total", spec), OWNER)
    assert list(body)[:4] == ["type", "description", "unitTypes", "directionality"]
