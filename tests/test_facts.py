"""Facts learnt by earlier runs, on their own: .metricsync/state.json is read leniently (a
missing or broken file means nothing learnt yet) and merged into per target, never replaced."""

from __future__ import annotations

import json
from pathlib import Path

from metricsync import facts


def test_a_missing_file_means_nothing_learnt(tmp_path: Path) -> None:
    assert facts.load(tmp_path / ".metricsync") == {}


def test_a_broken_or_foreign_file_means_nothing_learnt(tmp_path: Path) -> None:
    (tmp_path / facts.FILE).write_text("{not json", encoding="utf-8")
    assert facts.load(tmp_path) == {}
    (tmp_path / facts.FILE).write_text("[1, 2]", encoding="utf-8")
    assert facts.load(tmp_path) == {}


def test_remembered_facts_merge_into_each_target(tmp_path: Path) -> None:
    state_dir = tmp_path / ".metricsync"
    facts.remember(state_dir, {"posthog-test": {"tags_ignored": True}})
    facts.remember(state_dir, {"statsig-test": {"learnt_create_only_fields": ["metricEvents"]}})
    facts.remember(state_dir, {"posthog-test": {"other": 1}})
    assert facts.load(state_dir) == {
        "posthog-test": {"tags_ignored": True, "other": 1},
        "statsig-test": {"learnt_create_only_fields": ["metricEvents"]},
    }
    assert json.loads((state_dir / "state.json").read_text(encoding="utf-8")) == facts.load(
        state_dir
    )


def test_nothing_learnt_writes_nothing(tmp_path: Path) -> None:
    facts.remember(tmp_path / ".metricsync", {})
    assert not (tmp_path / ".metricsync").exists()
