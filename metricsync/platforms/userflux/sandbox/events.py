"""The UserFlux `eventsTable`: deterministic generated events per environment, in in-memory SQLite.

Rows come from a fixed seed and a fixed end time (never the wall clock), so documented counts and
example queries stay true. Each environment's rows are generated once per process, on first use.
"""

from __future__ import annotations

import json
import random
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

ENVIRONMENTS = ("Test", "Production")
EVENT_NAMES = ("page_view", "add_to_cart", "checkout_start", "purchase", "signup")
COLUMNS = ("timestamp", "userId", "anonymousId", "name", "ufProperties")
DATA_END = datetime(2026, 3, 1)  # UTC; generated sessions start in the 28 days before
SPAN_SECONDS = 28 * 86_400

EventRow = tuple[str | None, ...]  # in COLUMNS order


@dataclass(frozen=True)
class Profile:
    seed: int
    rows: int
    visitors: int


# Different seeds and sizes, so a query run with the wrong key visibly returns other numbers.
PROFILES = {
    "Test": Profile(seed=20260301, rows=3000, visitors=300),
    "Production": Profile(seed=1_000_003, rows=6000, visitors=1200),
}

_REFERRERS = ("", "https://www.google.com/", "https://news.ycombinator.com/", "https://t.co/")
_DEVICES = ("desktop", "mobile", "tablet")
_CURRENCIES = ("USD", "EUR", "GBP")
_PLANS = ("free", "pro", "team")


_encode = json.JSONEncoder(separators=(",", ":")).encode


def iso_timestamp(moment: datetime) -> str:
    """JavaScript's toISOString form (`moment` naive UTC), which SQLite's date functions read."""
    return moment.isoformat(timespec="milliseconds") + "Z"


class _Session:
    """One visit: a landing page, some product views, maybe a signup and a purchase funnel."""

    def __init__(self, rng: random.Random, visitor: int, identified: bool) -> None:
        self.rng = rng
        self.anonymous_id = f"anon-{visitor:05d}"
        self.user_id = f"user-{visitor:05d}" if identified else None
        offset = rng.randrange(SPAN_SECONDS - 3600)
        self.moment = DATA_END - timedelta(seconds=SPAN_SECONDS - offset)
        self.context = {
            "referrer": rng.choices(_REFERRERS, weights=(4, 3, 1, 1))[0],
            "device": rng.choices(_DEVICES, weights=(5, 4, 1))[0],
        }
        self.rows: list[EventRow] = []

    def add(self, name: str, url_path: str, **extra: Any) -> None:
        pause = timedelta(seconds=self.rng.randint(5, 180), milliseconds=self.rng.randrange(1000))
        self.moment += pause
        properties = {"urlPath": url_path, **self.context, **extra}
        timestamp = iso_timestamp(self.moment)
        self.rows.append((timestamp, self.user_id, self.anonymous_id, name, _encode(properties)))


def _play_session(rng: random.Random, visitor: int, signed_up: set[int]) -> list[EventRow]:
    identified = visitor % 5 != 0  # every fifth visitor never logs in: userId stays null
    session = _Session(rng, visitor, identified)
    session.add("page_view", "/")
    for _ in range(rng.randint(0, 4)):
        session.add("page_view", f"/products/{rng.randint(1, 40)}")
    if identified and visitor not in signed_up and rng.random() < 0.4:
        signed_up.add(visitor)
        session.add("signup", "/signup", plan=rng.choices(_PLANS, weights=(6, 3, 1))[0])
    if rng.random() < 0.35:
        session.add("add_to_cart", "/cart")
        if identified and rng.random() < 0.6:
            session.add("checkout_start", "/checkout")
            if rng.random() < 0.55:
                amount = round(rng.uniform(5, 250), 2)
                currency = rng.choices(_CURRENCIES, weights=(6, 3, 2))[0]
                session.add("purchase", "/checkout/complete", amount=amount, currency=currency)
    return session.rows


def generate_rows(environment: str) -> list[EventRow]:
    """Exactly `PROFILES[environment].rows` events, sorted by time."""
    profile = PROFILES[environment]
    rng = random.Random(profile.seed)
    rows: list[EventRow] = []
    signed_up: set[int] = set()
    while len(rows) < profile.rows:
        rows.extend(_play_session(rng, rng.randrange(profile.visitors), signed_up))
    del rows[profile.rows :]
    rows.sort(key=lambda row: row[0] or "")
    return rows


def seeded_row(doc: dict[str, Any]) -> EventRow:
    """A seed-file event as a table row; raises ValueError naming what is wrong."""
    name, timestamp = doc.get("name"), doc.get("timestamp")
    if not isinstance(name, str) or not isinstance(timestamp, str):
        raise ValueError("a userflux event needs string `name` and `timestamp`")
    unknown = set(doc) - set(COLUMNS)
    if unknown:
        raise ValueError(f"unknown userflux event field(s): {', '.join(sorted(unknown))}")
    properties = doc.get("ufProperties", {})
    if not isinstance(properties, dict):
        raise ValueError("userflux event `ufProperties` must be an object")
    user_id, anonymous_id = doc.get("userId"), doc.get("anonymousId", "")
    return (timestamp, user_id, anonymous_id, name, _encode(properties))


_CREATE = (
    "CREATE TABLE eventsTable (timestamp TEXT NOT NULL, userId TEXT, anonymousId TEXT, "
    "name TEXT NOT NULL, ufProperties TEXT NOT NULL)"
)
_INSERT = "INSERT INTO eventsTable VALUES (?, ?, ?, ?, ?)"
_generated: dict[str, sqlite3.Connection] = {}
_generated_lock = threading.Lock()


def _generated_database(environment: str) -> sqlite3.Connection:
    """Callers hold `_generated_lock`: the connection is shared by every sandbox in the process."""
    if environment not in _generated:
        connection = sqlite3.connect(":memory:", check_same_thread=False)
        connection.execute(_CREATE)
        connection.executemany(_INSERT, generate_rows(environment))
        connection.commit()
        _generated[environment] = connection
    return _generated[environment]


def open_events_database(environment: str, extra_rows: Iterable[EventRow]) -> sqlite3.Connection:
    """A private copy of the environment's generated table, plus rows seeded into this sandbox."""
    connection = sqlite3.connect(":memory:", check_same_thread=False)
    with _generated_lock:
        _generated_database(environment).backup(connection)
    insert_rows(connection, extra_rows)
    # Table-valued JSON functions create their schema entry on first use, which the read-only
    # authorizer would refuse; touching them here lets queries use json_each and json_tree.
    connection.execute("SELECT * FROM json_each('[]'), json_tree('[]')").fetchall()
    return connection


def insert_rows(connection: sqlite3.Connection, rows: Iterable[EventRow]) -> None:
    connection.executemany(_INSERT, rows)
    connection.commit()
