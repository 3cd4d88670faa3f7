"""What every emulated platform provides to the sandbox app."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from http import HTTPStatus
from typing import Any, ClassVar

from metricsync.sandbox.http import Request, Response
from metricsync.sandbox.store import Store

Clock = Callable[[], float]  # epoch seconds; tests pass a fake one
# Pieces of a seed_shape: a list of objects, one object (either may be null)
SEED_OBJECTS = {"type": ["array", "null"], "items": {"type": "object"}}
SEED_OBJECT = {"type": ["object", "null"]}
_PHRASES = {status.value: status.phrase for status in HTTPStatus}


class SandboxPlatform(ABC):
    """One platform's API: owns the path prefixes it serves, its auth, limits and state.

    `settings` holds the platform's documented choices for behaviours its api/ document marks
    unconfirmed; `configure` changes them at run time (seed files, admin endpoint, flags).
    """

    name: ClassVar[str]
    prefixes: ClassVar[tuple[str, ...]]
    # The JSON schema of this platform's seed section: the shape its seed() relies on (seed.py
    # checks it first, placing errors in the file); seed() still checks keys and values.
    seed_shape: ClassVar[dict[str, Any]]

    def __init__(self, store: Store, clock: Clock = time.time) -> None:
        self.store, self.clock = store, clock

    @abstractmethod
    def handle(self, request: Request) -> Response:
        """Answers any request under this platform's prefixes, errors included."""

    @abstractmethod
    def seed(self, data: dict[str, Any]) -> None:
        """Adds pre-existing objects (this platform's section of a seed file)."""

    def provide(self, data: dict[str, Any]) -> None:
        """Adds the objects a project's definitions reference but metricsync does not manage
        (a seed section, from Platform.sandbox_references), keeping any that exist already."""
        raise NotImplementedError(f"the {self.name} sandbox checks no references")

    @abstractmethod
    def configure(self, settings: dict[str, Any]) -> None:
        """Changes documented choices; unknown keys raise ValueError naming them."""

    @abstractmethod
    def credentials(self) -> dict[str, str]:
        """The credentials this sandbox accepts, by metricsync config key (e.g. api_key)."""

    def describe_settings(self) -> dict[str, Any]:
        """Current value of every configurable choice, for `sandbox serve` and the docs."""
        return {}

    def error_response(self, status: int, retry_after: int | None) -> Response:
        """An injected 429/5xx answer; platforms override it to use their own error shape."""
        headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
        return Response.json(status, {"message": _PHRASES.get(status, f"HTTP {status}")}, headers)

    def relink(
        self, payload: dict[str, Any], request: Request, cyclic: bool, origin: str | None
    ) -> None:
        """For the hostile list-page faults (hostile.py): makes a list page link a next page
        (itself when `cyclic`), on `origin` when given, and drops its total count, so a client
        must follow links."""
        return  # the default, for platforms without list pages

    def owns(self, path: str) -> bool:
        return path.startswith(self.prefixes)
