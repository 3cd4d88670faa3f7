"""The repository cites only what it holds: the team's notes outside it (the product spec, the
API notes, the performance notes) are not there for a maintainer to open. The package, its
starter files, the docs, the tests, the benchmarks and the examples cite docs/ instead."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUTSIDE = re.compile(
    r"\bapi/[\w-]+\.md|\bapi \u00a7|PERF-NOTES|\bshared/(?:api/|SPEC|PERF)"
    r"|\bSPEC(?: \d| \u00a7|\)|\.md)|\u00a7"
)
CHECKED = ("metricsync", "docs", "tests", "benchmarks", "examples", "scripts", "README.md")
TEXT = {".py", ".md", ".yml", ".yaml", ".json", ".sh", ".toml", ".txt", ""}


def _files() -> list[Path]:
    files: list[Path] = []
    for name in CHECKED:
        path = ROOT / name
        found = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        files += [
            p
            for p in found
            if p.suffix in TEXT and "__pycache__" not in p.parts and p != Path(__file__)
        ]
    return files


def test_the_checked_folders_hold_files() -> None:
    checked = {p.relative_to(ROOT).parts[0] for p in _files()}
    assert {"metricsync", "docs", "tests", "benchmarks", "examples", "README.md"} <= checked


def test_no_file_cites_notes_outside_the_repository() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in _files()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert found == [], "cite docs/ instead:\n" + "\n".join(found)


def test_the_pattern_finds_each_kind_of_citation() -> None:
    cited = [
        "see api/statsig.md for the envelope",
        "as shared/api/userflux.md says",
        "(SPEC 4.3)",
        "from `shared/SPEC.md` section 2",
        "the burst guard (PERF-NOTES.md)",
        "| behaviour (\u00a74) |",
    ]
    kept = ["Fault SPEC: [METHOD ]GLOB=ACTION", "`--fault SPEC`", "shared/team/revenue.yaml"]
    assert [bool(OUTSIDE.search(line)) for line in cited + kept] == [True] * 6 + [False] * 3
