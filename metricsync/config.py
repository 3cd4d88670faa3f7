"""The project config (metricsync.yaml): schema-checked, then turned into frozen targets."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from metricsync import schema
from metricsync.documents import load_file, problem_at
from metricsync.errors import ConfigError, UsageError
from metricsync.platforms import PLATFORMS
from metricsync.problems import Problem
from metricsync.secrets import SecretRef

CONFIG_SCHEMA = "config.schema.json"


@dataclass(frozen=True)
class Policy:
    prune: bool = False
    owner_tag: str = "managed-by-metricsync"
    max_deletes: int = 5
    max_changes_percent: float = 30

    def merged(self, overrides: Mapping[str, Any]) -> Policy:
        return replace(self, **dict(overrides))


@dataclass(frozen=True)
class Target:
    name: str
    provider: str
    definitions: tuple[str, ...]  # folders as written, relative to the config file
    endpoint: str
    policy: Policy
    settings: Mapping[str, Any] = field(default_factory=dict)  # provider keys that are not secrets
    secrets: Mapping[str, SecretRef] = field(default_factory=dict)
    fixed_credentials: Mapping[str, str] | None = None  # set by --sandbox: no variables needed

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


def read_config(path: Path) -> tuple[Config | None, list[Problem]]:
    """The config and every problem found in it; the config is None when any is an error."""
    try:
        source = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"no config file at {path} (pass --config PATH)") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    file = display_path(path)
    loaded = load_file(file, source)
    problems = list(loaded.problems)
    documents = [d for d in loaded.documents if d.data is not None]
    if problems:
        return None, problems
    if len(documents) != 1 or not isinstance(documents[0].data, dict):
        return None, [Problem(file, 1, 1, "the config must be one YAML mapping (version, targets)")]
    document = documents[0]
    for error in schema.validator(CONFIG_SCHEMA).errors(document.data):
        problems.append(
            problem_at(source, document, error.path, error.message, at_key=error.at_key)
        )
    if problems:
        return None, problems
    problems += [
        problem_at(source, document, where, message) for where, message in _url_rules(document.data)
    ]
    if problems:
        return None, problems
    return _build(path.resolve(), document.data), []


def load_config(path: Path) -> Config:
    """The config, or InvalidInput with every problem in it."""
    from metricsync.errors import InvalidInput

    config, problems = read_config(path)
    if config is None:
        raise InvalidInput(problems)
    return config


def _url_rules(data: dict[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
    found: list[tuple[tuple[str | int, ...], str]] = []
    for name, target in data["targets"].items():
        key = PLATFORMS[target["provider"]].endpoint_key
        url = target.get(key)
        if isinstance(url, str) and not _secure_enough(url):
            message = f"plain http:// is refused for {urlsplit(url).hostname!r}; use https://"
            found.append((("targets", name, key), message + " (http is allowed for loopback only)"))
    return found


def _secure_enough(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme != "http":
        return True
    host = parts.hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _build(path: Path, data: dict[str, Any]) -> Config:
    policy = Policy().merged(data.get("policy", {}))
    targets = {name: _target(name, raw, policy) for name, raw in data["targets"].items()}
    return Config(path, targets, policy)


def _target(name: str, raw: dict[str, Any], policy: Policy) -> Target:
    platform = PLATFORMS[raw["provider"]]
    endpoint = raw.get(platform.endpoint_key) or platform.default_endpoint or ""
    reserved = {"provider", "definitions", "policy", platform.endpoint_key, *platform.secrets}
    settings = dict(platform.settings_defaults)
    settings.update({k: v for k, v in raw.items() if k not in reserved})
    return Target(
        name=name,
        provider=platform.name,
        definitions=tuple(raw["definitions"]),
        endpoint=endpoint.rstrip("/"),
        policy=policy.merged(raw.get("policy", {})),
        settings=settings,
        secrets={k: SecretRef(raw[k][4:], k) for k in platform.secrets if k in raw},
    )


def display_path(path: Path) -> str:
    """A path as users want to read it: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
