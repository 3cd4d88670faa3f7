"""The sandbox inside one metricsync command (`--sandbox`): a loopback server on a free port in a
background thread, its state kept in `<state_dir>/sandbox.db` so separate commands share it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from metricsync.errors import ConfigError
from metricsync.sandbox.app import SandboxApp
from metricsync.sandbox.faults import faults_from_environment
from metricsync.sandbox.server import SandboxServer
from metricsync.sandbox.store import Store

DATABASE = "sandbox.db"


class EmbeddedSandbox:
    """`with EmbeddedSandbox(Path(".metricsync")) as sandbox:` serves on `sandbox.url`.

    `state_dir=None` (or `EmbeddedSandbox.in_memory()`) keeps nothing after the block. Faults
    come from METRICSYNC_SANDBOX_LATENCY_MS and METRICSYNC_SANDBOX_FAULTS in `environ`.
    """

    def __init__(self, state_dir: Path | None, environ: Mapping[str, str] | None = None) -> None:
        self.store = Store(state_dir / DATABASE) if state_dir is not None else Store()
        self.app = SandboxApp(self.store)
        try:
            faults_from_environment(self.app.faults, os.environ if environ is None else environ)
        except ValueError as exc:
            self.store.close()
            raise ConfigError(str(exc)) from None
        self._server: SandboxServer | None = None

    @classmethod
    def in_memory(cls, environ: Mapping[str, str] | None = None) -> EmbeddedSandbox:
        return cls(None, environ)

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the embedded sandbox is not running (use it in a with block)")
        return self._server.url

    def credentials(self) -> dict[str, dict[str, str]]:
        """The credentials it accepts: {platform name: {config key: value}}."""
        return self.app.credentials()

    def provide(self, platform: str, references: dict[str, Any]) -> None:
        """Makes the objects a project references but does not manage exist
        (docs/sandbox/README.md)."""
        self.app.platforms[platform].provide(references)

    def __enter__(self) -> EmbeddedSandbox:
        self._server = SandboxServer(self.app).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
        self.store.close()
