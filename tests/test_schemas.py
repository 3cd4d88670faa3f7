"""The JSON Schemas are well-formed, documented and self-contained, and the examples obey them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from jsonschema import Draft202012Validator

from metricsync.documents import load_file

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "schemas"  # the repository's copies: links to where each schema ships
KIND_SCHEMAS = {
    "statsig/metric": "statsig/metric.schema.json",
    "posthog/saved_metric": "posthog/saved_metric.schema.json",
    "userflux/query": "userflux/query.schema.json",
    "unleash/usage": "unleash/usage.schema.json",
}
ALL_SCHEMAS = ["config.schema.json", *KIND_SCHEMAS.values()]
EXAMPLES = sorted((ROOT / "definitions").rglob("*.yaml"))

_MAPS = ("properties", "patternProperties", "dependentSchemas", "$defs")
_SINGLE = (
    "items", "additionalProperties", "unevaluatedProperties", "unevaluatedItems",
    "propertyNames", "contains", "not", "if", "then", "else",
)  # fmt: skip
_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")


def schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    return loaded


def subschemas(node: Any, pointer: str = "") -> Iterator[tuple[str, Any]]:
    """Every subschema of `node`, walked by keyword: a property named `properties` is no keyword."""
    yield pointer, node
    if not isinstance(node, dict):
        return
    for keyword in _MAPS:
        for name, sub in node.get(keyword, {}).items():
            yield from subschemas(sub, f"{pointer}/{keyword}/{name}")
    for keyword in _SINGLE:
        if keyword in node:
            yield from subschemas(node[keyword], f"{pointer}/{keyword}")
    for keyword in _LISTS:
        for index, sub in enumerate(node.get(keyword, [])):
            yield from subschemas(sub, f"{pointer}/{keyword}/{index}")


def resolve(root: dict[str, Any], ref: str) -> Any:
    node: Any = root
    for part in ref.removeprefix("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def problems(schema_: dict[str, Any], document: Any) -> list[tuple[tuple[Any, ...], str]]:
    """(path, message) per error, showing a subschema's `errorMessage` as the validator does."""
    found = []
    for error in Draft202012Validator(schema_).iter_errors(document):
        own = error.schema.get("errorMessage") if isinstance(error.schema, dict) else None
        found.append((tuple(error.absolute_path), own or error.message))
    return sorted(found, key=str)


def rs_paths(schema_: dict[str, Any], document: Any) -> set[tuple[Any, ...]]:
    return {
        tuple(e.instance_path) for e in jsonschema_rs.validator_for(schema_).iter_errors(document)
    }


def example_documents() -> Iterator[Any]:
    for path in EXAMPLES:
        loaded = load_file(str(path.relative_to(ROOT)), path.read_bytes())
        assert loaded.problems == []
        for document in loaded.documents:
            yield pytest.param(document.data, id=f"{path.relative_to(ROOT)}#{document.index}")


def config_example() -> Any:
    path = ROOT / "metricsync.yaml"
    loaded = load_file("metricsync.yaml", path.read_bytes())
    assert loaded.problems == []
    [document] = loaded.documents
    return document.data


