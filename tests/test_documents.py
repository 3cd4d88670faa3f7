"""The YAML loader: YAML 1.2 scalars, JSON-shaped values, every document of a file, and problems
(syntax, duplicate keys, tags) placed at the line and column a user looks at."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from metricsync.documents import NON_FINITE, Locator, load_file, locate, non_finite

ROOT = Path(__file__).resolve().parents[1]


def data(text: str) -> Any:
    loaded = load_file("f.yaml", text.encode())
    assert [str(p) for p in loaded.problems] == []
    [document] = loaded.documents
    return document.data


def problems(text: str | bytes) -> list[str]:
    source = text.encode() if isinstance(text, str) else text
    return [str(p) for p in load_file("f.yaml", source).problems]


def test_only_true_and_false_are_booleans() -> None:
    loaded = data("a: [yes, no, on, off, NO, Yes, y, n, true, True, FALSE, false]")
    assert loaded == {
        "a": ["yes", "no", "on", "off", "NO", "Yes", "y", "n", True, True, False, False]
    }


def test_unleash_yes_and_no_keys_work_unquoted() -> None:
    loaded = data("toggles:\n  new-checkout:\n    yes: 25\n    no: 42\n    on: 1\n")
    assert loaded == {"toggles": {"new-checkout": {"yes": 25, "no": 42, "on": 1}}}


def test_keys_are_text_as_in_json() -> None:
    assert data("1: a\ntrue: b\nnull: c\n0.5: d\n") == {
        "1": "a",
        "true": "b",
        "null": "c",
        "0.5": "d",
    }


def test_timestamps_stay_strings() -> None:
    loaded = data("start: 2026-03-01T10:00:00Z\nday: 2026-03-01\nspaced: 2026-03-01 10:00:00\n")
    assert loaded == {
        "start": "2026-03-01T10:00:00Z",
        "day": "2026-03-01",
        "spaced": "2026-03-01 10:00:00",
    }


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0777", 777),  # no implicit octal in YAML 1.2
        ("0o17", 15),
        ("0x1F", 31),
        ("-12", -12),
        ("+3", 3),
        ("1_000", "1_000"),
        ("12:30", "12:30"),  # no sexagesimal numbers either
        ("1e3", 1000.0),
        ("-2.5", -2.5),
        (".5", 0.5),
        ("'3.0'", "3.0"),
        ('"12"', "12"),
        ("~", None),
        ("null", None),
        ("", None),
        ("nothing", "nothing"),
    ],
)
def test_scalars_follow_the_yaml_1_2_core_schema(text: str, value: Any) -> None:
    loaded = data(f"v: {text}\n")
    assert loaded == {"v": value}
    assert type(loaded["v"]) is type(value)


def test_infinity_and_nan() -> None:
    loaded = data("v: [.inf, -.inf, .NaN]")["v"]
    assert loaded[:2] == [float("inf"), float("-inf")]
    assert loaded[2] != loaded[2]


def test_nan_and_infinity_are_found_with_their_paths() -> None:
    loaded = load_file("f.yaml", b"a: 1\n---\nv: [1, {w: .nan}]\nx: !!float -.inf\n")
    assert (loaded.non_finite, loaded.problems) == (True, [])
    found = [list(non_finite(d.data)) for d in loaded.documents]
    assert found == [
        [],
        [(("v", 1, "w"), NON_FINITE.format(value=".nan")),
         (("x",), NON_FINITE.format(value="-.inf"))],
    ]  # fmt: skip
    assert not load_file("f.yaml", b"v: [1.5, '.nan', inf]").non_finite


@pytest.mark.parametrize(
    "text",
    [
        "9" * 5000,
        "-" + "1" * 4301,
        "0x" + "f" * 4000,
        "0o" + "7" * 5000,
        '!!int "' + "9" * 5000 + '"',
    ],
)
def test_an_integer_too_long_to_print_is_a_problem_not_a_crash(text: str) -> None:
    assert problems(f"a: 1\nv: {text}\n") == [
        "f.yaml:2:4: this integer is too long (over 4,000 digits); no platform can hold it "
        "(quote it for text)"
    ]


def test_explicit_json_tags_are_honoured() -> None:
    assert data('v: [!!str 10, !!int "5", !!float 1, !!bool "true", !!null ""]') == {
        "v": ["10", 5, 1.0, True, None]
    }


def test_tags_beyond_json_are_refused_where_they_stand() -> None:
    assert problems("a: !!binary aGk=\nb: !!int many\nc: !!set {x}\n") == [
        "f.yaml:1:4: unsupported YAML tag !!binary: definitions hold only text, numbers, "
        "true/false, null, lists and mappings",
        "f.yaml:2:4: 'many' is not a valid !!int",
        "f.yaml:3:4: unsupported YAML tag !!set: definitions hold only text, numbers, "
        "true/false, null, lists and mappings",
    ]


def test_values_match_libyaml_safe_loader_on_the_examples() -> None:
    for path in sorted((ROOT / "definitions").glob("[sp]*/*.yaml")):  # no timestamps there
        source = path.read_bytes()
        expected = list(yaml.load_all(source, Loader=yaml.CSafeLoader))
        assert [d.data for d in load_file(path.name, source).documents] == expected


def test_every_document_of_a_file_with_its_index_and_line() -> None:
    loaded = load_file("f.yaml", b"# head\nkind: a\n---\n---\n# only a comment\nkind: b\n...\n")
    assert [(d.index, d.line, d.data) for d in loaded.documents] == [
        (0, 2, {"kind": "a"}),
        (1, 4, None),
        (2, 6, {"kind": "b"}),
    ]


def test_an_empty_file_has_no_documents() -> None:
    assert load_file("f.yaml", b"").documents == []
    assert load_file("f.yaml", b"# nothing yet\n").documents == []


def test_duplicate_keys_are_reported_at_the_repeat() -> None:
    text = "name: a\nspec:\n  type: sum\n  tags: [x]\n  type: ratio\nname: b\n"
    assert problems(text) == [
        "f.yaml:5:3: duplicate key 'type': already set on line 3",
        "f.yaml:6:1: duplicate key 'name': already set on line 1",
    ]


def test_syntax_errors_are_located_and_explained() -> None:
    assert problems("a: [1, 2\nb: 3\n") == [
        "f.yaml:2:2: invalid YAML: did not find expected ',' or ']', "
        "while parsing a flow sequence that starts at line 1, column 4"
    ]
    assert problems('a: "open\n') == [
        "f.yaml:2:1: invalid YAML: found unexpected end of stream, "
        "while scanning a quoted scalar that starts at line 1, column 4"
    ]
    assert problems("a: b: c\n") == [
        "f.yaml:1:5: invalid YAML: mapping values are not allowed in this context "
        "(quote a value that contains ': ')"
    ]


def test_a_tab_indent_is_named_as_such() -> None:
    assert problems("a:\n\tb: 1\n") == [
        "f.yaml:2:1: invalid YAML: a tab character; YAML indents with spaces only"
    ]


def test_documents_before_a_syntax_error_are_kept() -> None:
    loaded = load_file("f.yaml", b"a: 1\n---\nb: [\n")
    assert [d.data for d in loaded.documents] == [{"a": 1}]
    assert len(loaded.problems) == 1


def test_bytes_that_are_not_utf8_are_placed_by_line_and_column() -> None:
    assert problems(b"a: 1\nb: caf\xff\n") == [
        "f.yaml:2:7: the file is not UTF-8 text (invalid leading UTF-8 octet)"
    ]
    assert problems(b"a: 1\nb: bell\x07\n") == [
        "f.yaml:2:8: the file holds a character YAML does not allow #x0007 "
        "(control characters are not allowed)"
    ]


def test_aliases_share_values_and_cannot_recurse_or_explode() -> None:
    assert data("a: &x [1, 2]\nb: *x\n") == {"a": [1, 2], "b": [1, 2]}
    assert problems("a: &x [*x]\n") == ["f.yaml:1:4: invalid YAML: an alias refers to itself"]
    laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(5)
    )
    assert problems(laughs) == [
        "f.yaml:1:1: invalid YAML: aliases expand this document to more than 100,000 values"
    ]


def test_merge_keys_and_complex_keys_are_refused() -> None:
    assert problems("base: &b {x: 1}\nspec:\n  <<: *b\n") == [
        "f.yaml:3:3: merge keys (<<) are not YAML 1.2; write keys out"
    ]
    assert problems("? [a, b]\n: 1\n") == [
        "f.yaml:1:3: invalid YAML: a mapping key must be a single value, not a list or mapping"
    ]


SOURCE = b"""\
kind: statsig/metric
name: Checkout
spec:
  type: ratio
  unitTypes: [userID, stableID]
  metricEvents:
    - name: purchase
      criteria:
        - {type: metadata, column: currency}
