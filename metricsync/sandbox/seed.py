"""Seed documents: pre-existing platform objects (and faults) put into a sandbox before it serves.

A seed is one mapping whose keys are platform names plus `faults`; each platform section goes
to that platform's emulator, checked against its `seed_shape`, then passed to its `seed()`.
Files are YAML (1.2 scalars, as everywhere in metricsync) or JSON.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from metricsync.documents import load_file, locate, non_finite
from metricsync.errors import ConfigError
from metricsync.problems import pointer_of
from metricsync.schema import SchemaError, Validator

if TYPE_CHECKING:
    from metricsync.sandbox.faults import Faults
    from metricsync.sandbox.platform import SandboxPlatform

FAULTS = "faults"
FAULTS_SHAPE = {"type": ["array", "object", "null"]}


class Seedable(Protocol):
    """What a seed fills (a SandboxApp): the emulators by platform name, and the faults."""

    @property
    def platforms(self) -> Mapping[str, SandboxPlatform]: ...

    @property
    def faults(self) -> Faults: ...


class SeedError(ConfigError, ValueError):
    """A seed cannot be applied; the message names its file (or source) and section."""


def seed_from_file(app: Seedable, path: Path) -> None:
    data, source = _read(path)
    unknown = [key for key in data if key not in _sections(app)]
    if unknown:
        line, column = locate(source, 0, [unknown[0]], at_key=True)
        where = f"{path}:{line}:{column}" if path.suffix != ".json" else str(path)
        raise SeedError(f"{where}: {_unknown_message(app, unknown)}")
    errors = shape_errors(app, data)
    if errors:
        first = errors[0]
        where = str(path)
        if path.suffix != ".json":
            line, column = locate(source, 0, first.path, at_key=first.at_key)
            where += f":{line}:{column}"
        raise SeedError(f"{where}: {_shape_message(first)}")
    apply_seed(app, data, str(path))


def shape_errors(app: Seedable, data: Any) -> list[SchemaError]:
    """Where `data` breaks the shape every emulator's seed() relies on (its `seed_shape`)."""
    return _shape(tuple((name, type(p)) for name, p in app.platforms.items())).errors(data)


@functools.cache
def _shape(emulators: tuple[tuple[str, type[SandboxPlatform]], ...]) -> Validator:
    sections = {name: emulator.seed_shape for name, emulator in emulators}
    return Validator({"type": "object", "properties": {**sections, FAULTS: FAULTS_SHAPE}})


def _shape_message(error: SchemaError) -> str:
    at = pointer_of(error.path)
    return f"{error.message} [{at}]" if at else error.message


def apply_seed(app: Seedable, data: dict[str, Any], source: str) -> None:
    """Passes each section on; `source` (a file name) starts every error message."""
    unknown = [key for key in data if key not in _sections(app)]
    if unknown:
        raise SeedError(f"{source}: {_unknown_message(app, unknown)}")
    errors = shape_errors(app, data)
    if errors:
        raise SeedError(f"{source}: {_shape_message(errors[0])}")
    for name, section in data.items():
        try:
            if name == FAULTS:
                app.faults.load(section or [])
            elif section is not None:
                app.platforms[name].seed(section)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            # The shape is checked above; a platform's own checks name what else is wrong.
            raise SeedError(f"{source}: {name}: {exc}") from None
        except RecursionError:
            raise SeedError(f"{source}: {name}: nested too deeply") from None


def _sections(app: Seedable) -> list[str]:
    return [*app.platforms, FAULTS]


def _unknown_message(app: Seedable, unknown: list[str]) -> str:
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
        return json.loads(source, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise SeedError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    except UnicodeDecodeError:
        raise SeedError(f"{path}: not UTF-8 text") from None
    except RecursionError:
        raise SeedError(f"{path}: the JSON is nested too deeply to read") from None
    except SeedError as exc:
        raise SeedError(f"{path}: {exc}") from None


def _no_constant(name: str) -> Any:
    raise SeedError(f"{name} is not a JSON number")


def _parse_yaml(path: Path, source: bytes) -> Any:
    loaded = load_file(str(path), source)
    if loaded.problems:
        raise SeedError(str(loaded.problems[0]))
    for document in loaded.documents if loaded.non_finite else ():
        for where, message in non_finite(document.data):
            line, column = locate(source, document.index, where)
            raise SeedError(f"{path}:{line}:{column}: {message} [{pointer_of(where)}]")
    documents = [d for d in loaded.documents if d.data is not None]
    if len(documents) > 1:
        raise SeedError(f"{path}:{documents[1].line}:1: a seed file holds one YAML document")
    return documents[0].data if documents else None
