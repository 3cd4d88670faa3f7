"""Plan-time reference checks on their own (references.py): a reference must resolve to a
definition or a live object of the same target, and a delete something staying refers to is held
back, with the referrer and where it is written."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from metricsync.definitions import Definition, Lifecycle
from metricsync.diff import KindDiff, Reference
from metricsync.live import LiveObject
from metricsync.normalise import Normalisation
from metricsync.plan import Action, Change
from metricsync.references import Dangling, Held, ReferenceCheck, check_references

KIND = "test/metric"


def uses(spec: Mapping[str, Any]) -> Sequence[Reference]:
    return [Reference(name, ("uses", i)) for i, name in enumerate(spec.get("uses", []))]


VIEW = KindDiff(KIND, Normalisation(), casefold_names=False, depends=uses)
CASEFOLD = KindDiff(KIND, Normalisation(), casefold_names=True, depends=uses)


def defined(name: str, *used: str, line: int = 1, **lifecycle: Any) -> Definition:
    spec = {"uses": list(used)} if used else {}
    return Definition(KIND, name, spec, Lifecycle(**lifecycle), file="m.yaml", line=line)


def live(name: str, *used: str, kind: str = KIND) -> LiveObject:
    spec = {"uses": list(used)} if used else {}
    return LiveObject(kind, f"id-{name}", name, spec, owned=True)


def delete(name: str) -> Change:
    return Change(Action.DELETE, KIND, name, live_id=f"id-{name}")


def test_a_reference_to_a_definition_or_a_live_object_resolves() -> None:
    desired = [defined("total", "a", "b"), defined("a")]

    assert check_references(desired, [live("b")], [], VIEW) == ReferenceCheck()


def test_a_reference_to_nothing_is_dangling_and_names_where_it_is_written() -> None:
    total = defined("total", "a", "gone")

    found = check_references([total, defined("a")], [], [], VIEW)

    assert found == ReferenceCheck(dangling=(Dangling(total, Reference("gone", ("uses", 1))),))


def test_a_live_object_of_another_kind_does_not_resolve_a_reference() -> None:
    found = check_references([defined("total", "a")], [live("a", kind="other/kind")], [], VIEW)

    assert [d.reference.name for d in found.dangling] == ["a"]


def test_names_resolve_without_case_when_the_kind_compares_them_so() -> None:
    desired = [defined("total", "Revenue")]

    assert check_references(desired, [live("revenue")], [], CASEFOLD) == ReferenceCheck()
    assert len(check_references(desired, [live("revenue")], [], VIEW).dangling) == 1


def test_a_delete_a_definition_refers_to_is_held_with_its_file_and_line() -> None:
    desired = [defined("total", "a", line=4)]

    found = check_references(desired, [live("total", "a"), live("a")], [delete("a")], VIEW)

    assert found.held == (Held("a", "total", "m.yaml:4"),)


def test_a_delete_a_live_object_left_alone_refers_to_is_held() -> None:
    found = check_references([], [live("legacy", "a"), live("a")], [delete("a")], VIEW)

    assert found.held == (Held("a", "legacy", "live object id-legacy"),)


def test_a_live_referrer_that_is_changed_or_claimed_by_a_definition_holds_nothing() -> None:
    objects = [live("legacy", "a"), live("a")]
    rewritten = Change(Action.UPDATE, KIND, "legacy", live_id="id-legacy")

    changed = check_references([], objects, [delete("a"), rewritten], VIEW)
    renamed = check_references(
        [defined("modern", renamed_from=("legacy",))], objects, [delete("a")], VIEW
    )

    assert changed.held == () and renamed.held == ()


def test_deleting_the_referrer_with_what_it_refers_to_holds_nothing() -> None:
    objects = [live("total", "a"), live("a")]

    assert check_references([], objects, [delete("a"), delete("total")], VIEW).held == ()
