"""A content-addressed cache of per-file validation results under .metricsync/cache/.

An entry is used only when the file's bytes hash to the same digest and the cache was written by
the same metricsync version with the same schemas, so it can never serve a stale result.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from metricsync import __version__, schema
from metricsync.problems import Problem

Valid = tuple[int, int, Any]  # document index, line, data


@dataclass
class FileResult:
    problems: list[Problem] = field(default_factory=list)
    valid: list[Valid] = field(default_factory=list)


class ValidationCache:
    def __init__(self, directory: Path) -> None:
        self.path = directory / "validate.json"
        self.key = f"{__version__}:{schema.digest()}"
        self._entries: dict[str, Any] = self._read()
        self._dirty = False

    def lookup(self, file: str, source: bytes) -> FileResult | None:
        entry = self._entries.get(file)
        if entry is None or entry["digest"] != _digest(source):
            return None
        return FileResult(
            problems=[Problem(**p) for p in entry["problems"]],
            valid=[(i, line, data) for i, line, data in entry["valid"]],
        )

    def store(self, file: str, source: bytes, result: FileResult) -> None:
        self._entries[file] = {
            "digest": _digest(source),
            "problems": [p.__dict__ for p in result.problems],
            "valid": [list(v) for v in result.valid],
        }
        self._dirty = True

    def save(self) -> None:
        """Writes the cache atomically; a read-only project simply goes without."""
        if not self._dirty:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.path.parent, suffix=".tmp")
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump({"key": self.key, "files": self._entries}, out, separators=(",", ":"))
            os.replace(temporary, self.path)
        except OSError:
            return
        self._dirty = False

    def _read(self) -> dict[str, Any]:
        try:
            document = json.loads(self.path.read_bytes())
        except (OSError, ValueError):
            return {}
        if not isinstance(document, dict) or document.get("key") != self.key:
            return {}
        files = document.get("files")
        return files if isinstance(files, dict) else {}


def _digest(source: bytes) -> str:
    return hashlib.blake2b(source, digest_size=16).hexdigest()
