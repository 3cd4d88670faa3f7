"""The pure diff on hand-built values: definitions and live objects in, ordered changes out,
with no provider, sandbox or HTTP involved."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from metricsync.definitions import Definition, Lifecycle
from metricsync.diff import KindDiff, Reference, diff, explain, untaken
from metricsync.live import LiveObject
from metricsync.normalise import Normalisation
from metricsync.plan import ABSENT, Action, Change, FieldChange, Lookalike

KIND = "test/metric"
NO_LIFECYCLE = Lifecycle()
NORMALISATION = Normalisation(defaults={"unit": "count"}, drop=("id",), sets=("tags",))


def definition(
    name: str, spec: Mapping[str, Any], lifecycle: Lifecycle = NO_LIFECYCLE
) -> Definition:
    return Definition(KIND, name, spec, lifecycle, file="metrics.yaml", line=3)


def live(
    name: str,
    spec: Mapping[str, Any],
    *,
    owned: bool = True,
    live_id: str | None = None,
    generated: bool = False,
) -> LiveObject:
    return LiveObject(KIND, live_id or f"id-{name}", name, spec, owned, generated=generated)


def kind(**settings: Any) -> KindDiff:
    return KindDiff(KIND, NORMALISATION, **{"casefold_names": False, **settings})


def components(spec: Mapping[str, Any]) -> Sequence[Reference]:
    return [Reference(name) for name in spec.get("components", [])]


def test_a_definition_with_no_live_twin_is_created_with_its_desired_document() -> None:
    result = diff([definition("Revenue", {"type": "sum"})], [], kind())

    assert result.changes == (
        Change(
            Action.CREATE,
            KIND,
            "Revenue",
            fields=(FieldChange("type", ABSENT, "sum"), FieldChange("unit", ABSENT, "count")),
            source="metrics.yaml:3",
        ),
    )
    assert (result.lookalikes, result.orphans, result.foreign) == ((), (), ())


def test_a_changed_field_is_an_update_naming_the_field_before_and_after() -> None:
    obj = live("Revenue", {"type": "sum", "unit": "count", "value": 1})

    result = diff([definition("Revenue", {"type": "sum", "value": 2})], [obj], kind())

    assert result.changes == (
        Change(
            Action.UPDATE,
            KIND,
            "Revenue",
            live_id="id-Revenue",
            fields=(FieldChange("value", 1, 2),),
            fingerprint=obj.fingerprint,
            source="metrics.yaml:3",
        ),
    )


def test_specs_equal_after_normalisation_make_no_change() -> None:
    obj = live("Revenue", {"id": 9, "type": "sum", "unit": "count", "tags": ["b", "a"], "x": 1})

    result = diff([definition("Revenue", {"type": "sum", "tags": ["a", "b"]})], [obj], kind())

    assert result.changes == ()


def test_ignore_changes_hides_a_live_difference_in_that_field() -> None:
    obj = live("Revenue", {"type": "sum", "unit": "count", "note": "edited in UI"})
    wanted = definition(
        "Revenue", {"type": "sum", "note": "x"}, Lifecycle(ignore_changes=("spec.note",))
    )

    assert diff([wanted], [obj], kind()).changes == ()


def test_renamed_from_matches_the_old_name_and_plans_a_rename() -> None:
    obj = live("Old revenue", {"type": "sum", "unit": "count"})
    wanted = definition("Revenue", {"type": "sum"}, Lifecycle(renamed_from=("Old revenue",)))

    [change] = diff([wanted], [obj], kind()).changes

    assert (change.action, change.name, change.previous_name, change.live_id, change.fields) == (
        Action.UPDATE,
        "Revenue",
        "Old revenue",
        "id-Old revenue",
        (),
    )


def test_a_change_to_a_replace_field_is_a_replace() -> None:
    obj = live("Revenue", {"type": "sum", "unit": "count"})

    [change] = diff(
        [definition("Revenue", {"type": "mean"})], [obj], kind(replace_fields=("type",))
    ).changes

    assert (change.action, change.fields) == (Action.REPLACE, (FieldChange("type", "sum", "mean"),))


def test_a_change_to_a_create_only_field_is_a_replace() -> None:
    obj = live("Revenue", {"type": "sum", "unit": "count"})

    [change] = diff(
        [definition("Revenue", {"type": "sum", "unit": "ms"})], [obj], kind(create_only=("unit",))
    ).changes

    assert (change.action, change.fields) == (Action.REPLACE, (FieldChange("unit", "count", "ms"),))


def test_an_unowned_twin_in_sync_is_adopted() -> None:
    obj = live("Revenue", {"type": "sum", "unit": "count"}, owned=False)

    [change] = diff([definition("Revenue", {"type": "sum"})], [obj], kind()).changes

    assert (change.action, change.adopt, change.fields) == (Action.ADOPT, True, ())


def test_an_unowned_twin_that_differs_is_updated_and_adopted() -> None:
    obj = live("Revenue", {"type": "sum", "unit": "count"}, owned=False)

    [change] = diff([definition("Revenue", {"type": "mean"})], [obj], kind()).changes

    assert (change.action, change.adopt) == (Action.UPDATE, True)


def test_prune_deletes_owned_unclaimed_objects_only() -> None:
    objects = [live("Gone", {}), live("Theirs", {}, owned=False)]

    result = diff([], objects, kind(prune=True))

    assert result.changes == (
        Change(Action.DELETE, KIND, "Gone", live_id="id-Gone", fingerprint=objects[0].fingerprint),
    )
    assert result.orphans == ()


def test_without_prune_owned_unclaimed_objects_are_listed_as_orphans_not_deleted() -> None:
    objects = [live("Gone", {}), live("Theirs", {}, owned=False)]

    result = diff([], objects, kind())

    assert (result.changes, result.orphans) == ((), ("Gone",))


def test_generated_objects_are_never_matched_nor_deleted() -> None:
    made = live("Revenue", {"type": "sum", "unit": "count"}, generated=True)

    result = diff([definition("Revenue", {"type": "sum"})], [made], kind(prune=True))

    assert [(c.action, c.live_id) for c in result.changes] == [(Action.CREATE, None)]
    assert result.orphans == ()


def test_casefold_names_match_a_twin_whose_name_differs_only_in_case() -> None:
    obj = live("revenue", {"type": "sum", "unit": "count"})
    wanted = [definition("Revenue", {"type": "sum"})]

    [change] = diff(wanted, [obj], kind(casefold_names=True)).changes
    exact = diff(wanted, [obj], kind())

    assert (change.action, change.previous_name, change.live_id) == (
        Action.UPDATE,
        "revenue",
        "id-revenue",
    )
    assert ([c.action for c in exact.changes], exact.orphans) == ([Action.CREATE], ("revenue",))


def test_dependants_come_after_their_dependencies_and_deletes_come_last() -> None:
    wanted = [
        definition("Composite", {"components": ["Part"]}),
        definition("Part", {"type": "sum"}),
    ]
    orphans = [live("A old", {}), live("B old", {})]

    result = diff(wanted, orphans, kind(prune=True, depends=components))

    assert [(c.action, c.name, c.depends_on) for c in result.changes] == [
        (Action.CREATE, "Part", ()),
        (Action.CREATE, "Composite", (f"{KIND}:Part",)),
        (Action.DELETE, "B old", ()),
        (Action.DELETE, "A old", ()),
    ]


def test_an_unmanaged_object_resembling_a_created_name_is_a_lookalike() -> None:
    objects = [live("checkout_revenue", {}, owned=False), live("Signups", {}, owned=False)]

    result = diff([definition("Checkout Revenue", {"type": "sum"})], objects, kind())

    assert result.lookalikes == (
        Lookalike("checkout_revenue", "id-checkout_revenue", "Checkout Revenue"),
    )


def test_explain_names_nested_paths_with_list_indexes() -> None:
    before = {"a": {"b": [{"c": 1}, {"c": 2}]}, "gone": 1}
    after = {"a": {"b": [{"c": 1}, {"c": 3}]}, "new": 2}

    assert list(explain(before, after)) == [
        FieldChange("a.b[1].c", 2, 3),
        FieldChange("gone", 1, ABSENT),
        FieldChange("new", ABSENT, 2),
    ]


def test_explain_reports_lists_of_different_length_whole() -> None:
    assert list(explain({"tags": ["a"]}, {"tags": ["a", "b"]})) == [
        FieldChange("tags", ["a"], ["a", "b"]),
    ]


def test_untaken_lists_what_the_answered_object_still_lacks() -> None:
    answered = live("Old", {"type": "sum", "unit": "count", "value": 1}, owned=False)

    assert untaken(definition("New", {"type": "sum", "value": 2}), answered, kind()) == (
        FieldChange("name", "Old", "New"),
        FieldChange("value", 1, 2),
        FieldChange("ownership marker", ABSENT, "present"),
    )


def test_untaken_is_empty_when_the_write_took_everything() -> None:
    answered = live("Revenue", {"id": 4, "type": "sum", "unit": "count"})

    assert untaken(definition("Revenue", {"type": "sum"}), answered, kind()) == ()
