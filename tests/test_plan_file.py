"""The plan file: a saved plan reads back as the plan it was, and one whose touched objects moved
since review is stale. A saved plan that is not one (any shape, any content) is refused as invalid
input (exit 3), naming the file and what is wrong, before anything is read or sent."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from metricsync.cli.main import run
from metricsync.plan import Action, Change, FieldChange, Plan, TargetPlan
from metricsync.plan_file import FORMAT_VERSION, changed_since_review, read, save

CHANGE = {"action": "create", "kind": "statsig/metric", "name": "Revenue", "id": None,
          "fingerprint": None, "fields": [{"path": "type", "after": "sum"}]}  # fmt: skip
PLAN = {"format_version": FORMAT_VERSION, "digest": "abc", "created": "2026-01-01T00:00:00Z",
        "targets": [{"target": "statsig-prod", "changes": [CHANGE]}]}  # fmt: skip


def _broken(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    document = copy.deepcopy(PLAN)
    holder: Any = document
    for step in path[:-1]:
        holder = holder[step]
    if value is KeyError:
        del holder[path[-1]]
    else:
        holder[path[-1]] = value
    return document


CHANGE_AT = ("targets", 0, "changes", 0)
CASES = {
    "digest missing": (_broken(("digest",), KeyError), "/digest must be text"),
    "targets not a list": (_broken(("targets",), {"a": 1}), "/targets must be a list"),
    "target not an object": (_broken(("targets", 0), "x"), "/targets/0 must be an object"),
    "target name missing": (
        _broken(("targets", 0, "target"), KeyError),
        "/targets/0/target must be text",
    ),
    "changes null": (_broken(("targets", 0, "changes"), None), "/targets/0/changes must be a list"),
    "change a number": (_broken(CHANGE_AT, 7), "/targets/0/changes/0 must be an object"),
    "name a list": (_broken((*CHANGE_AT, "name"), ["x"]), "/targets/0/changes/0/name must be text"),
    "fingerprint missing": (
        _broken((*CHANGE_AT, "fingerprint"), KeyError),
        "/targets/0/changes/0/fingerprint must be text or null",
    ),
    "fields of text": (
        _broken((*CHANGE_AT, "fields"), ["type"]),
        "/targets/0/changes/0/fields/0 must be an object with a text path",
    ),
    "adopt_from a list": (
        _broken((*CHANGE_AT, "adopt_from"), ["x"]),
        "/targets/0/changes/0/adopt_from must be text or null",
    ),
}


def _apply(tmp_path: Path, content: str | bytes, capsys: pytest.CaptureFixture[str]) -> str:
    plan = tmp_path / "plan.json"
    if isinstance(content, bytes):
        plan.write_bytes(content)
    else:
        plan.write_text(content)
    code = run(["apply", str(plan), "--config", str(tmp_path / "metricsync.yaml")])
    captured = capsys.readouterr()
    assert code == 3, captured.err
    return captured.err.removeprefix(f"Error: {plan} ")


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_a_saved_plan_of_the_wrong_shape_names_what_is_wrong(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    document, wrong = CASES[case]
    assert _apply(tmp_path, json.dumps(document), capsys) == (
        f"is not a metricsync plan: {wrong}\n"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[" * 100_000 + "]" * 100_000, "is not a metricsync plan: nested too deeply\n"),
        ('{"format_version": NaN}', "is not a metricsync plan: NaN is not a JSON number\n"),
        (b"\xff\xfe{}", "is not a metricsync plan: "),
        ("targets: []\n", "is not a metricsync plan: Expecting value: line 1 column 1 (char 0)\n"),
        ("[]", f"is not a metricsync plan of format_version {FORMAT_VERSION} (found None)\n"),
    ],
)
def test_a_saved_plan_that_is_not_json_is_invalid_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | bytes, message: str
) -> None:
    assert _apply(tmp_path, content, capsys).startswith(message)


def test_a_folder_given_as_the_saved_plan_is_invalid_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "plans"
    folder.mkdir()
    assert run(["apply", str(folder)]) == 3
    assert (
        capsys.readouterr().err == f"Error: cannot read the saved plan {folder}: Is a directory\n"
    )


def _plan(description_live: str | None, fingerprint: str | None) -> Plan:
    fields = (FieldChange("description", description_live, "Reviewed text"),)
    change = Change(Action.UPDATE, "statsig/metric", "Revenue", "m1", fields=fields,
                    fingerprint=fingerprint)  # fmt: skip
    return Plan((TargetPlan("statsig-prod", "statsig", (change,)),), "abc", "2026-01-01")


def test_a_saved_plan_reads_back_as_the_plan_it_was(tmp_path: Path) -> None:
    plan = _plan("Old text", "f1")
    save(plan, tmp_path / "plans" / "plan.json")
    saved = read(tmp_path / "plans" / "plan.json")
    assert (saved.digest, saved.targets) == ("abc", ("statsig-prod",))
    assert saved.touches("statsig-prod", plan.changes[0])
    assert not saved.touches("posthog-prod", plan.changes[0])
    assert changed_since_review(saved, plan) == []


def test_a_live_field_moved_since_review_makes_the_saved_plan_stale(tmp_path: Path) -> None:
    save(_plan("Old text", "f1"), tmp_path / "plan.json")
    fresh = _plan("Edited in the console", "f2")
    assert changed_since_review(read(tmp_path / "plan.json"), fresh) == [
        "statsig-prod: statsig/metric:Revenue: reviewed update (description; live object f1); "
        "now update (description; live object f2)",
        '    description: live "Old text" when reviewed, now "Edited in the console"',
    ]


def test_a_saved_plan_of_other_definitions_is_stale_though_its_changes_are_the_same(
    tmp_path: Path,
) -> None:
    save(_plan("Old text", "f1"), tmp_path / "plan.json")
    fresh = _plan("Old text", "f1")
    edited = Plan(fresh.targets, "def", fresh.created)  # the config or a definition was edited
    assert changed_since_review(read(tmp_path / "plan.json"), edited) == [
        "the config or definitions changed since the plan was made"
    ]
