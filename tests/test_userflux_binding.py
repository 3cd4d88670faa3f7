"""Placeholder binding for UserFlux SQL: a bound value never leaves its literal, bare
placeholders take finite numbers only, command-line values become numbers only when exact."""

from __future__ import annotations

import math
import re
import sqlite3

import pytest

from metricsync.definitions import Definition
from metricsync.platforms.userflux.binding import (
    BindingError,
    Query,
    bind,
    literal_value,
    prepare,
)
from metricsync.platforms.userflux.checks import check_queries

HOSTILE = [
    "x' OR '1'='1",
    "'; DROP TABLE eventsTable; --",
    "purchase' --",
    "a'/*",
    "*/ OR 1=1 /*",
    "''''",
    "it's; SELECT 1; -- '",
    "\n' UNION SELECT name FROM sqlite_master --\n",
]


def sqlite(sql: str) -> list[tuple[object, ...]]:
    """Runs SQL in SQLite, the sandbox warehouse's dialect."""
    with sqlite3.connect(":memory:") as db:
        return db.execute(sql).fetchall()


@pytest.mark.parametrize("value", HOSTILE)
def test_a_hostile_string_stays_inside_its_literal(value: str) -> None:
    sql = bind("SELECT '@{v}' AS v", {"v": value})
    assert sqlite(sql) == [(value,)]


@pytest.mark.parametrize("value", HOSTILE)
def test_a_hostile_string_in_a_where_clause_matches_only_itself(value: str) -> None:
    with sqlite3.connect(":memory:") as db:
        db.execute("CREATE TABLE events (name TEXT)")
        db.executemany("INSERT INTO events VALUES (?)", [("purchase",), ("signup",), (value,)])
        sql = bind("SELECT name FROM events WHERE name = '@{name}' -- trailing", {"name": value})
        assert db.execute(sql).fetchall() == [(value,)]


def test_quotes_are_doubled_and_nothing_else_changes() -> None:
    assert bind("WHERE name = '@{n}'", {"n": "x' OR '1'='1"}) == "WHERE name = 'x'' OR ''1''=''1'"
    assert bind("'@{a}-@{b}'", {"a": "O'Brien", "b": 5}) == "'O''Brien-5'"


def test_numbers_are_inserted_as_numbers() -> None:
    sql = bind("SELECT @{a} + @{b} AS n LIMIT @{limit}", {"a": 2, "b": 0.5, "limit": 10})
    assert sql == "SELECT 2 + 0.5 AS n LIMIT 10"
    assert sqlite(sql) == [(2.5,)]


def test_a_negative_number_cannot_start_a_comment() -> None:
    sql = bind("SELECT 1 -@{n} AS n", {"n": -1})
    assert sql == "SELECT 1 -(-1) AS n"
    assert sqlite(sql) == [(2,)]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("100", "outside quotes, so its value must be a number; got '100'"),
        ("1; DROP TABLE eventsTable", "outside quotes, so its value must be a number"),
        (True, "outside quotes, so its value must be a number; got True"),
        (math.inf, "must be a finite number; got inf"),
        (math.nan, "must be a finite number; got nan"),
    ],
)
def test_a_bare_placeholder_takes_only_a_finite_number(value: object, message: str) -> None:
    with pytest.raises(BindingError, match=re.escape(message)):
        bind("SELECT name FROM eventsTable LIMIT @{n}", {"n": value})


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("a\0b", "variable 'v' contains a NUL character"),
        ("a\\' OR 1=1 --", "variable 'v' contains a backslash"),
        (None, "variable 'v' must be a string or a number"),
    ],
)
def test_values_no_literal_can_hold_safely_are_refused(value: object, message: str) -> None:
    with pytest.raises(BindingError, match=message):
        bind("SELECT '@{v}'", {"v": value})


@pytest.mark.parametrize(
    ("sql", "where"),
    [
        ("SELECT 1 -- @{v}", "a comment"),
        ("SELECT 1 /* @{v} */", "a comment"),
        ('SELECT "@{v}" FROM eventsTable', "a quoted identifier"),
        ("SELECT `@{v}` FROM eventsTable", "a quoted identifier"),
    ],
)
def test_placeholders_outside_literals_and_code_are_refused(sql: str, where: str) -> None:
    with pytest.raises(BindingError, match=f"placeholder @{{v}} is inside {where}"):
        bind(sql, {"v": "x"})


