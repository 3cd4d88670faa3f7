"""Checks for the settings that switch a sandbox platform's documented choices (`configure`).

Each check takes the setting's name and the new value and returns the value to keep, or raises
ValueError naming the setting, so a bad seed file or test fails where it says what it wants.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

Check = Callable[[str, Any], Any]
Settings = TypeVar("Settings", bound="DataclassInstance")


def updated(
    current: Settings, changes: Mapping[str, Any], checks: Mapping[str, Check], platform: str
) -> Settings:
    """`current` with `changes` applied; nothing changes unless every change is valid."""
    unknown = sorted(set(changes) - set(checks))
    if unknown:
        raise ValueError(f"unknown {platform} setting(s): {', '.join(unknown)}")
    return dataclasses.replace(current, **{k: checks[k](k, v) for k, v in changes.items()})


def describe(settings: DataclassInstance) -> dict[str, Any]:
    return {f.name: getattr(settings, f.name) for f in dataclasses.fields(settings)}


def status(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 100 <= value <= 599:
        raise ValueError(f"{name} must be an HTTP status code, got {value!r}")
    return value


def boolean(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false, got {value!r}")
    return value


def text(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    return value


def number(minimum: float) -> Check:
    def check(name: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
            raise ValueError(f"{name} must be a number >= {minimum}, got {value!r}")
        return value

    return check


def integer(minimum: int) -> Check:
    def check(name: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
        return value

    return check


def one_of(*options: str) -> Check:
    def check(name: str, value: Any) -> str:
        if value not in options:
            raise ValueError(f"{name} must be one of {', '.join(options)}, got {value!r}")
        return str(value)

    return check


def optional(inner: Check) -> Check:
    def check(name: str, value: Any) -> Any:
        return None if value is None else inner(name, value)

    return check
