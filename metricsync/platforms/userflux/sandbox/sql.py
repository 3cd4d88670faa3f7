"""Runs one caller-supplied SELECT against an environment's eventsTable, read-only and time-boxed.

The dialect is SQLite's. UserFlux's `ufProperties.x` dot notation becomes `json_extract`, and
`@{name}` placeholders are plain text substitution, as the vendor's published example implies.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import sqlite3
import threading
import time
from collections.abc import Mapping
from typing import Any

from metricsync.platforms.userflux.sandbox.events import (
    ENVIRONMENTS,
    EventRow,
    insert_rows,
    open_events_database,
)
from metricsync.sandbox.store import Store


class QueryError(Exception):
    """The query cannot run; the message is shown to the caller."""


PLACEHOLDER = re.compile(r"@\{([A-Za-z_][A-Za-z0-9_]*)\}")
# String literals, quoted identifiers and comments: dot notation inside them is left alone.
_VERBATIM = re.compile(
    r"'(?:[^']|'')*'?|\"(?:[^\"]|\"\")*\"?|`[^`]*`?|\[[^\]]*\]?|--[^\n]*|/\*.*?(?:\*/|\Z)", re.S
)
_PROPERTY = re.compile(r"\b((?:\w+\.)?ufProperties)((?:\.\w+)+)", re.I)
_FIRST_WORD = re.compile(r"(?:\s+|--[^\n]*(?:\n|\Z)|/\*.*?(?:\*/|\Z))*(\w*)", re.S)
_READ_ONLY = frozenset(
    {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}
)


def decode_query(encoded: str) -> str:
    """Standard base64 with padding, as documented; the URL-safe alphabet is refused."""
    try:
        return base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as error:
        raise QueryError("encodedQuery is not standard base64 of UTF-8 text") from error


def substitute(sql: str, variables: Mapping[str, Any], keep_missing: bool) -> str:
    """Strings go in verbatim (no escaping), anything else as its JSON text (numbers as-is)."""
    missing = sorted({name for name in PLACEHOLDER.findall(sql) if name not in variables})
    if missing and not keep_missing:
        names = ", ".join(f"@{{{name}}}" for name in missing)
        raise QueryError(f"no value in variables for placeholder(s) {names}")

    def value_of(match: re.Match[str]) -> str:
        if match.group(1) not in variables:
            return match.group(0)
        value = variables[match.group(1)]
        return value if isinstance(value, str) else json.dumps(value)

    return PLACEHOLDER.sub(value_of, sql)


def rewrite_properties(sql: str) -> str:
    """`ufProperties.a.b` (optionally table-qualified) → `json_extract(ufProperties, '$.a.b')`."""
    parts, position = [], 0
    for verbatim in _VERBATIM.finditer(sql):
        parts.append(_PROPERTY.sub(_json_extract, sql[position : verbatim.start()]))
        parts.append(verbatim.group(0))
        position = verbatim.end()
    parts.append(_PROPERTY.sub(_json_extract, sql[position:]))
    return "".join(parts)


def _json_extract(match: re.Match[str]) -> str:
    return f"json_extract({match.group(1)}, '${match.group(2)}')"


def _authorize(action: int, *_: str | None) -> int:
    return sqlite3.SQLITE_OK if action in _READ_ONLY else sqlite3.SQLITE_DENY


def run_select(
    connection: sqlite3.Connection, sql: str, budget_seconds: float, max_rows: int
) -> list[dict[str, Any]]:
    """Rows as {column alias: value}. The caller serialises use of `connection`."""
    if _first_word(sql) not in ("SELECT", "WITH"):
        raise QueryError("only a single SELECT statement (optionally WITH … SELECT) can be run")
    deadline = time.monotonic() + budget_seconds
    connection.set_authorizer(_authorize)
    connection.set_progress_handler(lambda: time.monotonic() > deadline, 1000)
    try:
        cursor = connection.execute(rewrite_properties(sql))
        columns = [description[0] for description in cursor.description]
        rows = cursor.fetchmany(max_rows + 1)
    except sqlite3.Error as error:
        raise QueryError(_explain(error, budget_seconds)) from error
    finally:
        connection.set_authorizer(None)
        connection.set_progress_handler(None, 0)
    if len(rows) > max_rows:
        raise QueryError(f"the result has more than {max_rows} rows; add a LIMIT")
    return [dict(zip(columns, map(_json_value, row), strict=True)) for row in rows]


def _first_word(sql: str) -> str:
    match = _FIRST_WORD.match(sql)
    return match.group(1).upper() if match else ""


def _explain(error: sqlite3.Error, budget_seconds: float) -> str:
    message = str(error)
    if message == "interrupted":
        return f"query exceeded its time budget of {budget_seconds:g} s"
    if message == "not authorized":
        return "not authorized: queries may only read (a single SELECT statement)"
    return message


def _json_value(value: Any) -> Any:
    return base64.b64encode(value).decode("ascii") if isinstance(value, bytes) else value


class Warehouse:
    """One sandbox's events databases, opened per environment on its first query."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._seeded = store.collection("userflux_events")  # {"environment", "row"}, persisted
        self._connections: dict[str, sqlite3.Connection] = {}
        # One lock per environment: a slow Test query does not hold up Production.
        self._locks = {environment: threading.Lock() for environment in ENVIRONMENTS}

    def run(
        self, environment: str, sql: str, budget_seconds: float, max_rows: int
    ) -> list[dict[str, Any]]:
        with self._locks[environment]:
            connection = self._connections.get(environment)
            if connection is None:
                connection = open_events_database(environment, self._seeded_rows(environment))
                self._connections[environment] = connection
            return run_select(connection, sql, budget_seconds, max_rows)

    def add(self, environment: str, rows: list[EventRow]) -> None:
        with self._locks[environment]:
            for row in rows:
                key = str(self._store.next_id("userflux_event"))
                self._seeded.put(key, {"environment": environment, "row": list(row)})
            if environment in self._connections:
                insert_rows(self._connections[environment], rows)

    def _seeded_rows(self, environment: str) -> list[EventRow]:
        docs = self._seeded.values()
        return [tuple(doc["row"]) for doc in docs if doc["environment"] == environment]
