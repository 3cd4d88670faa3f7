"""The one error tree: every expected failure is a MetricsyncError carrying its exit code.

The CLI prints each one once, as `Error: …` on stderr; nothing else prints errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from metricsync.problems import Problem


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1
    CHANGES = 2
    INVALID = 3
    PARTIAL = 4
    REFUSED = 5
    USAGE = 64
    INTERRUPTED = 130  # SIGINT (Ctrl-C): 128 + the signal's number, as shells report it
    TERMINATED = 143  # SIGTERM


class MetricsyncError(Exception):
    exit_code: ExitCode = ExitCode.ERROR


class UsageError(MetricsyncError):
    exit_code = ExitCode.USAGE


class ConfigError(MetricsyncError):
    """The project cannot be used as configured (missing variable, unknown target...)."""

    exit_code = ExitCode.INVALID


class InvalidInput(MetricsyncError):
    """Files failed validation; `problems` holds every one, in file order."""

    exit_code = ExitCode.INVALID

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        count = sum(1 for p in self.problems if p.severity == "error")
        super().__init__(f"{count} problem{'s' if count != 1 else ''} found; nothing was sent")


class Refused(MetricsyncError):
    """A safety rule stopped the run before anything was sent."""

    exit_code = ExitCode.REFUSED


class NetworkError(MetricsyncError):
    """The platform could not be reached or did not answer."""


class NotTaken(MetricsyncError):
    """The platform accepted a write but its answer does not hold every field that was sent."""


class ApiError(MetricsyncError):
    """The platform answered with an error; the message names the request that failed."""

    def __init__(self, target: str, method: str, url: str, status: int, detail: str) -> None:
        self.target, self.method, self.url = target, method, url
        self.status, self.detail = status, detail
        super().__init__(f"{target}: {method} {url} failed with HTTP {status}: {detail}")
