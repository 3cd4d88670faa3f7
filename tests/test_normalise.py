"""The normalisation rules on their own: each `Normalisation` field, the desired document and the
managed view, with exact results (a perpetual diff is fixed by one rule and a test here)."""

from __future__ import annotations

from typing import Any

from metricsync.normalise import Normalisation, desired_document, managed_view, normalise


def test_defaults_fill_absent_fields_only() -> None:
    normalisation = Normalisation(defaults={"unit": "count", "rollup": "sum"})

    assert normalise({"rollup": "mean"}, normalisation) == {"rollup": "mean", "unit": "count"}


def test_drop_removes_top_level_server_fields() -> None:
    normalisation = Normalisation(drop=("id", "createdAt"))

    assert normalise({"id": "m1", "createdAt": "2026", "type": "sum"}, normalisation) == {
        "type": "sum"
    }


def test_drop_removes_a_nested_path_and_the_empty_parent_it_leaves() -> None:
    normalisation = Normalisation(drop=("meta.version", "owner.id"))
    spec = {"meta": {"version": 3}, "owner": {"id": 7, "name": "ana"}}

    assert normalise(spec, normalisation) == {"owner": {"name": "ana"}}


def test_drop_with_a_star_removes_the_field_from_every_list_item() -> None:
    normalisation = Normalisation(drop=("events.*.id",))
    spec = {"events": [{"id": 1, "name": "buy"}, {"id": 2, "name": "view"}]}

    assert normalise(spec, normalisation) == {"events": [{"name": "buy"}, {"name": "view"}]}


def test_sets_compare_lists_in_any_order() -> None:
    normalisation = Normalisation(sets=("tags", "events.*.values"))
    spec = {"tags": ["b", "a"], "events": [{"values": [3, 1, 2]}]}

    assert normalise(spec, normalisation) == {"tags": ["a", "b"], "events": [{"values": [1, 2, 3]}]}


def test_lowercase_trims_lowercases_deduplicates_and_sorts_strings() -> None:
    normalisation = Normalisation(lowercase=("tags",))

    assert normalise({"tags": [" Team ", "growth", "team"]}, normalisation) == {
        "tags": ["growth", "team"]
    }


def test_listify_turns_one_string_into_a_list_and_leaves_lists_alone() -> None:
    normalisation = Normalisation(listify=("tags", "owners"))

    assert normalise({"tags": "growth", "owners": ["ana"]}, normalisation) == {
        "tags": ["growth"],
        "owners": ["ana"],
    }


def test_listify_happens_before_lowercase() -> None:
    normalisation = Normalisation(listify=("tags",), lowercase=("tags",))

    assert normalise({"tags": " Growth"}, normalisation) == {"tags": ["growth"]}


def test_rewrites_undo_a_platform_rewrite_and_empties_left_are_removed() -> None:
    def unwrap(value: dict[str, Any]) -> None:
        value["query"] = value.pop("wrapped", {}).get("query")

    normalisation = Normalisation(rewrites=(unwrap,))

    assert normalise({"wrapped": {"query": "q"}, "note": "x"}, normalisation) == {
        "query": "q",
        "note": "x",
    }
    assert normalise({"note": "x"}, normalisation) == {"note": "x"}


def test_blank_keeps_an_explicit_null_or_empty_text_as_empty_text() -> None:
    normalisation = Normalisation(blank=("description",))

    assert normalise({"description": None}, normalisation) == {"description": ""}
    assert normalise({"description": ""}, normalisation) == {"description": ""}
    assert normalise({"type": "sum"}, normalisation) == {"type": "sum"}


def test_empty_values_are_removed_at_every_depth() -> None:
    spec = {"a": None, "b": "", "c": [], "d": {}, "e": {"f": None, "g": 0, "h": False}}

    assert normalise(spec, Normalisation()) == {"e": {"g": 0, "h": False}}


def test_normalise_does_not_change_the_spec_it_is_given() -> None:
    spec = {"tags": ["b", "a"], "id": 1}

    normalise(spec, Normalisation(drop=("id",), sets=("tags",), defaults={"unit": "count"}))

    assert spec == {"tags": ["b", "a"], "id": 1}


def test_desired_document_is_the_definitions_fields_then_the_defaults() -> None:
    normalisation = Normalisation(defaults={"unit": "count", "type": "sum"})

    document = desired_document({"type": "mean", "name": "m"}, normalisation)

    assert document == {"type": "mean", "name": "m", "unit": "count"}
    assert list(document) == ["type", "name", "unit"]


def test_desired_document_never_overrides_a_set_value_with_a_default() -> None:
    normalisation = Normalisation(defaults={"unit": "count", "public": True})

    assert desired_document({"unit": "seconds", "public": False}, normalisation) == {
        "unit": "seconds",
        "public": False,
    }


def test_managed_view_keeps_the_definitions_fields_and_the_defaulted_fields() -> None:
    normalisation = Normalisation(defaults={"unit": "count"})
    desired = {"type": "sum", "unit": "count"}
    live = {"type": "mean", "unit": "seconds", "createdBy": "ui"}

    assert managed_view(desired, live, normalisation, ()) == (
        {"type": "sum", "unit": "count"},
        {"type": "mean", "unit": "seconds"},
    )


def test_managed_view_removes_ignore_changes_paths_from_both_sides() -> None:
    desired = {"type": "sum", "meta": {"owner": "ana", "team": "growth"}}
    live = {"type": "sum", "meta": {"owner": "bo", "team": "growth"}}

    assert managed_view(desired, live, Normalisation(), ("spec.meta.owner",)) == (
        {"type": "sum", "meta": {"team": "growth"}},
        {"type": "sum", "meta": {"team": "growth"}},
    )
