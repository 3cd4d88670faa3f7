"""Secret references (`env:NAME`): resolved only when a target is used, and scrubbed from text.

Every value resolved here is remembered so that `redact` can remove it from any message, log line
or file before it leaves the process.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

from metricsync.errors import ConfigError

_MASK = "***"

_known: set[str] = set()
_lock = threading.Lock()


@dataclass(frozen=True)
class SecretRef:
    """Where a secret comes from; its `str` never shows the value."""

    variable: str
    field: str  # the config key, for messages

    def resolve(self, target: str) -> str:
        value = os.environ.get(self.variable)
        if not value:
            raise ConfigError(
                f"target {target!r} needs {self.field}: set the environment variable "
                f"{self.variable} (or run with --sandbox)"
            )
        remember(value)
        return value

    def __str__(self) -> str:
        return f"env:{self.variable}"


def remember(value: str) -> None:
    """Marks a value as secret so `redact` scrubs it from now on."""
    if len(value) >= 4:
        with _lock:
            _known.add(value)


def redact(text: str) -> str:
    """`text` with every known secret replaced by ***, longest first."""
    if not _known:
        return text
    with _lock:
        values = sorted(_known, key=len, reverse=True)
    for value in values:
        if value in text:
            text = text.replace(value, _MASK)
    return text