---
kind: posthog/saved_metric
name: second
"""


@pytest.mark.parametrize(
    ("index", "path", "at_key", "where"),
    [
        (0, ("name",), False, (2, 7)),  # a scalar: its value
        (0, ("name",), True, (2, 1)),  # the key itself
        (0, ("spec",), False, (3, 1)),  # a block mapping: the line of its key
        (0, ("spec", "unitTypes"), False, (5, 14)),  # a flow list: where it opens
        (0, ("spec", "unitTypes", 1), False, (5, 23)),
        (0, ("spec", "metricEvents"), False, (6, 3)),  # a block list: its key
        (0, ("spec", "metricEvents", 0), False, (7, 7)),  # an item: its first key
        (0, ("spec", "metricEvents", 0, "criteria", 0, "column"), False, (9, 36)),
        (0, ("spec", "missing", "deeper"), False, (3, 1)),  # the deepest part that exists
        (0, (), False, (1, 1)),
        (1, ("name",), False, (12, 7)),
        (5, ("name",), False, (1, 1)),  # no such document
    ],
)
def test_locator_points_at_what_a_problem_is_about(
    index: int, path: tuple[str | int, ...], at_key: bool, where: tuple[int, int]
) -> None:
    assert Locator(SOURCE).position(index, path, at_key=at_key) == where
    assert locate(SOURCE, index, path, at_key=at_key) == where


@pytest.mark.parametrize("depth", [400, 40_000])
def test_deep_nesting_is_a_problem_not_a_crash(depth: int) -> None:
    source = b"a: " + b"[" * depth + b"]" * depth + b"\n"
    assert problems(source) == ["f.yaml:1:1: the YAML is nested too deeply to read"]
    assert locate(source, 0, ["a"]) == ((1, 4) if depth < 1000 else (1, 1))
