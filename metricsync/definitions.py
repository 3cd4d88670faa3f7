"""The desired model: definition documents as frozen values, past the loader and the schema."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Lifecycle:
    protect: bool = False
    renamed_from: tuple[str, ...] = ()
    ignore_changes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Definition:
    kind: str
    name: str
    spec: Mapping[str, Any]
    lifecycle: Lifecycle = field(default_factory=Lifecycle)
    file: str = "<memory>"
    index: int = 0  # document number within the file
    line: int = 1

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


def from_document(data: Mapping[str, Any], file: str, index: int, line: int) -> Definition:
    """Builds a Definition from a document that already passed its kind's schema."""
    lifecycle = data.get("lifecycle") or {}
    return Definition(
        kind=data["kind"],
        name=data["name"],
        spec=data["spec"],
        lifecycle=Lifecycle(
            protect=bool(lifecycle.get("protect", False)),
            renamed_from=tuple(lifecycle.get("renamed_from", ())),
            ignore_changes=tuple(lifecycle.get("ignore_changes", ())),
        ),
        file=file,
        index=index,
        line=line,
    )
