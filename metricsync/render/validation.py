"""Validation results as text, JSON, or GitHub workflow annotations."""

from __future__ import annotations

import json

from metricsync.display import printable
from metricsync.problems import Problem
from metricsync.validation import Validation

FORMAT_VERSION = 1


def render(result: Validation, output_format: str) -> str:
    if output_format == "json":
        return _json(result)
    if output_format == "github":
        return "".join(_annotation(p) + "\n" for p in result.problems) + _summary(result) + "\n"
    return "".join(f"{p}\n" for p in result.problems) + _summary(result) + "\n"


def _summary(result: Validation) -> str:
    errors = sum(1 for p in result.problems if p.severity == "error")
    warnings = len(result.problems) - errors
    counts = f"{_count(errors, 'error')}, {_count(warnings, 'warning')}"
    verdict = "valid" if result.ok else "invalid"
    if result.config is None:
        return f"{verdict}: {counts} (definitions are checked once the config is valid)"
    definitions = _count(sum(len(group) for group in result.definitions.values()), "definition")
    return f"{verdict}: {counts} ({definitions} in {_count(result.files, 'file')})"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'s' * (number != 1)}"


def _json(result: Validation) -> str:
    document = {
        "format_version": FORMAT_VERSION,
        "valid": result.ok,
        "problems": [
            {
                "file": p.file,
                "line": p.line,
                "column": p.column,
                "pointer": p.pointer,
                "severity": p.severity,
                "message": p.message,
            }
            for p in result.problems
        ],
    }
    return json.dumps(document, indent=2) + "\n"


def _annotation(problem: Problem) -> str:
    """One workflow command; GitHub places it on the pull request's line."""
    properties = ",".join(
        f"{key}={_escape_property(value)}"
        for key, value in (
            ("file", problem.file),
            ("line", str(problem.line)),
            ("col", str(problem.column)),
            ("title", f"metricsync: {problem.pointer or 'definition'}"),
        )
    )
    return f"::{problem.severity} {properties}::{_escape_data(problem.message)}"


def _escape_data(value: str) -> str:
    value = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return printable(value)  # and no other control character reaches the workflow log


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")
