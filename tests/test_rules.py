"""`rules` in metricsync.yaml: each rule and severity, target overrides, rules that are themselves
wrong (at their line in the config), GitHub annotations, and a cache that never serves results of
other rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from metricsync import governance, rule_checks, schema, validation
from metricsync.cli.main import run
from metricsync.config_file import config_schema
from metricsync.platforms import KINDS

STATSIG = """\
version: 1
targets:
  statsig-prod:
    provider: statsig
    api_key: env:STATSIG_CONSOLE_API_KEY
    definitions: [definitions]
"""
POSTHOG_TARGET = """\
  posthog-us:
    provider: posthog
    project_id: "12345"
    api_key: env:POSTHOG_PERSONAL_API_KEY
    definitions: [posthog]
"""
METRIC = """\
kind: statsig/metric
name: {name}
spec:
  type: sum
  unitTypes: [userID]
  metricEvents: [{{name: purchase, type: value}}]
"""
DESCRIBED = METRIC + "  description: Revenue per user\n  tags: [team:checkout, revenue]\n"
SAVED = """\
kind: posthog/saved_metric
name: Revenue per user
spec:
  description: {description}
  tags: {tags}
  query:
    kind: ExperimentMetric
    metric_type: mean
    source: {{kind: EventsNode, event: purchase, math: sum, math_property: amount}}
