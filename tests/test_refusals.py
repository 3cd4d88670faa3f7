"""The planner's safety rules as pure functions (docs/config.md, policy): changes, policy and
overrides built by hand, and the exact refusal each rule gives, naming its rule and its override."""

from __future__ import annotations

from typing import Any

from metricsync.config import Policy
from metricsync.plan import Action, Change, ForeignTwin, Use
from metricsync.planner import (
    MIN_MANAGED_FOR_PERCENT,
    Overrides,
    foreign_refusal,
    held_refusal,
    refusals,
)
from metricsync.references import Held

KIND = "statsig/metric"
POLICY = Policy()  # max_deletes 5, max_changes_percent 30, protect_in_use
NONE = Overrides()


def change(action: Action, name: str, **fields: Any) -> Change:
    return Change(action, KIND, name, live_id=f"{name}::sum", **fields)


def judged(
    changes: list[Change],
    policy: Policy = POLICY,
    managed: int = 0,
    overrides: Overrides = NONE,
) -> list[str]:
    return list(refusals(tuple(changes), policy, managed, overrides))


def deletes(count: int) -> list[Change]:
    return [change(Action.DELETE, f"old_{i}") for i in range(count)]


def updates(count: int) -> list[Change]:
    return [change(Action.UPDATE, f"metric_{i}") for i in range(count)]


def test_no_changes_refuse_nothing() -> None:
    assert judged([], managed=100) == []


def test_foreign_twin_names_the_owner_and_the_adopt_flag() -> None:
    twin = ForeignTwin(KIND, "checkout", "checkout::sum", "managed-by-billing", "m.yaml:3")
    assert foreign_refusal(twin) == (
        "'checkout' (m.yaml:3) matches live object checkout::sum, which another repository "
        "owns (marker managed-by-billing); take it over with --adopt-from managed-by-billing"
    )


def test_foreign_twin_without_source_and_with_a_control_character_in_the_owner() -> None:
    twin = ForeignTwin(KIND, "checkout", "checkout::sum", "managed-by-x\nevil")
    assert foreign_refusal(twin) == (
        "'checkout' matches live object checkout::sum, which another repository "
        "owns (marker managed-by-x\\nevil); take it over with --adopt-from managed-by-x\\nevil"
    )


def test_held_delete_names_the_referrer() -> None:
    held = Held(deleted="clicks", referrer="ctr", where="m.yaml:9")
    assert held_refusal(held) == (
        "deleting 'clicks' is refused: 'ctr' (m.yaml:9), which stays, refers to it; "
        "remove that reference first, or keep the definition"
    )


def test_protected_replace_names_lifecycle_protect() -> None:
    replaced = change(Action.REPLACE, "revenue", protected=True, source="m.yaml:4")
    assert judged([replaced]) == [
        "protected object 'revenue' would be replaced "
        "(lifecycle.protect in m.yaml:4); remove protect to allow it"
    ]


def test_protected_update_and_unprotected_replace_are_allowed() -> None:
    assert judged([change(Action.UPDATE, "a", protected=True), change(Action.REPLACE, "b")]) == []


def test_deletes_at_the_limit_are_allowed() -> None:
    assert judged(deletes(5)) == []


def test_deletes_over_the_limit_name_max_deletes_and_the_flag() -> None:
    assert judged(deletes(6)) == ["deletes 6 > max_deletes 5 (lift with --allow-deletes 6)"]


def test_replaces_count_as_deletes() -> None:
    changes = [*deletes(1), change(Action.REPLACE, "r"), change(Action.CREATE, "c")]
    assert judged(changes, Policy(max_deletes=1)) == [
        "deletes 2 > max_deletes 1 (lift with --allow-deletes 2)"
    ]


def test_allow_deletes_replaces_the_policy_limit_for_one_run() -> None:
    assert judged(deletes(6), overrides=Overrides(allow_deletes=6)) == []
    assert judged(deletes(6), overrides=Overrides(allow_deletes=2)) == [
        "deletes 6 > max_deletes 2 (lift with --allow-deletes 6)"
    ]
    assert judged(deletes(1), overrides=Overrides(allow_deletes=0)) == [
        "deletes 1 > max_deletes 0 (lift with --allow-deletes 1)"
    ]


