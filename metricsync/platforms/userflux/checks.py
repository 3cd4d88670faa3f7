"""UserFlux query checks: one source of SQL, and placeholders and variables that match."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any

from metricsync.definitions import Definition
from metricsync.platforms.base import Finding, checks

PLACEHOLDER = re.compile(r"@\{([^}]*)\}")
# What could end the quoted text or identifier a server-side substitution puts a value in.
_UNQUOTABLE = re.compile("['\"`\\\\\x00-\x1f\x7f-\x9f]")


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


def server_variable_problem(name: str, value: Any) -> str | None:
    """Why a pre-defined metric's variable cannot be sent, or None. UserFlux substitutes these
    into the saved SQL itself, verbatim (docs/sandbox/userflux.md), so metricsync cannot quote
    them: it sends only finite numbers and text that cannot leave the quoted literal it is
    written in."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return f"variable {name!r} must be a string or a number"
    if isinstance(value, float) and not math.isfinite(value):
        return f"variable {name!r} must be a finite number; got {value!r}"
    found = _UNQUOTABLE.search(value) if isinstance(value, str) else None
    if found is None:
        return None
    return (
        f"variable {name!r} contains {found.group()!r}: UserFlux puts a metric_id query's "
        "variables into its saved SQL as they are, so quotes, backslashes and control "
        "characters could change the query; metricsync refuses them (an sql query binds such "
        "text safely)"
    )


def _server_variables(d: Definition) -> Iterator[Finding]:
    if "metric_id" not in d.spec:
        return
    for name, value in (d.spec.get("variables") or {}).items():
        problem = server_variable_problem(name, value)
        if problem is not None:
            yield Finding(d, ("spec", "variables", name), problem)


check_queries = checks(_one_source, _bindings, _server_variables)