def test_an_unbound_placeholder_is_refused() -> None:
    with pytest.raises(
        BindingError, match=re.escape("placeholder @{missing} has no value in variables")
    ):
        bind("SELECT '@{missing}'", {})


def test_quotes_inside_comments_do_not_confuse_the_binder() -> None:
    sql = "SELECT '@{a}' AS a -- it's a comment\nFROM t WHERE b = @{b} /* don't */"
    assert bind(sql, {"a": "x'y", "b": 3}) == (
        "SELECT 'x''y' AS a -- it's a comment\nFROM t WHERE b = 3 /* don't */"
    )


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("100", 100),
        ("-3", -3),
        ("2.5", 2.5),
        ("0", 0),
        ("007", "007"),
        ("1.10", "1.10"),
        ("+5", "+5"),
        ("1e3", "1e3"),
        ("inf", "inf"),
        ("nan", "nan"),
        ("purchase", "purchase"),
        ("", ""),
    ],
)
def test_command_line_values_become_numbers_only_when_written_exactly(
    text: str, value: object
) -> None:
    assert literal_value(text) == value
    assert type(literal_value(text)) is type(value)


def test_prepare_binds_sql_with_overrides() -> None:
    spec = {"sql": "SELECT * FROM t WHERE c = '@{c}' LIMIT @{n}", "variables": {"c": "USD", "n": 5}}
    query = prepare(spec, {"c": "EUR"})
    assert query.sql == "SELECT * FROM t WHERE c = 'EUR' LIMIT 5"
    assert query.metric_id is None


def test_prepare_refuses_an_override_the_sql_does_not_use() -> None:
    spec = {"sql": "SELECT '@{c}'", "variables": {"c": "USD"}}
    with pytest.raises(
        BindingError, match=r"the sql has no placeholder @{currency} \(placeholders: c\)"
    ):
        prepare(spec, {"currency": "EUR"})


def test_prepare_passes_a_predefined_metrics_declared_variables_through() -> None:
    spec = {"metric_id": "daily-active-users", "variables": {"eventName": "purchase", "n": 3}}
    assert prepare(spec, {"eventName": "page_view", "n": 2.5}) == Query(
        metric_id="daily-active-users", variables={"eventName": "page_view", "n": 2.5}
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"eventName": "purchase' OR '1'='1"},
            "variable 'eventName' contains \"'\": UserFlux puts a metric_id query's variables",
        ),
        ({"eventName": 'a"b'}, "variable 'eventName' contains '\"'"),
        ({"eventName": "a\\"}, "variable 'eventName' contains '\\\\'"),
        ({"eventName": "a\rb"}, "variable 'eventName' contains '\\r'"),
        (
            {"n": "3 OR 1=1"},
            "variable 'n' is a number in the definition (UserFlux may put it outside quotes), so "
            "its value must be a number; got '3 OR 1=1'",
        ),
        (
            {"extra": 1},
            "variable 'extra' is not declared in spec.variables (declared: eventName, n); a "
            "metric_id query takes only the variables its definition declares",
        ),
    ],
)
def test_a_predefined_metrics_variable_that_the_server_could_misread_is_refused(
    overrides: dict[str, object], message: str
) -> None:
    spec = {"metric_id": "daily-active-users", "variables": {"eventName": "purchase", "n": 3}}
    with pytest.raises(BindingError) as raised:
        prepare(spec, overrides)  # type: ignore[arg-type]
    assert str(raised.value).startswith(message)


def test_validate_refuses_a_predefined_metrics_unsafe_variable() -> None:
    spec = {"metric_id": "daily-active-users", "variables": {"eventName": "it's"}}
    [finding] = check_queries([Definition("userflux/query", "q", spec)])
    assert (finding.path, finding.message.split(":")[0]) == (
        ("spec", "variables", "eventName"),
        "variable 'eventName' contains \"'\"",
    )
