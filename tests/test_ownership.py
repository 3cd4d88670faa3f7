"""Whose a live object is, on its own (ownership.py): another repository's tag is a claim, our
own marker and unrelated tags are not, and a claim's spec is the object without that tag."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from metricsync.ownership import Claim, first_claim, tag_owner

OURS = "managed-by-metricsync"
PREFIX = "managed-by-"


def test_another_repositorys_tag_is_a_claim_and_the_spec_keeps_the_other_tags() -> None:
    claim = tag_owner(OURS, PREFIX)({"tags": ["growth", "managed-by-payments", OURS], "x": 1})

    assert claim == Claim("managed-by-payments", {"tags": ["growth", OURS], "x": 1})


def test_our_own_marker_and_unrelated_tags_claim_nothing() -> None:
    claim = tag_owner(OURS, PREFIX)

    assert claim({"tags": [OURS, "growth"]}) is None
    assert claim({"tags": []}) is None
    assert claim({}) is None


def test_an_empty_prefix_turns_foreign_ownership_off() -> None:
    assert tag_owner(OURS, "")({"tags": ["managed-by-payments"]}) is None


def test_one_tag_written_as_text_is_read_as_a_list() -> None:
    claim = tag_owner(OURS, PREFIX)({"tags": "managed-by-payments"})

    assert claim == Claim("managed-by-payments", {"tags": []})


def test_a_tag_that_is_not_text_is_never_a_marker() -> None:
    assert tag_owner(OURS, PREFIX)({"tags": [7, None, {"a": 1}]}) is None


def test_casefold_compares_the_prefix_lower_cased_as_the_platform_keeps_tags() -> None:
    spec = {"tags": ["managed-by-payments"]}

    assert tag_owner(OURS, "Managed-By-")(spec) is None
    assert tag_owner(OURS, "Managed-By-", casefold=True)(spec) == Claim(
        "managed-by-payments", {"tags": []}
    )


def test_first_claim_takes_the_first_way_that_finds_an_owner() -> None:
    def by_field(spec: Mapping[str, Any]) -> Claim | None:
        owner = spec.get("owner")
        return Claim(owner, {k: v for k, v in spec.items() if k != "owner"}) if owner else None

    claim = first_claim(by_field, tag_owner(OURS, PREFIX))

    assert claim({"owner": "team-a", "tags": ["managed-by-b"]}) == Claim(
        "team-a", {"tags": ["managed-by-b"]}
    )
    assert claim({"tags": ["managed-by-b"]}) == Claim("managed-by-b", {"tags": []})
    assert claim({"tags": ["growth"]}) is None
