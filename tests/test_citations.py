"""The package cites only what the repository holds: the team's notes outside it (the product
spec, the API notes, the performance notes) are not there for a maintainer to open."""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "metricsync"
OUTSIDE = re.compile(
    r"\bapi/[\w-]+\.md|\bapi \u00a7|PERF-NOTES|shared/|\bSPEC(?: \d| \u00a7|\))|\u00a7"
)


def test_no_file_of_the_package_cites_notes_outside_the_repository() -> None:
    found = [
        f"{path.relative_to(PACKAGE.parent)}:{number}: {line.strip()}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert found == [], "cite docs/ instead:\n" + "\n".join(found)
