"""The sandbox's request log: what each request asked, what it got and how long the client waited,
kept for the admin endpoint /_sandbox/requests and for tests."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str
    status: int | None  # None: the connection was dropped
    duration_ms: float  # handling plus injected delay: what the client waited
    fault: str | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class RequestLog:
    """The latest requests, oldest first, in a bounded ring buffer."""

    def __init__(self, size: int = 1000) -> None:
        self._entries: deque[LoggedRequest] = deque(maxlen=size)
        self._lock = threading.Lock()

    def record(self, entry: LoggedRequest) -> None:
        with self._lock:
            self._entries.append(entry)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __iter__(self) -> Iterator[LoggedRequest]:
        with self._lock:
            return iter(list(self._entries))

    def __len__(self) -> int:
        return len(self._entries)