"""


def project(root: Path, rules: str, files: dict[str, str], targets: str = "") -> Path:
    config = STATSIG + targets + rules
    for name, text in {"metricsync.yaml": config, **files}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


def validate(root: Path, capsys: pytest.CaptureFixture[str], *flags: str) -> tuple[int, str]:
    code = run(["validate", "--config", str(root / "metricsync.yaml"), *flags])
    captured = capsys.readouterr()
    assert captured.err == ""
    return code, captured.out


@pytest.fixture(autouse=True)
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


# Each rule ---------------------------------------------------------------------------------


def test_name_pattern_must_match_the_whole_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = "rules:\n  statsig/metric:\n    name_pattern: '[A-Z][a-z]+( [a-z]+)*'\n"
    files = {
        "definitions/a.yaml": METRIC.format(name="Revenue per user"),
        "definitions/b.yaml": METRIC.format(name="Revenue per user (EU)"),  # a prefix matches
        "definitions/c.yaml": METRIC.format(name="revenue"),
    }
    assert validate(project(tmp_path, rules, files), capsys, "--no-cache") == (
        3,
        "definitions/b.yaml:2:7: statsig/metric rule name_pattern: name 'Revenue per user (EU)' "
        "does not match '[A-Z][a-z]+( [a-z]+)*' [/name]\n"
        "definitions/c.yaml:2:7: statsig/metric rule name_pattern: name 'revenue' does not match "
        "'[A-Z][a-z]+( [a-z]+)*' [/name]\n"
        "invalid: 2 errors, 0 warnings (3 definitions in 3 files)\n",
    )


def test_required_paths_must_be_present_and_not_empty(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = (
        "rules:\n  statsig/metric:\n"
        "    required: [spec.description, spec.tags, lifecycle.protect]\n"
    )
    blank = METRIC + "  description: '  '\n  tags: []\nlifecycle:\n  protect: false\n"
    files = {
        "definitions/missing.yaml": METRIC.format(name="Missing all"),
        "definitions/blank.yaml": blank.format(name="Blank ones"),
        "definitions/good.yaml": DESCRIBED.format(name="Good one") + "lifecycle: {protect: true}\n",
    }
    code, out = validate(project(tmp_path, rules, files), capsys, "--no-cache")
    assert (code, out.splitlines()) == (
        3,
        [
            "definitions/blank.yaml:7:16: statsig/metric rule required: spec.description is "
            "empty [/spec/description]",
            "definitions/blank.yaml:8:9: statsig/metric rule required: spec.tags is empty "
            "[/spec/tags]",
            "definitions/missing.yaml:2:7: statsig/metric rule required: lifecycle.protect is "
            "missing [/lifecycle/protect]",
            "definitions/missing.yaml:2:7: statsig/metric rule required: spec.description is "
            "missing [/spec/description]",
            "definitions/missing.yaml:2:7: statsig/metric rule required: spec.tags is missing "
            "[/spec/tags]",
            "invalid: 5 errors, 0 warnings (3 definitions in 3 files)",
        ],
    )  # protect: false is a decision made, so it counts as set


def test_one_tag_of_accepts_a_list_or_statsigs_single_string(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = "rules:\n  statsig/metric:\n    one_tag_of: [team:checkout, team:growth]\n"
    files = {
        "definitions/list.yaml": DESCRIBED.format(name="In a list"),
        "definitions/string.yaml": METRIC.format(name="One string") + "  tags: team:growth\n",
        "definitions/other.yaml": METRIC.format(name="Other team") + "  tags: [team:ads, ads]\n",
        "definitions/none.yaml": METRIC.format(name="No tags"),
    }
    code, out = validate(project(tmp_path, rules, files), capsys, "--no-cache")
    assert (code, out.splitlines()) == (
        3,
        [
            "definitions/none.yaml:2:7: statsig/metric rule one_tag_of: carries none of the tags "
            "team:checkout, team:growth (it has no tags) [/spec/tags]",
            "definitions/other.yaml:7:9: statsig/metric rule one_tag_of: carries none of the tags "
            "team:checkout, team:growth (its tags: team:ads, ads) [/spec/tags]",
            "invalid: 2 errors, 0 warnings (4 definitions in 4 files)",
        ],
    )


def test_the_pattern_is_shown_as_written_and_escaped_for_github(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = "rules:\n  statsig/metric:\n    name_pattern: '[A-Z][\\w ]*%?'\n"
    files = {"definitions/a.yaml": METRIC.format(name="'revenue: 50%'")}
    root = project(tmp_path, rules, files)
    assert validate(root, capsys, "--no-cache")[1].splitlines()[0] == (
        "definitions/a.yaml:2:7: statsig/metric rule name_pattern: name 'revenue: 50%' does not "
        "match '[A-Z][\\w ]*%?' [/name]"
    )  # one backslash, as in metricsync.yaml: a repr would double it
    assert validate(root, capsys, "--no-cache", "--format", "github")[1].splitlines()[0] == (
        "::error file=definitions/a.yaml,line=2,col=7,title=metricsync%3A /name::"
        "statsig/metric rule name_pattern: name 'revenue: 50%25' does not match '[A-Z][\\w ]*%25?'"
    )


def test_posthog_tags_are_compared_as_posthog_stores_them_and_statsig_tags_exactly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """PostHog trims and lower-cases every tag, so an imported definition holds `team-checkout`
    whatever the rule says; Statsig keeps a tag's case, and so do its rules."""
    rules = (
        "rules:\n  statsig/metric:\n    one_tag_of: [Team-Checkout]\n"
        "  posthog/saved_metric:\n    one_tag_of: [Team-Checkout]\n"
    )
    files = {
        "definitions/a.yaml": METRIC.format(name="Revenue") + "  tags: [team-checkout]\n",
        "posthog/imported.yaml": SAVED.format(description="Raw", tags="[team-checkout]"),
        "posthog/written.yaml": SAVED.format(description="Raw", tags="[' TEAM-checkout']").replace(
            "Revenue per user", "Written"
        ),
        "posthog/other.yaml": SAVED.format(description="Raw", tags="[Team-Growth]").replace(
            "Revenue per user", "Other"
        ),
    }
    code, out = validate(project(tmp_path, rules, files, POSTHOG_TARGET), capsys, "--no-cache")
    assert (code, out.splitlines()) == (
        3,
        [
            "definitions/a.yaml:7:9: statsig/metric rule one_tag_of: carries none of the tags "
            "Team-Checkout (its tags: team-checkout) [/spec/tags]",
            "posthog/other.yaml:5:9: posthog/saved_metric rule one_tag_of: carries none of the "
            "tags Team-Checkout (its tags: Team-Growth) [/spec/tags]",
            "invalid: 2 errors, 0 warnings (4 definitions in 4 files)",
        ],
    )


@pytest.mark.parametrize(
    "pattern",
    ["(a+)+", "(a*)*", "(\\w+\\s?)+", "(a{1,3})+", "((?:x+))*", "Z|(b+)+?", "(?=(c+)+)d"],
)
def test_a_pattern_that_backtracks_exponentially_is_refused(pattern: str) -> None:
    assert rule_checks._nested_repetition(pattern)


@pytest.mark.parametrize(
    "pattern",
    [
        "[a-z]+(_[a-z0-9]+)*",
        "([A-Z][a-z]*)+",
        "(?i)[a-z]+( [a-z]+)*",
        "(a++)+",
        "(?>a+)+",
        "(ab)+",
        "(a{3})+",
        "(a+){2}",
        "[A-Z][A-Za-z0-9 ()/%:._-]*",
    ],
)
def test_usual_naming_patterns_are_accepted(pattern: str) -> None:
    assert not rule_checks._nested_repetition(pattern)


