"""`metricsync import`: whatever it writes validates and plans to nothing but adoption, for every
shape the platforms return; file names, quoting, filters and overwrite protection."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from metricsync.documents import load_file
from metricsync.importer import Entry, ImportOptions, Skip, assign_files, choose, slug
from metricsync.live import LiveObject
from metricsync.platforms.posthog.mapping import current_query
from metricsync.platforms.posthog.mapping import from_payload as posthog_payload
from metricsync.platforms.statsig.mapping import SPEC_KEYS
from metricsync.platforms.statsig.mapping import from_payload as statsig_payload
from metricsync.platforms.statsig.mapping import to_spec as statsig_spec
from metricsync.render.definition import render_definition
from metricsync.schema import load
from tests.engine.conftest import Project

OWNER = "managed-by-metricsync"
# Text that YAML 1.1 tools would read as something else, or that needs quoting under YAML 1.2.
TRICKY = [
    "yes", "no", "on", "off", "NO", "1:30", "0777", "0o17", "0x1F", "1_000", "2024-01-01",
    "2024-01-01T10:00:00Z", "true", "null", "~", "", "-1", ".5", "1e3", "a: b", "#hash", ">=",
    "<", "=", "100%", "[x]", "{y}", "a, b", "'single'", '"double"', "  padded ", "tab\there",
    "Größe", "日本語", "emoji 🚀", "line one\nline two\n", "no newline\nat end", "\u2028", "@at",
]  # fmt: skip


def test_tricky_text_round_trips_through_the_yaml_1_2_loader() -> None:
    document = {
        "kind": "x",
        "name": "n",
        "spec": {"values": TRICKY, "items": [{"v": v} for v in TRICKY]},
    }
    text = render_definition(document, ["a comment"])
    [loaded] = load_file("x.yaml", text.encode()).documents
    assert loaded.data == document
    assert (
        "  values:\n    - yes\n    - no\n    - on\n    - off\n    - NO\n    - 1:30\n    - '0777'\n"
        in text
    )
    assert "    - 2024-01-01\n    - 2024-01-01T10:00:00Z\n    - 'true'\n    - 'null'\n" in text
    assert (
        "    - |\n      line one\n      line two\n    - |-\n      no newline\n      at end\n"
        in text
    )


def test_numbers_and_booleans_keep_their_type() -> None:
    values = [0, -3, 10**30, 0.5, 1e-05, 1e20, float("inf"), True, False, None]
    text = render_definition({"v": values})
    assert (
        text
        == "v: [0, -3, 1000000000000000000000000000000, 0.5, 1e-05, 1e+20, .inf, true, false, null]\n"
    )
    assert load_file("x.yaml", text.encode()).documents[0].data == {"v": values}


@pytest.mark.parametrize(
    ("name", "stem"),
    [
        ("Checkout conversion", "checkout_conversion"),
        ("Revenue: gross/net (USD) 50%", "revenue_gross_net_usd_50"),
        ("[LOCAL] Time Spent over 500ms", "local_time_spent_over_500ms"),
        ("Größe – Café crème", "grosse_cafe_creme"),
        ("日本語の売上 / 2024", "日本語の売上_2024"),
        ("🚀🚀", "metric"),
        ("%%%", "metric"),
        ("CON", "con_"),
        ("x" * 300, "x" * 80),
        ("\U00020000" * 60, "\U00020000" * 50),  # 4 bytes each: 200 bytes at most
    ],
)
def test_file_names_are_readable_and_portable(name: str, stem: str) -> None:
    assert slug(name, "metric") == stem


def _entry(name: str, live_id: str) -> Entry:
    live = LiveObject("statsig/metric", live_id, name, {"type": "sum"}, owned=False)
    return Entry(live, document={"kind": "statsig/metric", "name": name, "spec": {}})


def test_colliding_names_are_numbered_the_same_way_whatever_the_listing_order() -> None:
    entries = [_entry("A/B", "1"), _entry("a b 2", "2"), _entry("A B", "3"), _entry("a:b", "4")]
    expected = {"A B": "a_b.yaml", "A/B": "a_b_3.yaml", "a b 2": "a_b_2.yaml", "a:b": "a_b_4.yaml"}
    for order in (entries, entries[::-1]):
        named = assign_files(order, lambda file, live: "free", force=False)
        assert {e.live.name: e.file for e in named} == expected


def test_a_file_of_another_object_is_never_reused_and_one_of_the_same_object_needs_force() -> None:
    def occupant(file: str, live: LiveObject) -> Any:
        return {"other.yaml": "other", "mine.yaml": "same"}.get(file, "free")

    entries = [_entry("Other", "1"), _entry("Mine", "2")]
    named = {e.live.name: (e.file, e.skip) for e in assign_files(entries, occupant, force=False)}
    assert named == {"Other": ("other_2.yaml", None), "Mine": ("mine.yaml", Skip.EXISTS)}
    forced = {e.live.name: (e.file, e.skip) for e in assign_files(entries, occupant, force=True)}
    assert forced["Mine"] == ("mine.yaml", None)


def test_statsig_spec_leaves_out_server_fields_and_defaults_in_canonical_order() -> None:
    raw = {
        "id": "Old name::sum", "name": "Revenue", "type": "sum", "directionality": "increase",
        "description": "", "isPermanent": True, "isReadOnly": False, "isHidden": False,
        "isVerified": False, "tags": [OWNER, "money"], "unitTypes": ["userID"], "team": None,
        "metricEvents": [{"criteria": [], "type": "value", "name": "purchase"}],
        "lineage": {"events": ["purchase"], "metrics": []}, "creatorName": "CONSOLE API",
        "createdTime": 1, "owner": {"name": "x"}, "someFutureServerField": 3,
    }  # fmt: skip
    spec = statsig_spec(statsig_payload(raw, OWNER))
    assert spec == {
        "type": "sum",
        "unitTypes": ["userID"],
        "tags": ["money"],
        "isPermanent": True,
        "metricEvents": [{"name": "purchase", "type": "value"}],
    }
    assert list(spec) == ["type", "unitTypes", "tags", "isPermanent", "metricEvents"]


def test_every_statsig_spec_field_of_the_schema_has_a_place_in_the_canonical_order() -> None:
    properties = load("statsig/metric.schema.json")["properties"]["spec"]["properties"]
    writable = [k for k, v in properties.items() if v != {**v, "not": {}}]
    assert sorted(writable) == sorted(SPEC_KEYS)


def test_posthog_legacy_queries_follow_posthogs_own_migration() -> None:
    trends = {
        "kind": "ExperimentTrendsQuery",
        "count_query": {
            "kind": "TrendsQuery",
            "series": [
                {
                    "kind": "EventsNode",
                    "event": "$pageview",
                    "name": "$pageview",
                    "math_property_type": "x",
                }
            ],
        },
    }
    funnels = {
        "kind": "ExperimentFunnelsQuery",
        "name": "Signup funnel",
        "funnels_query": {
            "kind": "FunnelsQuery",
            "series": [
                {"kind": "EventsNode", "event": "a", "name": "a"},
                {"kind": "ActionsNode", "id": 7, "name": "b"},
            ],
        },
    }
    config = {
        "kind": "ExperimentMetric", "metric_type": "continuous", "goal": "decrease",
        "metric_config": {"kind": "ExperimentEventMetricConfig", "event": "buy", "math": "sum", "math_property": "amount"},
    }  # fmt: skip
    assert current_query(trends) == {
        "kind": "ExperimentMetric",
        "source": {"kind": "EventsNode", "event": "$pageview"},
        "metric_type": "mean",
    }
    assert current_query(funnels) == {
        "kind": "ExperimentMetric",
        "series": [{"kind": "EventsNode", "event": "a"}, {"kind": "ActionsNode", "id": 7}],
        "metric_type": "funnel",
        "name": "Signup funnel",
    }
    assert current_query(config)["source"] == {
        "kind": "EventsNode",
        "math": "sum",
        "math_property": "amount",
        "event": "buy",
    }
    assert current_query({"kind": "SomethingElse"}) == {"kind": "SomethingElse"}


# ---- round trips on a seeded sandbox ----------------------------------------------------------
# The estates below are data: every Statsig type, criteria of every kind and condition, PostHog
# metrics of every metric_type and node kind with filters, windows and outlier settings, and
# names and values chosen to break naive YAML and file names.

# fmt: off
CONDITIONS = ["in", "not_in", "=", ">", "<", ">=", "<=", "is_null", "non_null", "contains",
              "not_contains", "is_true", "is_false"]
CRITERIA_TYPES = ["value", "metadata", "user", "user_custom"]
WAREHOUSE_CONDITIONS = ["sql_filter", "starts_with", "ends_with", "after_exposure", "before_exposure", "in"]
NO_VALUES = ("is_null", "non_null", "is_true", "is_false", "after_exposure", "before_exposure")
STATSIG_TYPES = ["ratio", "mean", "event_count_custom", "event_user", "funnel", "composite",
                 "composite_sum", "sum", "undefined", "user_warehouse", "percentile"]
STATSIG_NAMES = ["Checkout conversion", "Revenue: gross/net", "Share 50%", "Time (ms) / session",
                 "a.b-c_d", "Spaces  twice", "x:y:z", "Under_score.dot"]
TEXTS = [t for t in TRICKY if t.isprintable() and t == t.strip() and t]
SIMPLE = {"type": "sum", "unitTypes": ["userID"], "metricEvents": [{"name": "buy", "type": "value"}]}


def criterion(i: int, types: list[str], conditions: list[str]) -> dict[str, Any]:
    found: dict[str, Any] = {"type": types[i % len(types)], "condition": conditions[i % len(conditions)]}
    if found["type"] != "value":
        found["column"] = ["currency", "country", "device", "plan tier"][i % 4]
    if found["condition"] not in NO_VALUES:
        found["values"] = [TEXTS[i % len(TEXTS)], str(i)]
    if i % 5 == 0:
        found["nullVacuousOverride"] = i % 2 == 0
    return found


def events(i: int, count: int, with_criteria: bool) -> list[dict[str, Any]]:
    result = []
    for n in range(count):
        event: dict[str, Any] = {"name": f"event_{(i + n) % 9}", "type": ["count", "count_distinct", "value", "metadata", None][(i + n) % 5]}
        if event["type"] in ("metadata", "count_distinct"):
            event["metadataKey"] = "amount"
        if with_criteria or (i + n) % 3:
            event["criteria"] = [criterion(i + n + k, CRITERIA_TYPES, CONDITIONS) for k in range(1 + i % 3)]
        elif n % 2:
            event["criteria"] = []
        result.append(event)
    return result


def statsig_shape(i: int) -> dict[str, Any]:
    kind, units = STATSIG_TYPES[i % 11], [["userID"], ["stableID"], ["userID", "companyID"]][i % 3]
    if kind == "funnel":
        steps = [["event_user", "event_dau"], ["event_count", "event_count_custom"]][i % 2]
        funnel = [{"name": f"step_{n}", "type": steps[n % 2], "criteria": [criterion(i + n, CRITERIA_TYPES, CONDITIONS)]}
                  for n in range(2 + i % 2)]
        return {"type": kind, "unitTypes": units, "funnelCountDistinct": ["users", "events"][i % 2], "funnelEventList": funnel}
    if kind in ("composite", "composite_sum"):
        ratio = i - i % 11  # a ratio metric of this estate
        parts = [{"name": "add_to_cart", "type": "event_count"}, {"name": f"{STATSIG_NAMES[ratio % 8]} {ratio:03d}", "type": "ratio"}]
        return {"type": kind, "unitTypes": units, "metricComponentMetrics": parts}
    if kind == "user_warehouse":
        native = {"aggregation": ["sum", "count", "ratio", ""][i % 4], "metricSourceName": "orders",
                  "valueColumn": "amount", "criteria": [criterion(i, ["metadata"], WAREHOUSE_CONDITIONS)],
                  "rollupTimeWindow": "custom", "winsorizationHigh": 0.999, "cap": 100,
                  "metricDimensionColumns": ["country"], "waitForCohortWindow": i % 2 == 0}
        return {"type": kind, "warehouseNative": native}
    if kind == "undefined":
        return {"type": kind}
    return {"type": kind, "unitTypes": units, "metricEvents": events(i, 1 + i % 2, kind == "event_user")}


def statsig_metric(i: int) -> dict[str, Any]:
    metric: dict[str, Any] = {"name": f"{STATSIG_NAMES[i % 8]} {i:03d}", **statsig_shape(i)}
    if i % 3 == 0:
        metric["description"] = TEXTS[i % len(TEXTS)] if i % 2 else "Two lines:\nsecond one"
    if metric["type"] != "user_warehouse":
        extras = [("directionality", "decrease"), ("isReadOnly", True), ("isVerified", True), ("team", "growth"), ("teamID", "t-1")]
        metric.update(extras[: i % 6])
        if i % 4 == 1:
            metric.update(rollupTimeWindow="custom", customRollUpStart=0, customRollUpEnd=7 + i % 7)
    metric["isPermanent"] = i % 4 == 0
    metric["tags"] = [["Checkout", "north-star"], [], ["revenue"]][i % 3] + [OWNER] * (i % 2 == 0)
    metric["isHidden"] = i % 17 == 0
    return metric


def statsig_estate() -> dict[str, Any]:
    def simple(name: str, **fields: Any) -> dict[str, Any]:
        return {"name": name, **SIMPLE, **fields}

    odd = [
        {"name": "add_to_cart", "type": "event_count"}, {"name": "add_to_cart", "type": "event_dau"},
        {"name": "d1_retention_rate", "type": "user"},
        simple("Renamed in the console", id="Old name::sum"),
        simple("Same name twice"), simple("Same name twice", type="mean"),
        simple("[LOCAL] Time Spent over 500ms"), simple("Größe émoji 🚀"), simple("abc"),
    ]
    return {"settings": {"unit_types": ["companyID"]}, "metrics": [statsig_metric(i) for i in range(160)] + odd}


POSTHOG_NAMES = ["Checkout funnel", "Größe / Ü", "日本語の売上", "[beta] retention", "yes", "0777",
                 "2024-01-01", "a: b # c", "true", "emoji 🚀", "100% of 50%", "Quote's \"double\""]
MATHS = [{"math": "total"}, {"math": "sum", "math_property": "amount"},
         {"math": "avg", "math_property": "price", "math_property_type": "event_properties"},
         {"math": "dau"}, {"math": "unique_session"}, {"math": "unique_group", "math_group_type_index": 1},
         {"math": "hogql", "math_hogql": "sum(properties.x) / 100"},
         {"math": "min", "math_property": "t", "math_multiplier": 0.001}, {}]
OPERATORS = [("exact", "0777"), ("is_not", "yes"), ("icontains", "/products/"), ("regex", "^a.*[0-9]$"),
             ("gt", 10), ("lt", 0.5), ("is_set", "is_set"), ("in", ["US", "DE", "on"]), ("between", [1, 5]),
             ("exact", True)]
FILTER_TYPES = ["event", "person", "cohort", "group", "hogql", "data_warehouse"]
UNITS = ["second", "minute", "hour", "day", "week", "month"]
WAREHOUSE = {"kind": "ExperimentDataWarehouseNode", "table_name": "orders", "timestamp_field": "ts",
             "events_join_key": "person.id", "data_warehouse_join_key": "customer_id", "name": None}
LEGACY = [
    {"kind": "ExperimentTrendsQuery",
     "count_query": {"kind": "TrendsQuery", "series": [{"kind": "EventsNode", "event": "$pageview", "name": "$pageview"}]}},
    {"kind": "ExperimentFunnelsQuery",
     "funnels_query": {"kind": "FunnelsQuery", "series": [{"kind": "EventsNode", "event": "a", "name": "a"},
                                                           {"kind": "ActionsNode", "id": 7, "name": "x"}]}},
    {"kind": "ExperimentMetric", "metric_type": "count",
     "metric_config": {"kind": "ExperimentEventMetricConfig", "event": "purchase"}},
]


def node(i: int) -> dict[str, Any]:
    found: dict[str, Any] = [
        {"kind": "ActionsNode", "id": 7 + i % 3, "name": "stale name"}, dict(WAREHOUSE),
        {"kind": "EventsNode", "event": [f"event_{i % 5}", "$pageview", None][i % 3], "custom_name": ["Nice name", None][i % 2]},
    ][min(i % 4, 2)]
    found.update(MATHS[i % len(MATHS)])
    if i % 3:
        operator, value = OPERATORS[i % len(OPERATORS)]
        prop = {"key": ["$current_url", "plan", "$browser"][i % 3], "value": value, "operator": operator, "type": FILTER_TYPES[i % 6]}
        prop.update({"group_type_index": 0} if prop["type"] == "group" else {})
        found["properties"] = [prop] + [{"key": "country", "value": "NO", "operator": "exact", "type": "person"}] * (i % 5 == 0)
    elif i % 2:
        found["properties"] = []
    return found


def posthog_query(i: int) -> dict[str, Any]:
    metric_type = ["mean", "funnel", "ratio", "retention"][i % 4]
    query: dict[str, Any] = {"kind": "ExperimentMetric", "metric_type": metric_type, "goal": ["increase", "decrease", None][i % 3]}
    if i % 5:
        query.update(conversion_window=1 + i % 30, conversion_window_unit=UNITS[i % 6])
    if metric_type == "mean":
        query["source"] = node(i)
        if i % 8 == 0:
            query.update(lower_bound_percentile=0.05, upper_bound_percentile=0.95, ignore_zeros=True)
        elif i % 8 == 4 and query["source"].get("math") in ("sum", "total"):
            query["threshold"] = 100
    elif metric_type == "funnel":
        query.update(series=[node(i + n) for n in range(1 + i % 3)], funnel_order_type=["strict", "unordered", "ordered", None][i % 4])
    elif metric_type == "ratio":
        query.update(numerator=node(i), denominator=node(i + 1),
                     numerator_outlier_handling={"upper_bound_percentile": 0.99, "ignore_zeros": i % 2 == 0})
    else:
        query.update(start_event=node(i), completion_event=node(i + 2), retention_window_start=0,
                     retention_window_end=7 + i % 3, retention_window_unit="day", start_handling=["first_seen", "last_seen"][i % 2])
    if i % 9 == 0:
        query["breakdownFilter"] = {"breakdowns": [{"property": "$browser", "type": "event"}], "breakdown_limit": 5}
    return query


def posthog_metric(i: int) -> dict[str, Any]:
    return {
        "name": f"{POSTHOG_NAMES[i % len(POSTHOG_NAMES)]} {i:03d}",
        "description": [None, "", TEXTS[i % len(TEXTS)], "First line\n\nThird line\n"][i % 4],
        "tags": [["Checkout", "checkout ", "North-Star"], [], ["MIXED case"]][i % 3] + [OWNER] * (i % 2),
        "query": posthog_query(i),
    }


def posthog_estate() -> dict[str, Any]:
    metrics = [posthog_metric(i) for i in range(160)]
    metrics += [{"name": f"Legacy {n}", "query": query} for n, query in enumerate(LEGACY)]
    newer = {"kind": "ExperimentMetric", "metric_type": "mean", "source": {"kind": "EventsNode", "event": "x", "math": "p90"}}
    metrics.append({"name": "Newer math", "query": newer})  # the sandbox knows more math than the schema
    actions = [{"id": 7, "name": "Signed up"}, {"id": 8, "name": "Paid"}, {"id": 9, "name": "Churned"}]
    return {"projects": {"12345": {"actions": actions, "saved_metrics": metrics}}}
# fmt: on


def _round_trip(
    project: Project, capsys: pytest.CaptureFixture[str], target: str
) -> tuple[str, Counter[str]]:
    """import, validate, plan: only adopt (replace for legacy objects), apply, plan: nothing."""
    code, out, err = project.cli("import", "--target", target, capsys=capsys)
    assert code == 0, err
    code, valid, _ = project.cli("validate", capsys=capsys)
    assert (code, valid.splitlines()[-1][:16]) == (0, "valid: 0 errors,"), valid
    code, _, err = project.cli("plan", "--detailed-exitcode", "--target", target, capsys=capsys)
    assert code == 2, err
    actions = Counter(c.action.value for c in project.plan().changes)
    code, applied, err = project.cli("apply", "--yes", capsys=capsys)  # remembers what it learns
    assert code == 0, applied + err
    code, final, _ = project.cli("plan", "--detailed-exitcode", capsys=capsys)
    assert code == 0, final
    return out, actions


def test_a_statsig_estate_imports_to_a_plan_of_adoptions_only(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    project.app.seed({"statsig": statsig_estate()})
    out, actions = _round_trip(project, capsys, "statsig-test")
    assert actions == {"adopt": 82}  # half of the 160 carry the marker already
    files = sorted(p.name for p in (project.root / "definitions" / "statsig").iterdir())
    assert (
        len(files) == 162
        and "checkout_conversion_000.yaml" in files
        and "renamed_in_the_console.yaml" in files
    )
    assert (
        "Imported from statsig-test (statsig) into definitions/statsig: 162 written, 7 skipped."
        in out
    )
    assert "  skipped 3: made by the platform itself\n" in out
    assert "    'Same name twice': id Same name twice::mean\n" in out
    assert (
        "    'abc': Statsig metric names are 4 to 200 characters; this one has 3 [/name]\n" in out
    )
    assert "    'Größe émoji 🚀': Statsig metric names may use letters" in out
    assert "Next: `metricsync plan --target statsig-test` shows 82 of them as adopt" in out


def test_a_posthog_project_imports_to_adoptions_and_legacy_replaces(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    project.app.seed({"posthog": posthog_estate()})
    out, actions = _round_trip(project, capsys, "posthog-test")
    # the two legacy query kinds are replaced; the early-2025 ExperimentMetric is updated in place
    assert actions == {"adopt": 80, "replace": 2, "update": 1}
    assert (
        "Imported from posthog-test (posthog) into definitions/posthog: 163 written, 1 skipped."
        in out
    )
    assert "    'Newer math': 'math' must be one of: \"total\", \"sum\"" in out
    text = (project.root / "definitions" / "posthog" / "legacy_0.yaml").read_text(encoding="utf-8")
    assert text.startswith(
        "# yaml-language-server: $schema=../../schemas/posthog/saved_metric.schema.json\n# The live object uses a legacy format"
    )


def test_the_written_files_read_like_a_person_wrote_them(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    metric = {
        "name": "Checkout: conversion (web)", "type": "ratio", "description": "Share of sessions\nthat purchase",
        "unitTypes": ["userID"], "tags": ["checkout"], "directionality": "increase", "isReadOnly": True,
        "metricEvents": [
            {"name": "purchase", "type": "count", "criteria": [{"type": "metadata", "column": "currency", "condition": "in", "values": ["USD", "0777"]}]},
            {"name": "checkout_start", "type": "count", "criteria": []},
        ],
    }  # fmt: skip
    project.app.seed({"statsig": {"metrics": [metric]}})
    assert project.cli("import", "--target", "statsig-test", capsys=capsys)[0] == 0
    text = (project.root / "definitions" / "statsig" / "checkout_conversion_web.yaml").read_text(
        encoding="utf-8"
    )
    assert text == (
        "# yaml-language-server: $schema=../../schemas/statsig/metric.schema.json\n"
        "kind: statsig/metric\n"
        "name: 'Checkout: conversion (web)'\n"
        "spec:\n"
        "  type: ratio\n"
        "  description: |-\n"
        "    Share of sessions\n"
        "    that purchase\n"
        "  unitTypes: [userID]\n"
        "  tags: [checkout]\n"
        "  isReadOnly: true\n"
        "  metricEvents:\n"
        "    - name: purchase\n"
        "      type: count\n"
        "      criteria:\n"
        "        - {type: metadata, column: currency, condition: in, values: [USD, '0777']}\n"
        "    - {name: checkout_start, type: count}\n"
    )


def simple_definition(name: str, lifecycle: str = "") -> str:
    spec = "{type: sum, unitTypes: [userID], metricEvents: [{name: buy, type: value}]}"
    return f"kind: statsig/metric\nname: {name}\nspec: {spec}\n{lifecycle}"


def test_objects_already_defined_are_skipped_and_files_never_overwritten(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    live = [{"name": n, **SIMPLE} for n in ("Defined one", "New one", "Old name")]
    project.app.seed({"statsig": {"metrics": live}})
    project.write("definitions/statsig/mine.yaml", simple_definition("Defined one"))
    renamed = simple_definition("Brand new", "lifecycle: {renamed_from: [Old name]}\n")
    project.write("definitions/statsig/renamed.yaml", renamed)
    project.write("definitions/statsig/new_one.yaml", simple_definition("Something else"))
    code, out, _ = project.cli("import", "--target", "statsig-test", capsys=capsys)
    assert code == 0
    assert "1 written, 2 skipped." in out and "  skipped 2: already defined\n" in out
    folder = project.root / "definitions" / "statsig"
    assert "name: New one\n" in (folder / "new_one_2.yaml").read_text()
    assert "name: Something else\n" in (folder / "new_one.yaml").read_text()


def test_an_import_outside_the_definitions_folders_needs_force_to_write_again(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    project.app.seed({"statsig": {"metrics": [{"name": "Checkout total", **SIMPLE}]}})
    first = project.cli("import", "--target", "statsig-test", "--out", "scratch", capsys=capsys)[1]
    assert (
        "note: scratch is not a definitions folder of statsig-test: its plan reads definitions/statsig"
        in first
    )
    path = project.root / "scratch" / "checkout_total.yaml"
    path.write_text(path.read_text() + "# edited\n")
    again = project.cli("import", "--target", "statsig-test", "--out", "scratch", capsys=capsys)[1]
    assert (
        "0 written, 1 skipped." in again and "    'Checkout total': checkout_total.yaml\n" in again
    )
    assert path.read_text().endswith("# edited\n")
    assert (
        project.cli(
            "import", "--target", "statsig-test", "--out", "scratch", "--force", capsys=capsys
        )[0]
        == 0
    )
    assert not path.read_text().endswith("# edited\n")


def test_kind_and_select_narrow_the_import(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    names = ("Checkout total", "Checkout count", "Revenue", "Signup rate")
    project.app.seed({"statsig": {"metrics": [{"name": n, **SIMPLE} for n in names]}})
    code, out, _ = project.cli(
        "import",
        "--target",
        "statsig-test",
        "--select",
        "Checkout*",
        "--select",
        "Sign?p rate",
        "--format",
        "json",
        capsys=capsys,
    )
    document = json.loads(out)
    assert document["format_version"] == 2
    [report] = document["targets"]
    assert code == 0 and sorted(w["file"] for w in report["written"]) == [
        "checkout_count.yaml",
        "checkout_total.yaml",
        "signup_rate.yaml",
    ]
    assert report["skipped"] == [
        {"name": "Revenue", "id": "Revenue::sum", "reason": "not_selected", "detail": ""}
    ]
    assert report["adopt"] == ["Checkout total", "Checkout count", "Signup rate"]
    code, _, err = project.cli(
        "import", "--target", "statsig-test", "--kind", "posthog/saved_metric", capsys=capsys
    )
    assert (
        code == 64
        and "--kind posthog/saved_metric is not a kind of target 'statsig-test': statsig/metric"
        in err
    )
    code, _, err = project.cli("import", "--target", "a", "--target", "b", capsys=capsys)
    assert code == 64 and "unknown target 'a' (targets: statsig-test, posthog-test)" in err
    code, _, err = project.cli(
        "import",
        "--target",
        "statsig-test",
        "--target",
        "posthog-test",
        "--out",
        "x",
        capsys=capsys,
    )
    assert code == 64 and "--out writes one target's objects, and 2 targets are imported" in err


def test_an_import_of_nothing_new_says_so(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    project.app.seed({"statsig": {"metrics": [{"name": "add_to_cart", "type": "event_count"}]}})
    code, out, _ = project.cli("import", "--target", "statsig-test", capsys=capsys)
    assert (code, out) == (
        0,
        "Imported from statsig-test (statsig) into definitions/statsig: 0 written, 1 skipped.\n  skipped 1: made by the platform itself\n  note: the files' schema modelines point at schemas/, which does not exist yet: `metricsync schema --out-dir schemas` writes it for editors\n",
    )


def test_choose_imports_the_first_of_same_named_posthog_objects_ignoring_case() -> None:
    raws = [{"id": 2, "name": "Dup", "query": {}}, {"id": 1, "name": "dup", "query": {}}]
    objects = [posthog_payload(raw, OWNER) for raw in raws]
    entries = choose(objects, [], ImportOptions(), lambda live: {})
    assert [(e.live.id, e.skip) for e in entries] == [("2", None), ("1", Skip.DUPLICATE)]


def test_progress_goes_to_stderr_for_large_imports(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    project.app.seed(
        {"statsig": {"metrics": [{"name": f"Bulk metric {i:04d}", **SIMPLE} for i in range(600)]}}
    )
    code, out, err = project.cli("import", "--target", "statsig-test", capsys=capsys)
    assert code == 0 and "600 written" in out
    assert (
        "Read 600 live objects from statsig-test (2 requests)\nWriting 600 definition files to definitions/statsig\n  60/600 written\n"
        in err
    )


def test_a_posthog_project_without_tagging_converges_too(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    metrics = [posthog_metric(i) for i in range(8)]
    project.app.seed({"posthog": {"settings": {"tagging": False}, "projects": {"12345": {
        "actions": [{"id": n, "name": f"Action {n}"} for n in (7, 8, 9)], "saved_metrics": metrics}}}})  # fmt: skip
    out, actions = _round_trip(project, capsys, "posthog-test")
    assert actions == {"adopt": 8} and "8 written, 0 skipped." in out


def test_a_posthog_description_ending_in_a_newline_converges(project: Project) -> None:
    """PostHog trims descriptions; a literal block (`|`) keeps its final newline (provider fix)."""
    project.write(
        "definitions/posthog/revenue.yaml",
        """\
        kind: posthog/saved_metric
        name: Revenue
        spec:
          description: |
            Purchase revenue
            per exposed user.
          query: {kind: ExperimentMetric, metric_type: mean, source: {kind: EventsNode, event: buy}}
        """,
    )
    project.apply()
    assert project.plan().changes == []


# Shaped like the vendor's own examples: the create response of the API notes, the list example's
# renamed composite and auto-generated metrics, and the Warehouse Native metric of the vendor's
# Terraform test, which keeps directionality, isReadOnly, isVerified and unitTypes at the top.
VENDOR_STATSIG = [
    {"id": "checkout_revenue::sum", "name": "checkout_revenue", "type": "sum",
     "directionality": "increase", "description": "Revenue from checkouts", "isPermanent": False,
     "isReadOnly": True, "isHidden": False, "isVerified": False, "tags": ["revenue"],
     "unitTypes": ["userID"], "metricEvents": [{"name": "purchase", "type": "value", "criteria": []}],
     "lineage": {"events": ["purchase"], "metrics": []}, "creatorName": "CONSOLE API",
     "creatorEmail": None, "createdTime": 1720218271796,
     "owner": {"name": "Jane Doe", "ownerID": "user123", "ownerType": "USER",
               "ownerName": "Jane Doe", "ownerEmail": "jane@example.com"}, "team": None},
    {"id": "___RENAME_FAILED___::composite_sum", "name": "rename_test_success",
     "type": "composite_sum", "unitTypes": ["userID"], "directionality": "decrease",
     "metricComponentMetrics": [{"name": "checkout_revenue", "type": "sum"},
                                {"name": "add_to_cart", "type": "event_count"}]},
    {"name": "add_to_cart", "type": "event_count"}, {"name": "add_to_cart", "type": "event_dau"},
    {"id": "orders_wn::user_warehouse", "name": "orders_wn", "type": "user_warehouse",
     "directionality": "decrease", "isReadOnly": True, "isVerified": True,
     "unitTypes": ["userID"], "description": "Warehouse Native",
     "warehouseNative": {"aggregation": "count", "metricSourceName": "orders",
                         "criteria": [{"type": "metadata", "column": "status",
                                       "condition": "=", "values": ["paid"]}]}},
]  # fmt: skip


def test_statsig_metrics_shaped_like_the_vendors_examples_import_to_adoptions_only(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    project.app.seed({"statsig": {"metrics": VENDOR_STATSIG}})
    _, actions = _round_trip(project, capsys, "statsig-test")
    assert actions == {"adopt": 3}  # the two generated event metrics are left alone
