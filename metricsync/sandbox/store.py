"""Sandbox state: JSON documents in named collections, kept in memory, written through to SQLite.

Reads never touch SQLite, so a list of 10,000 objects costs only serialisation. One re-entrant
lock guards everything; handlers hold it (`with store.lock:`) around check-then-write sequences.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any


class Collection:
    def __init__(self, store: Store, name: str) -> None:
        self._store, self.name = store, name
        self._docs: dict[str, Any] = {}

    def get(self, key: str) -> Any | None:
        return self._docs.get(key)

    def put(self, key: str, doc: Any) -> None:
        with self._store.lock:
            self._docs[key] = doc
            self._store._write(self.name, key, doc)

    def delete(self, key: str) -> bool:
        with self._store.lock:
            if self._docs.pop(key, None) is None:
                return False
            self._store._write(self.name, key, None)
            return True

    def values(self) -> list[Any]:
        with self._store.lock:
            return list(self._docs.values())

    def items(self) -> list[tuple[str, Any]]:
        with self._store.lock:
            return list(self._docs.items())

    def __len__(self) -> int:
        return len(self._docs)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._docs))

    def clear(self) -> None:
        with self._store.lock:
            for key in list(self._docs):
                self.delete(key)


class Store:
    """`path=None` keeps everything in memory (tests); otherwise state survives the process."""

    def __init__(self, path: Path | None = None) -> None:
        self.lock = threading.RLock()
        self._collections: dict[str, Collection] = {}
        self._db: sqlite3.Connection | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS docs ("
                "collection TEXT, key TEXT, doc TEXT, PRIMARY KEY (collection, key))"
            )
            self._load()

    def collection(self, name: str) -> Collection:
        with self.lock:
            if name not in self._collections:
                self._collections[name] = Collection(self, name)
            return self._collections[name]

    def next_id(self, counter: str) -> int:
        """A monotonically increasing integer per counter name, persisted like any document."""
        counters = self.collection("_counters")
        with self.lock:
            value = int(counters.get(counter) or 0) + 1
            counters.put(counter, value)
            return value

    def _load(self) -> None:
        assert self._db is not None
        for name, key, doc in self._db.execute("SELECT collection, key, doc FROM docs"):
            self.collection(name)._docs[key] = json.loads(doc)

    def _write(self, name: str, key: str, doc: Any) -> None:
        if self._db is None:
            return
        if doc is None:
            self._db.execute("DELETE FROM docs WHERE collection=? AND key=?", (name, key))
        else:
            self._db.execute(
                "INSERT OR REPLACE INTO docs VALUES (?, ?, ?)", (name, key, json.dumps(doc))
            )

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