def test_changes_percent_over_the_limit_names_the_rule_and_the_flag() -> None:
    assert judged(updates(4), managed=10) == [
        "changes 40% of 10 managed objects > max_changes_percent 30 "
        "(lift with --allow-changes-percent 40)"
    ]


def test_changes_percent_is_rounded_to_one_decimal() -> None:
    assert judged(updates(1), Policy(max_changes_percent=5), managed=12) == [
        "changes 8.3% of 12 managed objects > max_changes_percent 5 "
        "(lift with --allow-changes-percent 8.3)"
    ]


def test_changes_percent_at_the_limit_is_allowed() -> None:
    assert judged(updates(3), managed=10) == []


def test_creates_and_adopts_do_not_count_toward_the_percentage() -> None:
    changes = [*(change(Action.CREATE, f"n{i}") for i in range(10)), change(Action.ADOPT, "a")]
    assert judged(changes, managed=10) == []


def test_changes_percent_needs_a_minimum_of_managed_objects() -> None:
    assert MIN_MANAGED_FOR_PERCENT == 10
    assert judged(updates(9), managed=9) == []
    assert judged(updates(9), managed=10) == [
        "changes 90% of 10 managed objects > max_changes_percent 30 "
        "(lift with --allow-changes-percent 90)"
    ]


def test_allow_changes_percent_replaces_the_policy_limit_for_one_run() -> None:
    assert judged(updates(4), managed=10, overrides=Overrides(allow_changes_percent=40)) == []
    assert judged(updates(4), managed=10, overrides=Overrides(allow_changes_percent=12.5)) == [
        "changes 40% of 10 managed objects > max_changes_percent 12.5 "
        "(lift with --allow-changes-percent 40)"
    ]


def test_in_use_delete_and_replace_name_the_experiments_and_allow_in_use() -> None:
    users = (Use("e1", "Checkout test", "active", True), Use("e2", "Old", "finished", False))
    changes = [
        change(Action.DELETE, "clicks", used_by=users),
        change(Action.REPLACE, "views", used_by=users[:1]),
        change(Action.DELETE, "idle", used_by=users[1:]),
        change(Action.UPDATE, "edited", used_by=users),
    ]
    assert judged(changes) == [
        "'clicks' is used by 1 running experiment(s): Checkout test; "
        "deleting it changes their results (lift it for one run with apply --allow-in-use)",
        "'views' is used by 1 running experiment(s): Checkout test; "
        "replacing it changes their results (lift it for one run with apply --allow-in-use)",
    ]


def test_unknown_usage_counts_as_in_use() -> None:
    unknown = change(Action.DELETE, "clicks", usage_unknown="HTTP 500 from\nserver")
    assert judged([unknown]) == [
        "the experiments using 'clicks' are unknown (HTTP 500 from\\nserver), "
        "so it counts as in use; not deleting it (lift it for one run with apply --allow-in-use)"
    ]


def test_in_use_is_lifted_by_allow_in_use_or_by_policy() -> None:
    used = [change(Action.DELETE, "clicks", usage_unknown="timeout")]
    assert judged(used, overrides=Overrides(allow_in_use=True)) == []
    assert judged(used, Policy(protect_in_use=False)) == []


def test_every_rule_that_fires_is_reported_in_order() -> None:
    changes = [
        change(Action.REPLACE, "revenue", protected=True, source="m.yaml:4", usage_unknown="x"),
        *deletes(1),
    ]
    assert judged(changes, Policy(max_deletes=1, max_changes_percent=10), managed=10) == [
        "the experiments using 'revenue' are unknown (x), "
        "so it counts as in use; not replacing it (lift it for one run with apply --allow-in-use)",
        "protected object 'revenue' would be replaced "
        "(lifecycle.protect in m.yaml:4); remove protect to allow it",
        "deletes 2 > max_deletes 1 (lift with --allow-deletes 2)",
        "changes 20% of 10 managed objects > max_changes_percent 10 "
        "(lift with --allow-changes-percent 20)",
    ]
