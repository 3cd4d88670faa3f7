"""UserFlux query rules: one source of SQL, and placeholders and variables that match."""

from __future__ import annotations

import re
from collections.abc import Iterator

from metricsync.definitions import Definition
from metricsync.platforms.base import Finding, rules

PLACEHOLDER = re.compile(r"@\{([^}]*)\}")


def placeholders(sql: str) -> list[str]:
    return PLACEHOLDER.findall(sql)


def _one_source(d: Definition) -> Iterator[Finding]:
    has_sql, has_id = "sql" in d.spec, "metric_id" in d.spec
    if has_sql == has_id:
        which = "both" if has_sql else "neither"
        yield Finding(
            d, ("spec",), f"a userflux/query needs exactly one of sql or metric_id; it has {which}"
        )


def _bindings(d: Definition) -> Iterator[Finding]:
    sql = d.spec.get("sql")
    if not isinstance(sql, str):
        return
    variables = d.spec.get("variables") or {}
    used = placeholders(sql)
    for name in dict.fromkeys(used):
        if name not in variables:
            yield Finding(d, ("spec", "sql"), f"placeholder @{{{name}}} has no value in variables")
    for name in variables:
        if name not in used:
            yield Finding(
                d,
                ("spec", "variables", name),
                f"variable {name!r} is not used by the sql",
                at_key=True,
            )


check_queries = rules(_one_source, _bindings)
