"""A content-addressed cache of per-file validation results under .metricsync/cache/.

An entry is used only when the file's bytes hash to the same digest and the cache was written by
the same metricsync version, schemas and validation code, so it can never serve a stale result.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import metricsync
from metricsync import schema
from metricsync.files import write_whole
from metricsync.problems import Problem

Valid = tuple[int, int, Any]  # document index, line, data
# The modules whose code decides a file's result: a change to any of them empties the cache.
CODE = (
    "cache.py", "documents.py", "governance.py", "problems.py", "rule_checks.py", "schema.py",
    "validation.py",
)  # fmt: skip
RULE_SETS_KEPT = 4  # rule results per file, by the rules' fingerprint (targets may differ)


@dataclass
class FileResult:
    problems: list[Problem] = field(default_factory=list)
    valid: list[Valid] = field(default_factory=list)


def cache_key() -> str:
    """Names everything besides a file's bytes that its result depends on."""
    hasher = hashlib.blake2b(digest_size=16)
    package = Path(__file__).parent
    for name in CODE:
        try:
            hasher.update((package / name).read_bytes())
        except OSError:  # installed without sources: the version still tells releases apart
            hasher.update(name.encode())
    return f"{metricsync.__version__}:{schema.digest()}:{hasher.hexdigest()}"


class ValidationCache:
    """Results by file path; entries are read on first use and pruned when their file is gone."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "validate.json"
        self._entries: dict[str, list[Any]] | None = None
        self._digests: dict[str, str] = {}  # computed by lookup, reused by store
        self._dirty = False
        self._key: str | None = None

    @property
    def key(self) -> str:
        if self._key is None:
            self._key = cache_key()
        return self._key

    def lookup(self, key: str, file: str, source: bytes) -> FileResult | None:
        """The stored result for `key` if its bytes are unchanged; problems name `file`."""
        digest = self._digests[key] = _digest(source)
        entry = self._load().get(key)
        if entry is None or entry[0] != digest:
            return None
        try:
            problems = [_problem(file, fields) for fields in entry[1]]
            return FileResult(problems, [(i, line, data) for i, line, data in entry[2]])
        except (TypeError, ValueError):  # an entry of another shape: validate the file afresh
            return None

    def store(self, key: str, source: bytes, result: FileResult) -> None:
        digest = self._digests[key] = self._digests.get(key) or _digest(source)
        problems = [[p.line, p.column, p.message, p.pointer, p.severity] for p in result.problems]
        self._load()[key] = [digest, problems, [list(v) for v in result.valid]]
        self._dirty = True

    def rule_problems(self, key: str, file: str, fingerprint: str) -> list[Problem] | None:
        """The problems the rules with `fingerprint` found in the file's current bytes."""
        entry = self._load().get(key)
        kept = entry[3] if entry is not None and len(entry) > 3 else None
        found = kept.get(fingerprint) if isinstance(kept, dict) else None
        if entry is None or entry[0] != self._digests.get(key) or found is None:
            return None
        try:
            return [_problem(file, fields) for fields in found]
        except (TypeError, ValueError):
            return None

    def store_rule_problems(self, key: str, fingerprint: str, problems: list[Problem]) -> None:
        entry = self._load().get(key)
        if entry is None or entry[0] != self._digests.get(key):
            return
        if len(entry) < 4 or not isinstance(entry[3], dict):
            entry[3:] = [{}]
        kept: dict[str, Any] = entry[3]
        kept.pop(fingerprint, None)
        kept[fingerprint] = [[p.line, p.column, p.message, p.pointer, p.severity] for p in problems]
        for old in list(kept)[:-RULE_SETS_KEPT]:
            del kept[old]
        self._dirty = True

    def save(self) -> None:
        """Writes the cache atomically, without entries of deleted files; a read-only project
        simply goes without."""
        entries = self._load()
        gone = [key for key in entries if key not in self._digests and not os.path.exists(key)]
        for key in gone:
            del entries[key]
        if not (self._dirty or gone):
            return
        try:
            # dumps, not dump: only a one-shot encode runs in C (dump is 10x slower here).
            document = {"key": self.key, "files": entries}
            text = json.dumps(document, separators=(",", ":"), allow_nan=False)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_whole(self.path, text)
        except (OSError, ValueError):
            return
        self._dirty = False

    def _load(self) -> dict[str, list[Any]]:
        if self._entries is None:
            self._entries = self._read()
        return self._entries

    def _read(self) -> dict[str, list[Any]]:
        try:
            document = json.loads(self.path.read_bytes())
        except (OSError, ValueError, RecursionError):
            return {}
        if not isinstance(document, dict) or document.get("key") != self.key:
            self._dirty = True  # written by another version: replace it even if nothing changes
            return {}
        files = document.get("files")
        if not isinstance(files, dict):
            return {}
        # [digest, problems, valid, (rule problems)]; an entry edited into another shape is
        # dropped, and its file validated afresh.
        return {k: v for k, v in files.items() if isinstance(v, list) and len(v) >= 3}


PROBLEM_FIELDS = (int, int, str, str, str)  # line, column, message, pointer, severity


def _problem(file: str, fields: Any) -> Problem:
    """A stored problem; ValueError when the entry was edited into another shape (a line that
    is not a number would otherwise reach sorting and printing)."""
    if not isinstance(fields, list) or len(fields) != len(PROBLEM_FIELDS):
        raise ValueError("not a stored problem")
    if not all(type(v) is t for v, t in zip(fields, PROBLEM_FIELDS, strict=True)):
        raise ValueError("not a stored problem")
    if fields[4] not in ("error", "warning"):
        raise ValueError("not a stored problem")
    return Problem(file, *fields)


def _digest(source: bytes) -> str:
    return hashlib.blake2b(source, digest_size=16).hexdigest()