@pytest.mark.parametrize("name", ALL_SCHEMAS)
def test_schema_is_valid_draft_2020_12_and_compiles(name: str) -> None:
    loaded = schema(name)
    Draft202012Validator.check_schema(loaded)
    jsonschema_rs.validator_for(loaded)
    assert loaded["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert loaded["$id"] == f"https://metricsync.dev/schemas/{name}"
    assert loaded["title"] and loaded["description"]


@pytest.mark.parametrize("name", ALL_SCHEMAS)
def test_schema_is_self_contained(name: str) -> None:
    loaded = schema(name)
    refs = [sub["$ref"] for _, sub in subschemas(loaded) if isinstance(sub, dict) and "$ref" in sub]
    assert refs
    for ref in refs:
        assert ref.startswith("#/$defs/")
        resolve(loaded, ref)


@pytest.mark.parametrize("name", ALL_SCHEMAS)
def test_every_property_has_a_description(name: str) -> None:
    loaded = schema(name)
    missing = []
    for pointer, sub in subschemas(loaded):
        if not isinstance(sub, dict) or "/if/" in f"{pointer}/":
            continue  # an `if` is a condition (e.g. provider const), not a definition
        for prop, prop_schema in sub.get("properties", {}).items():
            if prop_schema is True:
                continue  # a bare name declaration (config.schema.json explains them in $comment)
            described = prop_schema
            if not prop_schema.get("description") and "$ref" in prop_schema:
                described = resolve(loaded, prop_schema["$ref"])
            if not str(described.get("description", "")).strip():
                missing.append(f"{pointer}/properties/{prop}")
    assert missing == []


@pytest.mark.parametrize("name", ALL_SCHEMAS)
def test_defaults_and_examples_obey_their_own_schema(name: str) -> None:
    validator = Draft202012Validator(schema(name))
    for pointer, sub in subschemas(validator.schema):
        if not isinstance(sub, dict):
            continue
        samples = ([sub["default"]] if "default" in sub else []) + sub.get("examples", [])
        for sample in samples:
            errors = list(validator.evolve(schema=sub).iter_errors(sample))
            assert errors == [], f"{pointer}: {sample!r}"


def test_envelope_is_identical_across_kinds() -> None:
    schemas = {kind: schema(name) for kind, name in KIND_SCHEMAS.items()}
    first = schemas["statsig/metric"]
    for kind, loaded in schemas.items():
        assert loaded["type"] == "object"
        assert loaded["required"] == ["kind", "name", "spec"]
        assert loaded["additionalProperties"] is False
        assert list(loaded["properties"]) == ["kind", "name", "spec", "lifecycle"]
        assert loaded["properties"]["kind"]["const"] == kind
        assert loaded["properties"]["spec"]["type"] == "object"
        for key in ("name", "lifecycle"):
            assert loaded["properties"][key] == first["properties"][key], (kind, key)
        assert loaded["$defs"]["lifecycle"] == first["$defs"]["lifecycle"], kind
        kind_text = loaded["properties"]["kind"]["description"].replace(kind, "KIND")
        assert kind_text == first["properties"]["kind"]["description"].replace(
            "statsig/metric", "KIND"
        )


def test_examples_cover_every_kind() -> None:
    kinds = {param.values[0]["kind"] for param in example_documents()}
    assert kinds == set(KIND_SCHEMAS)


@pytest.mark.parametrize("document", list(example_documents()))
def test_example_definition_is_valid(document: Any) -> None:
    loaded = schema(KIND_SCHEMAS[document["kind"]])
    assert problems(loaded, document) == []
    assert jsonschema_rs.validator_for(loaded, validate_formats=True).is_valid(document)


def test_example_modelines_point_at_the_schema_of_their_kind() -> None:
    for path in EXAMPLES:
        first_line = path.read_text(encoding="utf-8").splitlines()[0]
        prefix = "# yaml-language-server: $schema="
        assert first_line.startswith(prefix), path
        target = (path.parent / first_line.removeprefix(prefix)).resolve()
        kinds = {d.data["kind"] for d in load_file(str(path), path.read_bytes()).documents}
        assert {target} == {(SCHEMAS / KIND_SCHEMAS[kind]).resolve() for kind in kinds}, path


def test_unleash_counters_stay_string_keys_under_yaml_1_2() -> None:
    path = ROOT / "definitions" / "unleash" / "checkout_rollout_usage.yaml"
    [document] = load_file(str(path), path.read_bytes()).documents
    toggles = document.data["spec"]["bucket"]["toggles"]
    assert toggles["new-checkout"] == {"yes": 25, "no": 42, "variants": {"blue": 6, "green": 19}}
    assert document.data["spec"]["bucket"]["start"] == "2026-03-01T10:00:00Z"


def test_config_example_is_valid() -> None:
    config = config_example()
    loaded = schema("config.schema.json")
    assert problems(loaded, config) == []
    assert jsonschema_rs.validator_for(loaded, validate_formats=True).is_valid(config)
    assert set(config["targets"]) == {"statsig-prod", "posthog-us", "userflux", "unleash"}
    assert config["policy"] == {
        "prune": False,
        "owner_tag": "managed-by-metricsync",
        "max_deletes": 5,
        "max_changes_percent": 30,
    }


def test_literal_secret_is_rejected_without_echoing_it() -> None:
    config = config_example()
    config["targets"]["statsig-prod"]["api_key"] = "console-abc"
    loaded = schema("config.schema.json")
    assert problems(loaded, config) == [
        (
            ("targets", "statsig-prod", "api_key"),
            "secrets are references like env:NAME; never write a secret into this file",
        )
    ]
    assert rs_paths(loaded, config) == {("targets", "statsig-prod", "api_key")}


def test_unknown_target_key_is_rejected_per_provider() -> None:
    config = config_example()
    config["targets"]["statsig-prod"]["host"] = "https://us.posthog.com"  # a posthog key
    loaded = schema("config.schema.json")
    assert problems(loaded, config) == [
        (
            ("targets", "statsig-prod"),
            "Unevaluated properties are not allowed ('host' was unexpected)",
        )
    ]
    assert rs_paths(loaded, config) == {("targets", "statsig-prod")}


def test_target_declares_exactly_the_keys_of_each_provider() -> None:
    loaded = schema("config.schema.json")
    declared = {
        entry["if"]["properties"]["provider"]["const"]: set(entry["then"]["properties"])
        for entry in loaded["$defs"]["target"]["allOf"]
        if "properties" in entry.get("then", {})
    }
    providers = loaded["$defs"]["target"]["properties"]["provider"]["enum"]
    assert declared == {p: set(loaded["$defs"][p]["properties"]) for p in providers}


def test_target_without_provider_reports_only_the_provider() -> None:
    config = config_example()
    del config["targets"]["posthog-us"]["provider"]
    assert problems(schema("config.schema.json"), config) == [
        (("targets", "posthog-us"), "'provider' is a required property")
    ]


def statsig_metric(**spec: Any) -> dict[str, Any]:
    return {
        "kind": "statsig/metric",
        "name": "Revenue",
        "spec": {"type": "sum", "unitTypes": ["userID"], **spec},
    }


def test_statsig_server_managed_field_is_rejected() -> None:
    metric = statsig_metric(createdTime=1720218271796)
    loaded = schema("statsig/metric.schema.json")
    assert problems(loaded, metric) == [
        (("spec", "createdTime"), "`createdTime` is set by Statsig; remove it from spec")
    ]
    assert rs_paths(loaded, metric) == {("spec", "createdTime")}


def test_statsig_pre_2024_field_names_the_current_one() -> None:
    metric = statsig_metric(warehouseNative={"aggregation": "sum", "metadataColumns": ["x"]})
    assert problems(schema("statsig/metric.schema.json"), metric) == [
        (
            ("spec", "warehouseNative", "metadataColumns"),
            "`metadataColumns` is a pre-2024 Statsig field name; use `metricDimensionColumns` "
            "instead",
        )
    ]


def test_statsig_criteria_condition_uses_exact_literals() -> None:
    event = {"name": "purchase", "criteria": [{"type": "value", "condition": "eq"}]}
    found = problems(schema("statsig/metric.schema.json"), statsig_metric(metricEvents=[event]))
    assert [path for path, _ in found] == [("spec", "metricEvents", 0, "criteria", 0, "condition")]


def posthog_metric(**query: Any) -> dict[str, Any]:
    source = {"kind": "EventsNode", "event": "purchase"}
    mean = {"kind": "ExperimentMetric", "metric_type": "mean", "source": source}
    return {"kind": "posthog/saved_metric", "name": "Purchases", "spec": {"query": mean | query}}


def test_posthog_query_uuid_is_rejected() -> None:
    metric = posthog_metric(uuid="5b0c7f4e-0d0e-4e8e-9d0b-3b8f5f0a9c11")
    loaded = schema("posthog/saved_metric.schema.json")
    assert problems(loaded, metric) == [
        (("spec", "query", "uuid"), "`uuid` is set by PostHog; remove it from query")
    ]
    assert rs_paths(loaded, metric) == {("spec", "query", "uuid")}


def test_posthog_key_of_another_metric_type_is_rejected() -> None:
    metric = posthog_metric(series=[{"kind": "EventsNode", "event": "purchase"}])
    assert problems(schema("posthog/saved_metric.schema.json"), metric) == [
        (("spec", "query", "series"), "this key applies only when metric_type is funnel")
    ]


def test_posthog_node_keys_depend_on_node_kind() -> None:
    metric = posthog_metric(source={"kind": "ActionsNode", "id": 7, "event": "purchase"})
    assert problems(schema("posthog/saved_metric.schema.json"), metric) == [
        (
            ("spec", "query", "source"),
            "Additional properties are not allowed ('event' was unexpected)",
        )
    ]


def test_unknown_lifecycle_key_is_rejected() -> None:
    metric = statsig_metric() | {"lifecycle": {"protect": True, "prevent_destroy": True}}
    loaded = schema("statsig/metric.schema.json")
    assert problems(loaded, metric) == [
        (("lifecycle",), "Additional properties are not allowed ('prevent_destroy' was unexpected)")
    ]
    assert rs_paths(loaded, metric) == {("lifecycle",)}


def test_ignore_changes_entry_must_start_with_spec() -> None:
    metric = statsig_metric() | {"lifecycle": {"ignore_changes": ["spec.tags", "description"]}}
    loaded = schema("statsig/metric.schema.json")
    assert problems(loaded, metric) == [
        (
            ("lifecycle", "ignore_changes", 1),
            "ignore_changes entries are dotted paths inside spec, such as spec.description",
        )
    ]
    assert rs_paths(loaded, metric) == {("lifecycle", "ignore_changes", 1)}


def test_unleash_counts_and_timestamps_follow_the_server_rules() -> None:
    payload = {
        "kind": "unleash/usage",
        "name": "usage",
        "spec": {
            "appName": "metricsync",
            "bucket": {
                "start": 1690449593,  # seconds: Unleash would read it as January 1970
                "stop": "2026-03-01T11:00:00Z",
                "toggles": {"new-checkout": {"yes": 3, "no": 1.5}},
            },
        },
    }
    found = problems(schema("unleash/usage.schema.json"), payload)
    assert [path for path, _ in found] == [
        ("spec", "bucket", "start"),
        ("spec", "bucket", "toggles", "new-checkout", "no"),
    ]


def test_userflux_variable_names_are_placeholder_names() -> None:
    query = {
        "kind": "userflux/query",
        "name": "q",
        "spec": {"sql": "SELECT 1 LIMIT @{rowLimit}", "variables": {"row-limit": 1}},
    }
    assert problems(schema("userflux/query.schema.json"), query) == [
        (
            ("spec", "variables"),
            "variable names are letters, digits and _, not starting with a digit",
        )
    ]
