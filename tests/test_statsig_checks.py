"""Statsig checks `validate` applies beyond the schema, as the vendor's own source has them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_validate import project, validate

WAREHOUSE = """\
kind: statsig/metric
name: Orders per user
spec:
  type: user_warehouse
  description: From the orders table
  directionality: decrease
  isReadOnly: true
  isVerified: true
  unitTypes: [userID]
  tags: [orders]
  warehouseNative: {aggregation: count, metricSourceName: orders}
"""


def test_a_warehouse_metric_takes_the_common_top_level_fields(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    project(tmp_path, {"definitions/orders.yaml": WAREHOUSE})
    assert validate(tmp_path, capsys, "--no-cache") == (
        0,
        "valid: 0 errors, 0 warnings (1 definition in 1 file)\n",
        "",
    )


def test_a_warehouse_metric_still_keeps_its_definition_inside_warehouse_native(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    text = WAREHOUSE + "  metricEvents: [{name: purchase}]\n"
    project(tmp_path, {"definitions/orders.yaml": text})
    code, out, _ = validate(tmp_path, capsys, "--no-cache")
    assert code == 3
    assert (
        "definitions/orders.yaml:12:3: metricEvents is not used by user_warehouse metrics; "
        "put it inside warehouseNative [/spec/metricEvents]"
    ) in out


def test_percentile_is_a_warning_at_validate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    text = "kind: statsig/metric\nname: Latency p95\nspec:\n  type: percentile\n"
    project(tmp_path, {"definitions/latency.yaml": text})
    assert validate(tmp_path, capsys, "--no-cache") == (
        0,
        "definitions/latency.yaml:4:9: warning: percentile is not in the create types of "
        "Statsig's API specification (its metric guidance lists it): the project may refuse "
        "the create (docs/platforms/statsig.md) [/spec/type]\n"
        "valid: 0 errors, 1 warning (1 definition in 1 file)\n",
        "",
    )
