"""A problem found in the user's files, with the place it points at."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from metricsync.display import printable

Severity = Literal["error", "warning"]


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    line: int
    column: int
    message: str
    pointer: str = ""
    severity: Severity = "error"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        label = "" if self.severity == "error" else "warning: "
        at = f" [{self.pointer}]" if self.pointer else ""
        return printable(f"{where}: {label}{self.message}{at}")  # file names are user text too


def pointer_of(path: tuple[str | int, ...]) -> str:
    """RFC 6901 JSON pointer for a path of keys and indexes."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)
