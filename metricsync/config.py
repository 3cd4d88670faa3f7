"""The project config as frozen values: targets, their policy and rules. Reading metricsync.yaml
into them is config_file.py's job."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from metricsync.errors import UsageError
from metricsync.governance import KindRules
from metricsync.secrets import SecretRef

CONFIG_SCHEMA = "config.schema.json"


@dataclass(frozen=True)
class Policy:
    prune: bool = False
    owner_tag: str = "managed-by-metricsync"
    foreign_owner_prefix: str = (
        "managed-by-"  # other repositories' markers (docs/config.md, policy)
    )
    protect_in_use: bool = True  # refuse deletes and replaces running experiments use (4.7)
    max_deletes: int = 5
    max_changes_percent: float = 30

    def merged(self, overrides: Mapping[str, Any]) -> Policy:
        return replace(self, **dict(overrides))


@dataclass(frozen=True)
class Target:
    name: str
    platform: str  # the platform's name (written `provider:` in metricsync.yaml)
    definitions: tuple[str, ...]  # folders as written, relative to the config file
    endpoint: str
    policy: Policy
    settings: Mapping[str, Any] = field(default_factory=dict)  # provider keys that are not secrets
    secrets: Mapping[str, SecretRef] = field(default_factory=dict)
    fixed_credentials: Mapping[str, str] | None = None  # set by --sandbox: no variables needed
    rules: Mapping[str, KindRules] = field(default_factory=dict)  # by kind

    def secret(self, key: str) -> str:
        """A secret config key's value, resolved now (ConfigError names a missing variable)."""
        if self.fixed_credentials is not None:
            return self.fixed_credentials[key]
        return self.secrets[key].resolve(self.name)

    def learnt(self, facts: Mapping[str, Any]) -> Target:
        """This target with facts remembered from earlier runs added to its settings."""
        return replace(self, settings={**self.settings, **facts}) if facts else self

    def pointed_at(self, endpoint: str, credentials: Mapping[str, str]) -> Target:
        return replace(self, endpoint=endpoint, fixed_credentials=dict(credentials))


@dataclass(frozen=True)
class Config:
    path: Path
    targets: Mapping[str, Target]
    policy: Policy

    @property
    def root(self) -> Path:
        return self.path.parent

    def select(self, names: Sequence[str] = ()) -> list[Target]:
        """The targets named (all when none are); an unknown name is a usage error."""
        unknown = [n for n in names if n not in self.targets]
        if unknown:
            known = ", ".join(self.targets) or "none"
            raise UsageError(f"unknown target {unknown[0]!r} (targets: {known})")
        return [self.targets[n] for n in (names or self.targets)]

    def folder(self, relative: str) -> Path:
        return (self.root / relative).resolve()


def display_path(path: Path) -> str:
    """A path as users want to read it: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
