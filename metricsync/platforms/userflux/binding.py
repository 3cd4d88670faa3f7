"""Binds `@{name}` placeholders in UserFlux SQL. The server substitutes text verbatim
(docs/sandbox/userflux.md), so metricsync does the quoting: a bound value can never leave the
literal it was written in."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from metricsync.errors import ExitCode, MetricsyncError
from metricsync.platforms.userflux.checks import PLACEHOLDER, placeholders, server_variable_problem

# Quoted regions of SQL: '…' string literals ('' escapes a quote), "…" and `…` identifiers,
# -- and /* */ comments. An unterminated region runs to the end of the text.
_REGION = re.compile(
    r"'(?:[^']|'')*'?|\"(?:[^\"]|\"\")*\"?|`[^`]*`?|--[^\n]*|/\*.*?(?:\*/|\Z)", re.S
)

Value = str | int | float


class BindingError(MetricsyncError):
    """A variable cannot be bound safely; nothing was sent."""

    exit_code = ExitCode.INVALID


@dataclass(frozen=True)
class Query:
    """What one run sends: SQL already bound, or a pre-defined metric with its variables."""

    sql: str | None = None
    metric_id: str | None = None
    variables: Mapping[str, Value] = field(default_factory=dict)


def prepare(spec: Mapping[str, Any], overrides: Mapping[str, Value] | None = None) -> Query:
    """The query a `userflux/query` spec describes, with `overrides` replacing its variables."""
    variables = {**(spec.get("variables") or {}), **(overrides or {})}
    sql = spec.get("sql")
    if not isinstance(sql, str):
        server_side(spec.get("variables") or {}, overrides or {})
        return Query(metric_id=str(spec["metric_id"]), variables=variables)
    unknown = [name for name in overrides or {} if name not in placeholders(sql)]
    if unknown:
        used = ", ".join(dict.fromkeys(placeholders(sql))) or "none"
        raise BindingError(f"the sql has no placeholder @{{{unknown[0]}}} (placeholders: {used})")
    return Query(sql=bind(sql, variables), variables=variables)


def server_side(declared: Mapping[str, Any], overrides: Mapping[str, Value]) -> None:
    """Refuses variables of a pre-defined metric that UserFlux could not substitute safely. Its
    saved SQL cannot be read, so the definition's variables stand for its placeholders: an
    override must name one of them, and a number there (perhaps outside quotes) stays a number."""
    for name, value in overrides.items():
        if name not in declared:
            known = ", ".join(declared) or "none"
            raise BindingError(
                f"variable {name!r} is not declared in spec.variables (declared: {known}); a "
                "metric_id query takes only the variables its definition declares"
            )
        if _is_number(declared[name]) and not _is_number(value):
            shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:39] + "…"
            raise BindingError(
                f"variable {name!r} is a number in the definition (UserFlux may put it outside "
                f"quotes), so its value must be a number; got {shown}"
            )
    for name, value in {**declared, **overrides}.items():
        problem = server_variable_problem(name, value)
        if problem is not None:
            raise BindingError(problem)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def bind(sql: str, variables: Mapping[str, Any]) -> str:
    """`sql` with every placeholder replaced: inside a '…' literal by the escaped text of its
    value, elsewhere only by a finite number."""
    return "".join(_bound(sql, variables))


def _bound(sql: str, variables: Mapping[str, Any]) -> Iterator[str]:
    done = 0
    for region in _REGION.finditer(sql):
        yield _code(sql[done : region.start()], variables)
        yield _region(region.group(0), variables)
        done = region.end()
    yield _code(sql[done:], variables)


def _code(text: str, variables: Mapping[str, Any]) -> str:
    return PLACEHOLDER.sub(lambda m: number_text(m.group(1), _value(m.group(1), variables)), text)


def _region(text: str, variables: Mapping[str, Any]) -> str:
    found = PLACEHOLDER.search(text)
    if found is None:
        return text
    if not text.startswith("'"):
        where = "a comment" if text.startswith(("--", "/*")) else "a quoted identifier"
        raise BindingError(
            f"placeholder @{{{found.group(1)}}} is inside {where}; metricsync binds "
            "placeholders only inside '…' string literals or as bare numbers"
        )
    return PLACEHOLDER.sub(lambda m: literal_text(m.group(1), _value(m.group(1), variables)), text)


def _value(name: str, variables: Mapping[str, Any]) -> Any:
    if name not in variables:
        raise BindingError(f"placeholder @{{{name}}} has no value in variables")
    return variables[name]


def literal_text(name: str, value: Any) -> str:
    """A value's text for the inside of a '…' literal: quotes doubled, nothing else special."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise BindingError(f"variable {name!r} must be a string or a number")
    text = value if isinstance(value, str) else number_text(name, value)
    if "\0" in text:
        raise BindingError(f"variable {name!r} contains a NUL character")
    if "\\" in text:
        # The warehouse dialect is unconfirmed (docs/sandbox/userflux.md): where \ escapes a
        # quote, a doubled quote after it would end the literal. Refusing it keeps every dialect
        # safe.
        raise BindingError(
            f"variable {name!r} contains a backslash, which some SQL dialects read as an escape"
        )
    return text.replace("'", "''")


def number_text(name: str, value: Any) -> str:
    """A value's text for a bare (unquoted) placeholder: a finite number, nothing else."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:39] + "…"
        raise BindingError(
            f"placeholder @{{{name}}} is outside quotes, so its value must be a number; got "
            f"{shown} (write '@{{{name}}}' to use it as a string)"
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise BindingError(f"variable {name!r} must be a finite number; got {value!r}")
    text = str(value) if isinstance(value, int) else repr(value)
    return f"({text})" if text.startswith("-") else text  # `x -@{n}` must not become a -- comment


def literal_value(text: str) -> Value:
    """A command-line value: text written the way a number prints (100, -3, 2.5) becomes that
    number; anything else (007, 1.10, 1e3) stays text, so a quoted placeholder gets it unchanged."""
    for convert, show in ((int, str), (float, repr)):
        try:
            number = convert(text)
        except ValueError:
            continue
        if show(number) == text and math.isfinite(number):
            return number
    return text
