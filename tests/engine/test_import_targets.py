"""`import` with no --target (docs/commands/import.md): every synced target, reported per target, and a definitions
folder that several targets share written once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from metricsync.cli.main import run
from metricsync.sandbox.app import SandboxApp
from metricsync.sandbox.server import SandboxServer
from tests.engine.conftest import POSTHOG_KEY, STATSIG_KEY

SUM = {"type": "sum", "unitTypes": ["userID"], "metricEvents": [{"name": "buy", "type": "value"}]}
MEAN = {
    "kind": "ExperimentMetric",
    "metric_type": "mean",
    "source": {"kind": "EventsNode", "event": "purchase", "math": "sum", "math_property": "amount"},
}


def _statsig(*names: str) -> dict[str, object]:
    return {"statsig": {"metrics": [{"name": n, **SUM} for n in names]}}


def _posthog(project: str, *names: str) -> dict[str, object]:
    metrics = [{"name": n, "description": f"{n}.", "query": MEAN} for n in names]
    return {"posthog": {"projects": {project: {"saved_metrics": metrics}}}}


def _config(statsig_a: str, statsig_b: str, posthog: str, posthog_folder_b: str) -> str:
    """Two Statsig projects (two sandboxes: one Console API key is one project) with their own
    folders, and two PostHog projects of one sandbox."""
    return f"""\
version: 1
targets:
  statsig-a:
    provider: statsig
    base_url: {statsig_a}
    api_key: env:TEST_STATSIG_KEY
    definitions: [definitions/statsig-a]
  statsig-b:
    provider: statsig
    base_url: {statsig_b}
    api_key: env:TEST_STATSIG_KEY
    definitions: [definitions/statsig-b]
  posthog-staging:
    provider: posthog
    host: {posthog}
    project_id: "1"
    api_key: env:TEST_POSTHOG_KEY
    definitions: [definitions/posthog]
  posthog-prod:
    provider: posthog
    host: {posthog}
    project_id: "2"
    api_key: env:TEST_POSTHOG_KEY
    definitions: [{posthog_folder_b}]
"""


@pytest.fixture
def apps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[SandboxApp, ...]]:
    monkeypatch.setenv("TEST_STATSIG_KEY", STATSIG_KEY)
    monkeypatch.setenv("TEST_POSTHOG_KEY", POSTHOG_KEY)
    monkeypatch.chdir(tmp_path)
    for folder in ("statsig-a", "statsig-b", "posthog"):
        (tmp_path / "definitions" / folder).mkdir(parents=True)
    first, second = SandboxApp(), SandboxApp()
    with SandboxServer(first) as one, SandboxServer(second) as two:
        (tmp_path / "metricsync.yaml").write_text(
            _config(one.url, two.url, one.url, "definitions/posthog")
        )
        yield first, second


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _files(folder: str) -> list[str]:
    return sorted(p.name for p in Path(folder).glob("*.yaml"))


def test_import_without_target_imports_every_target_and_a_shared_folder_once(
    apps: tuple[SandboxApp, SandboxApp], capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = apps
    first.seed(_statsig("Revenue", "Only in A"))
    second.seed(_statsig("Revenue", "Only in B"))
    first.seed(_posthog("1", "Checkout value", "Basket value"))
    first.seed(_posthog("2", "Checkout value", "Basket value"))  # production mirrors staging

    code, out, err = _cli(capsys, "import")
    assert code == 0, err
    assert _files("definitions/statsig-a") == ["only_in_a.yaml", "revenue.yaml"]
    assert _files("definitions/statsig-b") == ["only_in_b.yaml", "revenue.yaml"]
    assert _files("definitions/posthog") == ["basket_value.yaml", "checkout_value.yaml"]
    headers = [line for line in out.splitlines() if line.startswith("Imported from ")]
    assert headers == [
        "Imported from statsig-a (statsig) into definitions/statsig-a: 2 written, 0 skipped.",
        "Imported from statsig-b (statsig) into definitions/statsig-b: 2 written, 0 skipped.",
        "Imported from posthog-staging (posthog) into definitions/posthog: 2 written, 0 skipped.",
        "Imported from posthog-prod (posthog) into definitions/posthog: 0 written, 2 skipped.",
    ]
    assert "  skipped 2: already defined" in out

    code, out, err = _cli(capsys, "plan", "--format", "json", "--detailed-exitcode")
    assert code == 2, err
    planned = {
        t["target"]: sorted((c["action"], c["name"]) for c in t["changes"])
        for t in json.loads(out)["targets"]
    }
    assert planned == {
        "statsig-a": [("adopt", "Only in A"), ("adopt", "Revenue")],
        "statsig-b": [("adopt", "Only in B"), ("adopt", "Revenue")],
        "posthog-staging": [("adopt", "Basket value"), ("adopt", "Checkout value")],
        "posthog-prod": [("adopt", "Basket value"), ("adopt", "Checkout value")],
    }
    assert _cli(capsys, "apply", "--yes")[0] == 0
    assert _cli(capsys, "plan", "--detailed-exitcode")[0] == 0


def test_import_json_reports_each_target(
    apps: tuple[SandboxApp, SandboxApp], capsys: pytest.CaptureFixture[str]
) -> None:
    first, _ = apps
    first.seed(_statsig("Revenue"))
    code, out, err = _cli(capsys, "import", "--format", "json", "--kind", "statsig/metric")
    assert code == 0, err
    document = json.loads(out)
    assert document["format_version"] == 2
    assert [(t["target"], [w["name"] for w in t["written"]]) for t in document["targets"]] == [
        ("statsig-a", ["Revenue"]),
        ("statsig-b", []),
    ]


def test_a_shared_folder_takes_the_first_targets_version_and_says_what_the_next_plan_does(
    tmp_path: Path, apps: tuple[SandboxApp, SandboxApp], capsys: pytest.CaptureFixture[str]
) -> None:
    first, _ = apps
    first.seed(_posthog("1", "Checkout value"))
    first.seed(_posthog("2", "Checkout value", "Only in prod"))
    code, out, err = _cli(
        capsys, "import", "--target", "posthog-staging", "--target", "posthog-prod"
    )
    assert code == 0, err
    assert _files("definitions/posthog") == ["checkout_value.yaml", "only_in_prod.yaml"]
    assert (
        "  note: definitions/posthog is also read by posthog-staging: the next plan there "
        "creates the imported objects that do not exist there"
    ) in out


def test_a_target_that_fails_leaves_the_earlier_ones_reported(
    apps: tuple[SandboxApp, SandboxApp], capsys: pytest.CaptureFixture[str]
) -> None:
    """The files of the targets imported before a failure stay, and so does their report: a
    user must see what was written before the error."""
    first, second = apps
    first.seed(_statsig("Revenue"))
    second.seed(_statsig("Only in B"))
    second.faults.load(["GET /console/v1/metrics*=403"])

    code, out, err = _cli(capsys, "import")
    assert code == 1
    assert _files("definitions/statsig-a") == ["revenue.yaml"]
    assert out.startswith(
        "Imported from statsig-a (statsig) into definitions/statsig-a: 1 written, 0 skipped.\n"
    )
    assert "statsig-b" not in out
    assert err.startswith("Error: statsig-b: GET ")
