"""Experiments that use a metric, on their own (usage.py): which changes need a lookup, and how
a lookup's answer lands on a change. The refusals over it are in tests/test_refusals.py."""

from __future__ import annotations

from typing import Any

import pytest

from metricsync.plan import Action, Change, FieldChange, Use
from metricsync.usage import Lookup, needs_lookup, running, with_usage

MEASURING = ("metricEvents", "type")
RUNNING = Use("e1", "Checkout test", "active", True)
DONE = Use("e2", "Old test", "stopped", False)


def change(action: Action, *paths: str, **given: Any) -> Change:
    fields = tuple(FieldChange(path, 1, 2) for path in paths)
    return Change(
        action, "statsig/metric", "Revenue", **{"live_id": "m1", "fields": fields, **given}
    )


@pytest.mark.parametrize("action", [Action.DELETE, Action.REPLACE])
def test_deletes_and_replaces_of_a_live_object_are_looked_up(action: Action) -> None:
    assert needs_lookup(change(action), MEASURING)


def test_an_update_is_looked_up_only_when_it_changes_what_the_object_measures() -> None:
    assert needs_lookup(change(Action.UPDATE, "metricEvents[0].name"), MEASURING)
    assert needs_lookup(change(Action.UPDATE, "type"), MEASURING)
    assert not needs_lookup(change(Action.UPDATE, "description", "tags"), MEASURING)
    assert not needs_lookup(change(Action.UPDATE, "typeDetail"), MEASURING)  # not a prefix match


def test_a_create_or_an_object_not_yet_live_is_never_looked_up() -> None:
    assert not needs_lookup(change(Action.CREATE, "type"), MEASURING)
    assert not needs_lookup(change(Action.DELETE, live_id=None), MEASURING)


def test_a_lookup_lands_on_the_change_as_its_users_or_as_unknown() -> None:
    lookup = Lookup(used_by={"m1": (RUNNING, DONE)}, unknown={"m2": "HTTP 500"})

    found = with_usage(change(Action.DELETE), lookup)
    unknown = with_usage(change(Action.DELETE, live_id="m2"), lookup)
    unused = with_usage(change(Action.DELETE, live_id="m3"), lookup)

    assert (found.used_by, found.usage_unknown) == ((RUNNING, DONE), None)
    assert (unknown.used_by, unknown.usage_unknown) == (None, "HTTP 500")
    assert (unused.used_by, unused.usage_unknown) == ((), None)
    assert running(found) == [RUNNING]
    assert running(change(Action.DELETE)) == []  # not looked up: nobody known to run it
