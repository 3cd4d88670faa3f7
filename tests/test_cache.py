"""The validation cache on its own: a result is served only for the same bytes and the same code,
rule results are kept per rule set, and a broken or foreign cache file is never an error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from metricsync.cache import RULE_SETS_KEPT, FileResult, ValidationCache
from metricsync.problems import Problem

SOURCE = b"kind: statsig/metric\nname: a\n"
KEY = "/project/definitions/a.yaml"


def stored(directory: Path, key: str = KEY, source: bytes = SOURCE) -> ValidationCache:
    cache = ValidationCache(directory)
    assert cache.lookup(key, "a.yaml", source) is None
    problem = Problem("a.yaml", 2, 7, "name must be snake_case", "/name", "warning")
    cache.store(key, source, FileResult([problem], [(0, 1, {"name": "a"})]))
    return cache


def test_a_stored_result_is_served_for_the_same_bytes_under_the_name_asked_for(
    tmp_path: Path,
) -> None:
    cache = stored(tmp_path)

    found = cache.lookup(KEY, "definitions/a.yaml", SOURCE)

    assert found is not None
    assert found.problems == [
        Problem("definitions/a.yaml", 2, 7, "name must be snake_case", "/name", "warning")
    ]
    assert found.valid == [(0, 1, {"name": "a"})]


def test_changed_bytes_are_validated_afresh(tmp_path: Path) -> None:
    cache = stored(tmp_path)

    assert cache.lookup(KEY, "a.yaml", SOURCE + b"# edited\n") is None


def test_a_saved_cache_answers_the_next_run(tmp_path: Path) -> None:
    source_file = tmp_path / "a.yaml"  # save prunes entries whose file is gone
    source_file.write_bytes(SOURCE)
    stored(tmp_path, str(source_file)).save()

    again = ValidationCache(tmp_path).lookup(str(source_file), "a.yaml", SOURCE)

    assert again is not None and again.valid == [(0, 1, {"name": "a"})]


def test_a_cache_written_by_other_code_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source_file = tmp_path / "a.yaml"
    source_file.write_bytes(SOURCE)
    stored(tmp_path, str(source_file)).save()
    monkeypatch.setattr("metricsync.cache.cache_key", lambda: "another version")

    assert ValidationCache(tmp_path).lookup(str(source_file), "a.yaml", SOURCE) is None


@pytest.mark.parametrize(
    "text",
    ["", "{", "[]", '{"key": 1}', "nan", '{"files": []}', "[" * 100_000],
    ids=["empty", "truncated", "list", "foreign-key", "nan", "files-not-object", "deep"],
)
def test_an_unreadable_cache_file_is_an_empty_cache(tmp_path: Path, text: str) -> None:
    (tmp_path / "validate.json").write_text(text)

    assert ValidationCache(tmp_path).lookup(KEY, "a.yaml", SOURCE) is None


def test_an_entry_edited_into_another_shape_is_validated_afresh(tmp_path: Path) -> None:
    source_file = tmp_path / "a.yaml"
    source_file.write_bytes(SOURCE)
    stored(tmp_path, str(source_file)).save()
    document = json.loads((tmp_path / "validate.json").read_text())
    document["files"][str(source_file)][1] = [["not", "a", "problem"]]
    (tmp_path / "validate.json").write_text(json.dumps(document))

    assert ValidationCache(tmp_path).lookup(str(source_file), "a.yaml", SOURCE) is None


@pytest.mark.parametrize(
    "problem",
    [
        ["x", 7, "message", "/name", "warning"],  # a line that is not a number
        [2, 7.5, "message", "/name", "warning"],  # a column that is not a whole number
        [2, 7, 3, "/name", "warning"],  # a message that is not text
        [2, 7, "message", "/name", "fatal"],  # a severity that does not exist
        [True, 7, "message", "/name", "warning"],  # bool is an int to isinstance, not here
    ],
    ids=["line", "column", "message", "severity", "bool-line"],
)
def test_a_stored_problem_edited_field_by_field_is_validated_afresh(
    tmp_path: Path, problem: list[object]
) -> None:
    source_file = tmp_path / "a.yaml"
    source_file.write_bytes(SOURCE)
    stored(tmp_path, str(source_file)).save()
    document = json.loads((tmp_path / "validate.json").read_text())
    document["files"][str(source_file)][1] = [problem]
    (tmp_path / "validate.json").write_text(json.dumps(document))

    assert ValidationCache(tmp_path).lookup(str(source_file), "a.yaml", SOURCE) is None


def test_rule_results_are_kept_per_rule_set_for_the_current_bytes_only(tmp_path: Path) -> None:
    cache = stored(tmp_path)
    cache.lookup(KEY, "a.yaml", SOURCE)
    found = [Problem("a.yaml", 1, 1, "tag 'x' is not allowed", "/tags/0")]
    cache.store_rule_problems(KEY, "rules-1", found)

    assert cache.rule_problems(KEY, "b.yaml", "rules-1") == [
        Problem("b.yaml", 1, 1, "tag 'x' is not allowed", "/tags/0")
    ]
    assert cache.rule_problems(KEY, "a.yaml", "rules-2") is None
    cache.lookup(KEY, "a.yaml", SOURCE + b"# edited\n")
    assert cache.rule_problems(KEY, "a.yaml", "rules-1") is None


def test_only_the_latest_rule_sets_are_kept(tmp_path: Path) -> None:
    cache = stored(tmp_path)
    cache.lookup(KEY, "a.yaml", SOURCE)
    fingerprints = [f"rules-{i}" for i in range(RULE_SETS_KEPT + 2)]
    for fingerprint in fingerprints:
        cache.store_rule_problems(KEY, fingerprint, [])

    kept = [f for f in fingerprints if cache.rule_problems(KEY, "a.yaml", f) is not None]

    assert kept == fingerprints[-RULE_SETS_KEPT:]


def test_entries_of_deleted_files_are_dropped_on_save(tmp_path: Path) -> None:
    kept, gone = tmp_path / "kept.yaml", tmp_path / "gone.yaml"
    kept.write_bytes(SOURCE)
    gone.write_bytes(SOURCE)
    cache = stored(tmp_path, str(kept))
    cache.store(str(gone), SOURCE, FileResult())
    cache.save()
    gone.unlink()

    ValidationCache(tmp_path).save()  # a run that looked at neither file

    files = json.loads((tmp_path / "validate.json").read_text())["files"]
    assert list(files) == [str(kept)]


def test_a_cache_that_cannot_be_written_is_gone_without(tmp_path: Path) -> None:
    (tmp_path / ".metricsync").write_text("not a folder")  # e.g. a read-only checkout

    stored(tmp_path / ".metricsync" / "cache").save()  # no error

    assert (tmp_path / ".metricsync").read_text() == "not a folder"