def test_a_nested_repetition_is_a_config_error_before_any_name_is_matched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`(a+)+` against a 40-character name that almost matches would run for hours."""
    rules = "rules:\n  statsig/metric:\n    name_pattern: '(a+)+'\n"
    files = {"definitions/a.yaml": METRIC.format(name="a" * 40 + "!")}
    code, out = validate(project(tmp_path, rules, files), capsys, "--no-cache")
    assert (code, out.splitlines()) == (
        3,
        [
            "metricsync.yaml:9:19: statsig/metric rule name_pattern repeats a group that holds "
            "nothing but repetitions, as in (a+)+ or (\\w+\\s?)*: a long name that almost "
            "matches would keep validate busy for hours (Python tries every way of splitting "
            "it); repeat once (a+), or make the inner repetition possessive (a++) or atomic "
            "((?>a+)) [/rules/statsig~1metric/name_pattern]",
            "invalid: 1 error, 0 warnings (definitions are checked once the config is valid)",
        ],
    )


def test_posthog_rules_reach_into_the_query(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = (
        "rules:\n  posthog/saved_metric:\n"
        "    required: [spec.description, spec.query.upper_bound_percentile]\n"
        "    one_tag_of: [team:checkout]\n"
    )
    capped = SAVED + "    upper_bound_percentile: 0.99\n"
    files = {
        "posthog/capped.yaml": capped.format(description="Capped", tags="[team:checkout]"),
        "posthog/raw.yaml": SAVED.format(description="Raw", tags="[team:growth]").replace(
            "Revenue per", "Raw revenue per"
        ),
    }
    root = project(tmp_path, rules, files, POSTHOG_TARGET)
    code, out = validate(root, capsys, "--no-cache", "--target", "posthog-us")
    assert (code, out.splitlines()) == (
        3,
        [
            "posthog/raw.yaml:2:7: posthog/saved_metric rule required: "
            "spec.query.upper_bound_percentile is missing [/spec/query/upper_bound_percentile]",
            "posthog/raw.yaml:5:9: posthog/saved_metric rule one_tag_of: carries none of the "
            "tags team:checkout (its tags: team:growth) [/spec/tags]",
            "invalid: 2 errors, 0 warnings (2 definitions in 2 files)",
        ],
    )


def test_a_violation_in_a_later_document_points_into_that_document(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = "rules:\n  statsig/metric:\n    required: [spec.description]\n"
    text = (
        DESCRIBED.format(name="First")
        + "---\n"
        + METRIC.format(name="Second")
        + "  description: ''\n"
    )
    code, out = validate(
        project(tmp_path, rules, {"definitions/a.yaml": text}), capsys, "--no-cache"
    )
    assert (code, out.splitlines()[0]) == (
        3,
        "definitions/a.yaml:16:16: statsig/metric rule required: spec.description is empty "
        "[/spec/description]",
    )


def test_warnings_are_reported_and_do_not_fail(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = "rules:\n  statsig/metric:\n    required: [spec.description]\n    severity: warning\n"
    root = project(tmp_path, rules, {"definitions/a.yaml": METRIC.format(name="Revenue")})
    assert validate(root, capsys, "--no-cache") == (
        0,
        "definitions/a.yaml:2:7: warning: statsig/metric rule required: spec.description is "
        "missing [/spec/description]\n"
        "valid: 0 errors, 1 warning (1 definition in 1 file)\n",
    )


def test_the_json_format_carries_the_rule_and_its_severity(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = "rules:\n  statsig/metric:\n    one_tag_of: [team:checkout]\n    severity: warning\n"
    root = project(tmp_path, rules, {"definitions/a.yaml": METRIC.format(name="Revenue")})
    code, out = validate(root, capsys, "--no-cache", "--format", "json")
    assert (code, json.loads(out)["problems"]) == (
        0,
        [
            {
                "file": "definitions/a.yaml",
                "line": 2,
                "column": 7,
                "pointer": "/spec/tags",
                "severity": "warning",
                "message": "statsig/metric rule one_tag_of: carries none of the tags "
                "team:checkout (it has no tags)",
            }
        ],
    )


def test_github_annotations_carry_the_rule_and_its_severity(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = (
        "rules:\n  statsig/metric:\n    name_pattern: '[A-Z].*'\n"
        "  posthog/saved_metric:\n    one_tag_of: [team:checkout]\n    severity: warning\n"
    )
    files = {
        "definitions/a.yaml": METRIC.format(name="revenue gross"),
        "posthog/b.yaml": SAVED.format(description="Raw", tags="[growth]"),
    }
    code, out = validate(project(tmp_path, rules, files, POSTHOG_TARGET), capsys, "--no-cache",
                         "--format", "github")  # fmt: skip
    assert (code, out.splitlines()) == (
        3,
        [
            "::error file=definitions/a.yaml,line=2,col=7,title=metricsync%3A /name::"
            "statsig/metric rule name_pattern: name 'revenue gross' does not match '[A-Z].*'",
            "::warning file=posthog/b.yaml,line=5,col=9,title=metricsync%3A /spec/tags::"
            "posthog/saved_metric rule one_tag_of: carries none of the tags team:checkout "
            "(its tags: growth)",
            "invalid: 1 error, 1 warning (2 definitions in 2 files)",
        ],
    )


def test_a_document_with_schema_errors_is_not_held_to_the_rules_yet(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = "rules:\n  statsig/metric:\n    required: [spec.description]\n"
    broken = METRIC.format(name="Broken") + "  typo: 1\n"
    code, out = validate(project(tmp_path, rules, {"definitions/a.yaml": broken}), capsys)
    assert (code, out.splitlines()[0]) == (
        3,
        "definitions/a.yaml:7:3: unknown field 'typo' [/spec/typo]",
    )
    assert "rule" not in out


# Target overrides -------------------------------------------------------------------------

STAGING = """\
  statsig-staging:
    provider: statsig
    api_key: env:STATSIG_STAGING_KEY
    definitions: [definitions]
