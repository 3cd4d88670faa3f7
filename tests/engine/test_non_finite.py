"""NaN and infinity never reach an output: a definition holding one does not validate, and a
plan or import holding one read from a platform fails clearly instead of writing bad JSON."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from metricsync.cli.main import run
from metricsync.client import ApiClient
from metricsync.errors import MetricsyncError
from metricsync.importer import Entry, Skip, check
from metricsync.live import LiveObject
from metricsync.pacing import Limits
from metricsync.plan import Action, Change, FieldChange, Plan, TargetPlan
from metricsync.plan_file import save
from metricsync.sandbox.app import SandboxApp
from metricsync.sandbox.transport import SandboxTransport

LIVE = {"name": "Checkout revenue", "type": "sum", "unitTypes": ["userID"],
        "metricEvents": [{"name": "buy", "type": "value"}], "warehouseNative": {"cap": math.nan}}  # fmt: skip


def test_a_plan_holding_nan_is_refused_not_written(tmp_path: Path) -> None:
    """The last guard: a value read from a platform never becomes JSON that no reader accepts."""
    change = Change(Action.UPDATE, "statsig/metric", "Checkout revenue", "m1",
                    fields=(FieldChange("warehouseNative.cap", math.nan, 10),))  # fmt: skip
    plan = Plan((TargetPlan("statsig-test", "statsig", (change,)),), "digest", "2026-01-01")
    with pytest.raises(MetricsyncError) as raised:
        save(plan, tmp_path / "plan.json")
    assert str(raised.value) == (
        "the plan holds NaN or infinity, which JSON cannot hold (statsig-test: statsig/metric "
        "'Checkout revenue': fields/0/before); nothing was written"
    )
    assert list(tmp_path.iterdir()) == []


def test_import_skips_an_object_holding_nan() -> None:
    live = LiveObject("statsig/metric", "m1", "Checkout revenue", LIVE, owned=False)
    spec = {k: v for k, v in LIVE.items() if k != "name"}
    document = {"kind": "statsig/metric", "name": "Checkout revenue", "spec": spec}
    [entry] = check([Entry(live, document=document)])
    assert (entry.skip, entry.detail) == (
        Skip.INVALID,
        ".nan is not a number JSON can hold (no NaN or infinity); quote it for text "
        "[/spec/warehouseNative/cap]",
    )


def test_the_config_is_checked_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "definitions").mkdir()
    (tmp_path / "metricsync.yaml").write_text(
        "version: 1\ntargets:\n  statsig-prod:\n    provider: statsig\n"
        "    api_key: env:STATSIG_CONSOLE_API_KEY\n    definitions: [definitions]\n"
        "policy: {max_changes_percent: .inf}\n"
    )
    assert run(["validate"]) == 3
    assert capsys.readouterr().out.startswith(
        "metricsync.yaml:7:31: .inf is not a number JSON can hold (no NaN or infinity); quote it "
        "for text [/policy/max_changes_percent]\n"
    )


def test_a_request_body_holding_nan_is_never_sent() -> None:
    app = SandboxApp()
    client = ApiClient("statsig-test", "http://sandbox.test", {}, Limits(), SandboxTransport(app))
    with pytest.raises(MetricsyncError) as raised:
        client.send("POST", "/console/v1/metrics", body={"name": "x", "cap": math.inf})
    assert str(raised.value) == (
        "statsig-test: POST /console/v1/metrics not sent: its body holds NaN or infinity, which "
        "JSON cannot carry"
    )
    assert list(app.requests) == []
