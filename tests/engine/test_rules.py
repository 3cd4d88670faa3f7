"""Rules against the sandbox: `import` writes what is live and counts what breaks the rules; an
error rule stops plan before any request, a warning rule does not."""

from __future__ import annotations

import json

import pytest

from tests.engine.conftest import Project

SIMPLE = {
    "type": "sum",
    "unitTypes": ["userID"],
    "metricEvents": [{"name": "buy", "type": "value"}],
}
RULES = """\
rules:
  statsig/metric:
    name_pattern: '[A-Z][A-Za-z ]+'
    required: [spec.description]
    one_tag_of: [team:checkout, team:growth]
"""
LIVE = [
    {"name": "Checkout total", "description": "Sum of orders", "tags": ["team:checkout"]},
    {"name": "Growth signups", "description": "Signups", "tags": ["team:growth", "north-star"]},
    {"name": "checkout_count", "description": "Orders", "tags": ["team:checkout"]},
    {"name": "Revenue", "description": "", "tags": ["finance"]},
]


def with_rules(project: Project, rules: str = RULES) -> None:
    config = project.root / "metricsync.yaml"
    config.write_text(config.read_text() + rules)


def test_import_writes_what_is_live_and_says_how_much_breaks_the_rules(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    project.app.seed({"statsig": {"metrics": [{**SIMPLE, **m} for m in LIVE]}})
    with_rules(project)
    code, out, _ = project.cli("import", "--target", "statsig-test", capsys=capsys)
    assert code == 0
    assert "4 written, 0 skipped." in out
    assert (
        "2 of the 4 imported definitions break the rules; run `metricsync validate` to see where\n"
        in out
    )
    code, out, _ = project.cli("validate", "--no-cache", capsys=capsys)
    assert (code, out.splitlines()) == (
        3,
        [
            "definitions/statsig/checkout_count.yaml:3:7: statsig/metric rule name_pattern: name "
            "'checkout_count' does not match '[A-Z][A-Za-z ]+' [/name]",
            "definitions/statsig/revenue.yaml:3:7: statsig/metric rule required: "
            "spec.description is missing [/spec/description]",
            "definitions/statsig/revenue.yaml:7:9: statsig/metric rule one_tag_of: carries none "
            "of the tags team:checkout, team:growth (its tags: finance) [/spec/tags]",
            "invalid: 3 errors, 0 warnings (4 definitions in 4 files)",
        ],
    )


def test_an_import_within_the_rules_says_nothing_about_them(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    project.app.seed({"statsig": {"metrics": [{**SIMPLE, **m} for m in LIVE[:2]]}})
    with_rules(project)
    code, out, _ = project.cli("import", "--target", "statsig-test", "--format", "json",
                               capsys=capsys)  # fmt: skip
    assert code == 0 and json.loads(out)["targets"][0]["breaking_rules"] == 0
    code, out, _ = project.cli("import", "--target", "statsig-test", capsys=capsys)
    assert code == 0 and "rules" not in out


def test_one_definition_breaking_the_rules_is_counted_in_the_singular(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    project.app.seed({"statsig": {"metrics": [{**SIMPLE, **m} for m in LIVE[2:3]]}})
    with_rules(project)
    code, out, _ = project.cli("import", "--target", "statsig-test", capsys=capsys)
    assert code == 0
    assert "1 of the 1 imported definition breaks the rules;" in out


def test_a_broken_rule_stops_plan_before_any_request(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    project.write(
        "definitions/statsig/revenue.yaml",
        """\
        kind: statsig/metric
        name: revenue
        spec: {type: sum, unitTypes: [userID], metricEvents: [{name: buy, type: value}]}
        """,
    )
    with_rules(project, "rules:\n  statsig/metric:\n    name_pattern: '[A-Z].*'\n")
    code, out, err = project.cli("plan", "--target", "statsig-test", capsys=capsys)
    assert code == 3 and out == ""
    assert "statsig/metric rule name_pattern: name 'revenue' does not match '[A-Z].*'" in err
    assert list(project.app.requests) == []
    with_rules(project, "    severity: warning\n")
    code, out, err = project.cli("plan", "--target", "statsig-test", "--detailed-exitcode",
                                 capsys=capsys)  # fmt: skip
    assert code == 2 and "+ statsig/metric 'revenue'" in out
    assert "warning: statsig/metric rule name_pattern: name 'revenue'" in err


def test_definitions_breaking_the_rules_never_stop_an_import(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    """The debt a first import wrote (or a team's older definitions) is validate's and plan's
    business: a later import, such as the next target of the same run, still writes what is live."""
    project.app.seed({"statsig": {"metrics": [{**SIMPLE, **m} for m in LIVE]}})
    with_rules(project)
    assert project.cli("import", "--target", "statsig-test", capsys=capsys)[0] == 0
    project.app.seed({"statsig": {"metrics": [{**SIMPLE, "name": "late_one"}]}})
    code, out, err = project.cli("import", "--target", "statsig-test", capsys=capsys)
    assert (code, err) == (0, "")
    assert "1 written, 4 skipped." in out
    assert "1 of the 1 imported definition breaks the rules;" in out
    code, _, err = project.cli("plan", "--target", "statsig-test", capsys=capsys)
    assert code == 3 and "Error: 6 problems found; nothing was sent" in err