"""
PROJECT_RULES = """\
rules:
  statsig/metric:
    name_pattern: '[A-Z].*'
    required: [spec.description]
"""


def test_a_target_overrides_single_rules_and_keeps_the_others(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = STATSIG.replace(
        "    definitions: [definitions]\n",
        "    definitions: [definitions]\n    rules:\n      statsig/metric:\n"
        "        required: [spec.tags]\n        severity: warning\n",
    )
    files = {"metricsync.yaml": config + PROJECT_RULES}
    files["definitions/a.yaml"] = METRIC.format(name="lower case")
    project(tmp_path, "", files)
    assert validate(tmp_path, capsys, "--no-cache") == (
        0,
        "definitions/a.yaml:2:7: warning: statsig/metric rule name_pattern: name 'lower case' "
        "does not match '[A-Z].*' [/name]\n"
        "definitions/a.yaml:2:7: warning: statsig/metric rule required: spec.tags is missing "
        "[/spec/tags]\n"
        "valid: 0 errors, 2 warnings (1 definition in 1 file)\n",
    )


def test_a_target_lifts_a_rule_with_null_or_an_empty_list(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lifted = "    rules:\n      statsig/metric: {name_pattern: null, required: []}\n"
    config = STATSIG + lifted + PROJECT_RULES
    files = {"metricsync.yaml": config, "definitions/a.yaml": METRIC.format(name="lower case")}
    assert validate(project(tmp_path, "", files), capsys, "--no-cache") == (
        0,
        "valid: 0 errors, 0 warnings (1 definition in 1 file)\n",
    )


def test_targets_sharing_a_folder_with_different_rules_are_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lenient = STAGING + "    rules:\n      statsig/metric: {severity: warning}\n"
    files = {"definitions/a.yaml": METRIC.format(name="lower case")}
    root = project(tmp_path, PROJECT_RULES, files, lenient)
    code, out = validate(root, capsys, "--no-cache")
    assert (code, out.splitlines()) == (
        3,
        [
            "definitions/a.yaml:2:7: statsig/metric rule name_pattern for statsig-prod: name "
            "'lower case' does not match '[A-Z].*' [/name]",
            "definitions/a.yaml:2:7: warning: statsig/metric rule name_pattern for "
            "statsig-staging: name 'lower case' does not match '[A-Z].*' [/name]",
            "definitions/a.yaml:2:7: statsig/metric rule required for statsig-prod: "
            "spec.description is missing [/spec/description]",
            "definitions/a.yaml:2:7: warning: statsig/metric rule required for statsig-staging: "
            "spec.description is missing [/spec/description]",
            "invalid: 2 errors, 2 warnings (1 definition in 1 file)",
        ],
    )
    code, out = validate(root, capsys, "--no-cache", "--target", "statsig-staging")
    assert (code, out.splitlines()[-1]) == (
        0,
        "valid: 0 errors, 2 warnings (1 definition in 1 file)",
    )
    assert " for statsig-staging" not in out  # one target: its rules need no name


def test_targets_with_the_same_rules_report_each_violation_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = {"definitions/a.yaml": METRIC.format(name="Described") + "  description: ' '\n"}
    assert validate(project(tmp_path, PROJECT_RULES, files, STAGING), capsys, "--no-cache") == (
        3,
        "definitions/a.yaml:7:16: statsig/metric rule required: spec.description is empty "
        "[/spec/description]\n"
        "invalid: 1 error, 0 warnings (1 definition in 1 file)\n",
    )


# Rules that are themselves wrong ------------------------------------------------------------


def test_wrong_rules_are_config_errors_at_their_own_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = """\
rules:
  statsig/metrics:
    severity: warning
  statsig/metric:
    name_pattern: '[A-Z'
    required:
      - spec.descripton
      - spec.createdTime
      - spec.metricEvents.name
      - spec.warehouseNative.winsorizationHigh
  userflux/query:
    one_tag_of: [team:data]
