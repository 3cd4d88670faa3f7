"""`metricsync verify` for UserFlux: each query runs with its declared variables and its `expect`
(at least min_rows rows, each with the columns named) is checked."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import httpx

from metricsync.config import Target
from metricsync.definitions import Definition
from metricsync.platforms.userflux.binding import prepare
from metricsync.platforms.userflux.client import UserFluxClient


class QueryVerifier:
    """One target's client (its secrets resolved when built), running one query per verdict."""

    check = "query"

    def __init__(self, target: Target, transport: httpx.BaseTransport | None) -> None:
        self.client = UserFluxClient(target, transport)

    def verdict(self, definition: Definition) -> tuple[bool, str]:
        with self.client.rows(prepare(definition.spec)) as rows:
            count, problems = expectation_check(definition.spec.get("expect") or {}, rows)
        return not problems, "; ".join(problems) or f"{count} row{'s' * (count != 1)}"

    def close(self) -> None:
        self.client.close()


def expectation_check(expect: Mapping[str, Any], rows: Iterator[Any]) -> tuple[int, list[str]]:
    """Counts the rows (consuming them one at a time) and says what `expect` found wrong."""
    wanted = list(expect.get("columns") or [])
    count, problems = 0, list[str]()
    for row in rows:
        count += 1
        if wanted and not problems:
            missing = [c for c in wanted if not isinstance(row, dict) or c not in row]
            if missing:
                got = ", ".join(map(str, row)) if isinstance(row, dict) else type(row).__name__
                problems.append(f"row {count} lacks column(s) {', '.join(missing)} (has: {got})")
    minimum = int(expect.get("min_rows") or 0)
    if count < minimum:
        problems.insert(0, f"expected at least {minimum} row{'s' * (minimum != 1)}, got {count}")
    return count, problems
