"""Seed documents: pre-existing platform objects (and faults) put into a sandbox before it serves.

A seed is one mapping whose keys are platform names plus `faults`; each platform section goes
to that platform's `seed()`. Files are YAML (1.2 scalars, as everywhere in metricsync) or JSON.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from metricsync.documents import load_file, locate
from metricsync.errors import ConfigError

if TYPE_CHECKING:
    from metricsync.sandbox.app import SandboxApp

FAULTS = "faults"


class SeedError(ConfigError, ValueError):
    """A seed cannot be applied; the message names its file (or source) and section."""


def seed_from_file(app: SandboxApp, path: Path) -> None:
    data, source = _read(path)
    unknown = [key for key in data if key not in _sections(app)]
    if unknown:
        line, column = locate(source, 0, [unknown[0]], at_key=True)
        where = f"{path}:{line}:{column}" if path.suffix != ".json" else str(path)
        raise SeedError(f"{where}: {_unknown_message(app, unknown)}")
    apply_seed(app, data, str(path))


def apply_seed(app: SandboxApp, data: dict[str, Any], source: str) -> None:
    """Passes each section on; `source` (a file name) starts every error message."""
    unknown = [key for key in data if key not in _sections(app)]
    if unknown:
        raise SeedError(f"{source}: {_unknown_message(app, unknown)}")
    for name, section in data.items():
        if name != FAULTS and not isinstance(section, dict | None):
            raise SeedError(f"{source}: section {name!r} must be a mapping")
        try:
            if name == FAULTS:
                app.faults.load(section or [])
            elif section is not None:
                app.platforms[name].seed(section)
        except (ValueError, TypeError, KeyError) as exc:
            raise SeedError(f"{source}: {name}: {exc}") from None


def _sections(app: SandboxApp) -> list[str]:
    return [*app.platforms, FAULTS]


def _unknown_message(app: SandboxApp, unknown: list[str]) -> str:
    names = ", ".join(repr(key) for key in unknown)
    return f"unknown section(s) {names} (expected: {', '.join(_sections(app))})"


def _read(path: Path) -> tuple[dict[str, Any], bytes]:
    try:
        source = path.read_bytes()
    except OSError as exc:
        raise SeedError(f"cannot read seed file {path}: {exc.strerror}") from None
    data = _parse_json(path, source) if path.suffix == ".json" else _parse_yaml(path, source)
    if data is None:
        return {}, source
    if not isinstance(data, dict):
        raise SeedError(f"{path}: a seed file is one mapping of platform names to sections")
    return data, source


def _parse_json(path: Path, source: bytes) -> Any:
    try:
        return json.loads(source)
    except json.JSONDecodeError as exc:
        raise SeedError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    except UnicodeDecodeError:
        raise SeedError(f"{path}: not UTF-8 text") from None


def _parse_yaml(path: Path, source: bytes) -> Any:
    loaded = load_file(str(path), source)
    if loaded.problems:
        raise SeedError(str(loaded.problems[0]))
    documents = [d for d in loaded.documents if d.data is not None]
    if len(documents) > 1:
        raise SeedError(f"{path}:{documents[1].line}:1: a seed file holds one YAML document")
    return documents[0].data if documents else None