"""
    override = (
        "    rules:\n      posthog/saved_metric:\n        required: [spec.query.cap]\n"
        "      statsig/metric: {severity: warning}\n"
    )
    root = project(tmp_path, rules, {"definitions/a.yaml": METRIC.format(name="A b c d")},
                   POSTHOG_TARGET + override)  # fmt: skip
    code, out = validate(root, capsys, "--no-cache")
    assert (code, out.splitlines()) == (
        3,
        [
            "metricsync.yaml:14:20: posthog/saved_metric rule required: 'spec.query.cap' is not "
            "a field of posthog/saved_metric [/targets/posthog-us/rules/posthog~1saved_metric/"
            "required/0]",
            "metricsync.yaml:15:23: statsig/metric rules never apply here: target 'posthog-us' "
            "(posthog) reads only posthog/saved_metric definitions "
            "[/targets/posthog-us/rules/statsig~1metric]",
            "metricsync.yaml:17:3: unknown kind; rules are given per kind: statsig/metric, "
            "posthog/saved_metric, userflux/query or unleash/usage [/rules/statsig~1metrics]",
            "metricsync.yaml:20:19: statsig/metric rule name_pattern is not a valid regular "
            "expression: unterminated character set at position 0 "
            "[/rules/statsig~1metric/name_pattern]",
            "metricsync.yaml:22:9: statsig/metric rule required: 'spec.descripton' is not a "
            "field of statsig/metric (did you mean 'spec.description'?) "
            "[/rules/statsig~1metric/required/0]",
            "metricsync.yaml:23:9: statsig/metric rule required: 'spec.createdTime' is a field "
            "statsig/metric definitions may not set [/rules/statsig~1metric/required/1]",
            "metricsync.yaml:24:9: statsig/metric rule required: 'spec.metricEvents.name' goes "
            "through 'spec.metricEvents', which is not a mapping "
            "[/rules/statsig~1metric/required/2]",
            "metricsync.yaml:27:17: userflux/query rule one_tag_of: userflux/query definitions "
            "have no tags [/rules/userflux~1query/one_tag_of]",
            "invalid: 8 errors, 0 warnings (definitions are checked once the config is valid)",
        ],
    )


def test_rule_values_of_the_wrong_shape_are_schema_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = (
        "rules:\n  statsig/metric:\n    severity: fatal\n    required: spec.description\n"
        "    one_tag_of: [team]\n    max_length: 40\n"
    )
    code, out = validate(project(tmp_path, rules, {}), capsys, "--no-cache")
    assert (code, out.splitlines()) == (
        3,
        [
            'metricsync.yaml:9:15: \'severity\' must be one of: "error", "warning"; got '
            "'fatal' [/rules/statsig~1metric/severity]",
            "metricsync.yaml:10:15: 'required' must be of type array; got string "
            "'spec.description' [/rules/statsig~1metric/required]",
            "metricsync.yaml:12:5: unknown field 'max_length' [/rules/statsig~1metric/max_length]",
            "invalid: 3 errors, 0 warnings (definitions are checked once the config is valid)",
        ],
    )


def test_every_path_the_docs_name_is_one_a_definition_can_hold() -> None:
    paths = {
        "statsig/metric": ["spec.description", "spec.tags", "lifecycle.protect", "name",
                           "spec.warehouseNative.winsorizationHigh", "spec.warehouseNative.cap"],
        "posthog/saved_metric": ["spec.description", "spec.tags",
                                 "spec.query.upper_bound_percentile",
                                 "spec.query.lower_bound_percentile",
                                 "spec.query.numerator_outlier_handling.upper_bound_percentile"],
        "userflux/query": ["spec.sql", "spec.variables.anything", "lifecycle.protect"],
    }  # fmt: skip
    for kind, found in paths.items():
        for path in found:
            assert (
                rule_checks.unreachable(schema.load(KINDS[kind].schema), tuple(path.split(".")))
                is None
            ), path


def test_the_config_schema_offers_rules_for_every_kind() -> None:
    config = config_schema()
    kinds = config["$defs"]["rules"]["properties"]
    assert list(kinds) == list(KINDS) == config["$defs"]["rules"]["propertyNames"]["enum"]
    rules = config["$defs"]["kindRules"]["properties"]
    assert list(rules) == list(governance.RULES)
    assert all(rule["description"] for rule in rules.values())
    assert config["properties"]["rules"] and config["$defs"]["target"]["properties"]["rules"]


# The cache ---------------------------------------------------------------------------------


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    checked: list[str] = []
    real = validation.check_file

    def counting(file: str, source: bytes) -> Any:
        checked.append(file)
        return real(file, source)

    monkeypatch.setattr(validation, "check_file", counting)
    return checked


def test_new_rules_are_applied_to_cached_files_and_never_served_stale(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], calls: list[str]
) -> None:
    files = {f"definitions/m{i}.yaml": METRIC.format(name=f"Metric {i}") for i in range(3)}
    root = project(tmp_path, "", files)
    assert validate(root, capsys)[0] == 0
    config = root / "metricsync.yaml"
    config.write_text(STATSIG + PROJECT_RULES.replace("'[A-Z].*'", "'Metric [01]'"))
    code, out = validate(root, capsys)
    assert (code, out.count("rule required"), out.count("rule name_pattern")) == (3, 3, 1)
    assert "m2.yaml:2:7: statsig/metric rule name_pattern: name 'Metric 2'" in out
    lenient = (
        STATSIG + PROJECT_RULES.replace("'[A-Z].*'", "'Metric [0-9]'") + "    severity: warning\n"
    )
    config.write_text(lenient)
    code, out = validate(root, capsys)
    assert (code, out.splitlines()[-1]) == (
        0,
        "valid: 0 errors, 3 warnings (3 definitions in 3 files)",
    )
    config.write_text(STATSIG)
    assert validate(root, capsys) == (0, "valid: 0 errors, 0 warnings (3 definitions in 3 files)\n")
    config.write_text(STATSIG + PROJECT_RULES.replace("'[A-Z].*'", "'Metric [01]'"))
    code, out = validate(root, capsys)
    assert (code, out.count("rule required"), out.count("rule name_pattern")) == (3, 3, 1)
    assert calls == [f"definitions/m{i}.yaml" for i in range(3)]  # parsed once, checked 5 times


def test_the_cache_keeps_each_rule_sets_results_for_alternating_targets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], calls: list[str]
) -> None:
    lenient = STAGING + "    rules:\n      statsig/metric: {severity: warning}\n"
    root = project(tmp_path, PROJECT_RULES, {"definitions/a.yaml": METRIC.format(name="x y z")},
                   lenient)  # fmt: skip
    runs = [validate(root, capsys, "--target", t) for t in ("statsig-prod", "statsig-staging") * 2]
    assert runs[0] == runs[2] and runs[1] == runs[3] and runs[0][0] == 3 and runs[1][0] == 0
    cache = json.loads((root / ".metricsync" / "cache" / "validate.json").read_text())
    [entry] = cache["files"].values()
    assert len(entry[3]) == 2 and len(calls) == 1


def test_the_documented_example_is_valid_and_merges_as_documented() -> None:
    from metricsync.config_file import read_config

    root = Path(__file__).resolve().parents[1]
    config, problems = read_config(root / "docs" / "examples" / "rules.yaml")
    assert problems == [] and config is not None
    payments = config.targets["statsig-payments"].rules["statsig/metric"]
    assert (
        payments.name_pattern == config.targets["statsig-prod"].rules["statsig/metric"].name_pattern
    )
    assert payments.required == (
        ("spec", "description"),
        ("spec", "warehouseNative", "winsorizationHigh"),
    )
    assert config.targets["posthog-us"].rules["posthog/saved_metric"].severity == "warning"
    assert config.targets["posthog-payments"].rules["posthog/saved_metric"].severity == "error"
