"""Usage payloads from one file given on the command line: `unleash/usage` definitions (YAML) or
raw client-metrics payloads (JSON, or YAML documents without `kind`), checked against the
published schema and the server's rules, every problem placed at its file:line:column."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from metricsync import schema
from metricsync.config import display_path
from metricsync.definitions import Definition, from_document
from metricsync.documents import Document, Locator, load_file, problem_at
from metricsync.errors import ConfigError
from metricsync.platforms.unleash.kinds import USAGE
from metricsync.problems import Problem


@dataclass
class PayloadFile:
    file: str
    payloads: list[Definition] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    ignored: int = 0  # documents of other kinds

    @property
    def ok(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)


def read_payloads(path: Path) -> PayloadFile:
    """Every payload of the file, with every problem found in it."""
    try:
        source = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    result = PayloadFile(display_path(path))
    locator = Locator(source)
    checked = {}
    for document in _documents(result, source, raw=path.suffix.lower() == ".json"):
        raw = not (isinstance(document.data, dict) and "kind" in document.data)
        if not raw and document.data.get("kind") != USAGE.name:
            result.ignored += 1
        elif _schema_check(result, locator, document, raw):
            result.payloads.append(_definition(document, raw, result.file))
            checked[document.index] = (document, raw)
    for finding in USAGE.checks(result.payloads):
        document, raw = checked[finding.definition.index]
        where = finding.path[1:] if raw else finding.path  # a raw payload is the spec itself
        problem = problem_at(locator, document, where, finding.message, severity=finding.severity)
        result.problems.append(problem)
    result.problems.sort(key=lambda p: (p.line, p.column, p.message))
    return result


def _schema_check(result: PayloadFile, locator: Locator, document: Document, raw: bool) -> bool:
    """Adds the document's schema problems; True when it has none."""
    errors = _schema_errors(document.data, raw, result.file)
    for path, message, at_key in errors:
        where = path[1:] if raw else path
        result.problems.append(problem_at(locator, document, where, message, at_key=at_key))
    return not errors


def _documents(result: PayloadFile, source: bytes, raw: bool) -> Iterator[Document]:
    """JSON is read as Unleash reads it (the last duplicate key wins; no NaN); YAML as
    definitions are."""
    if not raw:
        loaded = load_file(result.file, source)
        result.problems += loaded.problems
        yield from (d for d in loaded.documents if d.data is not None)
        return
    try:
        yield Document(result.file, 0, 1, json.loads(source, parse_constant=_no_constant))
    except json.JSONDecodeError as exc:
        problem = Problem(result.file, exc.lineno, exc.colno, f"invalid JSON: {exc.msg}")
        result.problems.append(problem)
    except (UnicodeDecodeError, ValueError) as exc:
        result.problems.append(Problem(result.file, 1, 1, f"invalid JSON: {exc}"))
    except RecursionError:
        result.problems.append(Problem(result.file, 1, 1, "the JSON is nested too deeply to read"))


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _schema_errors(
    data: Any, raw: bool, file: str
) -> list[tuple[tuple[str | int, ...], str, bool]]:
    """Schema errors; a raw payload is checked as the `spec` of a definition envelope."""
    if raw and not isinstance(data, dict):
        return [
            (("spec",), "a client-metrics payload is a JSON object (appName, bucket, …)", False)
        ]
    instance = {"kind": USAGE.name, "name": file, "spec": data} if raw else data
    return [(e.path, e.message, e.at_key) for e in schema.validator(USAGE.schema).errors(instance)]


def _definition(document: Document, raw: bool, file: str) -> Definition:
    if not raw:
        return from_document(document.data, file, document.index, document.line)
    name = file if document.index == 0 else f"{file} (document {document.index + 1})"
    return Definition(
        USAGE.name, name, document.data, file=file, index=document.index, line=document.line
    )
