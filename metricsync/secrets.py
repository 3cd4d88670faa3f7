"""Secret references (`env:NAME`): resolved only when a target is used, and scrubbed from text.

Every value resolved here is remembered so that `redact` can remove it from any message, log line
or file before it leaves the process, as written and in the escaped forms error messages quote.
"""

from __future__ import annotations

import json
import os
import threading
import unicodedata
from dataclasses import dataclass
from urllib.parse import quote

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
        if any(_is_control(char) for char in value):
            # never the value: an error message is the very place a secret must not reach
            raise ConfigError(
                f"target {target!r} needs {self.field}: the environment variable "
                f"{self.variable} holds a control character (a line break such as a Windows "
                "\\r\\n line ending, a tab or similar); set it to the secret alone"
            )
        if not value.isascii() or value != value.strip():
            # a header cannot carry it (h11 refuses it, quoting it in its error): never sent
            raise ConfigError(
                f"target {target!r} needs {self.field}: the environment variable "
                f"{self.variable} holds {_not_sendable(value)}, which API keys and tokens "
                "never do; set it to the secret alone"
            )
        remember(value)
        return value

    def __str__(self) -> str:
        return f"env:{self.variable}"


def _not_sendable(value: str) -> str:
    """What is wrong with a value an HTTP header cannot carry, without showing any of it."""
    if not value.isascii():
        return "a character that is not ASCII (or bytes that are not text)"
    return "spaces at its start or end"


def _is_control(char: str) -> bool:
    """C0/C1 controls, DEL, and the Unicode line and paragraph separators."""
    return unicodedata.category(char) in ("Cc", "Zl", "Zp")


def remember(value: str) -> None:
    """Marks a value as secret so `redact` scrubs it from now on, with the forms it takes when
    quoted by Python or JSON (a `\\r` escaped, `b'...'` of its bytes) or put into a URL."""
    if len(value) < 4:
        return
    forms = {value, *_quoted_forms(value)}
    with _lock:
        _known.update(form for form in forms if len(form) >= 4)


def _quoted_forms(value: str) -> set[str]:
    return {
        repr(value)[1:-1],  # str repr: escapes, either quote
        repr(value.encode("utf-8"))[2:-1],  # b'...' as an HTTP library quotes a header value
        value.encode("unicode_escape").decode("ascii"),
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        quote(value, safe=""),
    }


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
