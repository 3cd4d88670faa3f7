"""What a networked command works on: the validated project, its selected targets, and where
they point (the real platforms, or the embedded sandbox with its own credentials)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from metricsync import facts
from metricsync.cache import ValidationCache
from metricsync.config import Config, Target
from metricsync.definitions import Definition
from metricsync.errors import InvalidInput
from metricsync.platforms import PLATFORMS
from metricsync.problems import Problem
from metricsync.validation import Validation, validate_project


@dataclass(frozen=True)
class Workspace:
    config: Config
    targets: tuple[Target, ...]
    validation: Validation
    sandbox_url: str | None = None

    def definitions(self, target: Target) -> list[Definition]:
        return self.validation.for_target(target)

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.validation.problems if p.severity == "warning"]

    @property
    def state_dir(self) -> Path:
        return self.config.root / ".metricsync"


@contextmanager
def open_workspace(
    config_path: Path, names: Sequence[str] = (), sandbox: bool = False, lenient_rules: bool = False
) -> Iterator[Workspace]:
    """Validates the project (raising InvalidInput, exit 3, before any request) and, with
    `sandbox`, serves the embedded sandbox for the duration of the block. `lenient_rules`:
    breaking the config's `rules` does not stop the command (import)."""
    state_dir = config_path.parent / ".metricsync"
    cache = ValidationCache(state_dir / "cache")
    validation = validate_project(config_path, names, cache, lenient_rules=lenient_rules)
    if validation.config is None or not validation.ok:
        raise InvalidInput(validation.problems)
    config = validation.config
    remembered = facts.load(state_dir)
    targets = tuple(t.learnt(remembered.get(t.name, {})) for t in config.select(names))
    if not sandbox:
        yield Workspace(config, targets, validation)
        return
    from metricsync.sandbox.embedded import EmbeddedSandbox  # loaded only for --sandbox: start-up

    with EmbeddedSandbox(state_dir) as embedded:
        for platform, section in sandbox_references(targets, validation):
            embedded.provide(platform, section)
        credentials = embedded.credentials()
        pointed = tuple(
            t.pointed_at(embedded.url + PLATFORMS[t.platform].sandbox_path, credentials[t.platform])
            for t in targets
        )
        yield Workspace(config, pointed, validation, embedded.url)


def sandbox_references(
    targets: Sequence[Target], validation: Validation
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(platform, seed section) of the objects each target's definitions reference but
    metricsync does not manage: --sandbox provides them before serving (docs/sandbox/README.md)."""
    for target in targets:
        references = PLATFORMS[target.platform].sandbox_references
        if references is not None:
            section = references(target, validation.for_target(target))
            if section:
                yield target.platform, section
