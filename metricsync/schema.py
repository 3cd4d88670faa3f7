"""The JSON Schemas shipped inside the package: loading, a fast screen, precise explanations.

A compiled validator (jsonschema-rs) screens every document; python-jsonschema explains only the
documents that fail, so valid files cost microseconds and invalid ones get exact messages.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class SchemaError:
    path: Path
    message: str
    at_key: bool = False  # the error is about the key itself (unknown or forbidden field)


def resource_names() -> list[str]:
    """Every shipped schema, as a path relative to the schemas folder."""
    root = resources.files("metricsync") / "schemas"
    names = []
    for entry in root.iterdir():
        if entry.is_dir():
            names += [f"{entry.name}/{f.name}" for f in entry.iterdir() if f.name.endswith(".json")]
        elif entry.name.endswith(".json"):
            names.append(entry.name)
    return sorted(names)


@functools.cache
def text(name: str) -> str:
    return (resources.files("metricsync") / "schemas" / name).read_text("utf-8")


@functools.cache
def load(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(text(name))
    return document


def digest() -> str:
    """Changes whenever any shipped schema changes (part of every cache key)."""
    hasher = hashlib.blake2b(digest_size=16)
    for name in resource_names():
        hasher.update(name.encode() + b"\0" + text(name).encode())
    return hasher.hexdigest()


class Validator:
    """Validates instances against one schema; build once per schema and reuse."""

    def __init__(self, schema: dict[str, Any]) -> None:
        import jsonschema_rs

        self.schema = schema
        self._fast = jsonschema_rs.validator_for(schema)

    def is_valid(self, instance: Any) -> bool:
        return bool(self._fast.is_valid(instance))

    def errors(self, instance: Any) -> list[SchemaError]:
        if self.is_valid(instance):
            return []
        return explain(self.schema, instance)


@functools.cache
def validator(name: str) -> Validator:
    return Validator(load(name))


def explain(schema: dict[str, Any], instance: Any) -> list[SchemaError]:
    """Every schema error of `instance`, as short sentences with the path they are about."""
    from jsonschema import Draft202012Validator

    checker = Draft202012Validator(schema)
    found: dict[tuple[Path, str], SchemaError] = {}
    for error in checker.iter_errors(instance):
        for item in _describe(error):
            found.setdefault((item.path, item.message), item)
    return sorted(found.values(), key=lambda e: [str(p) for p in e.path])


def _describe(error: ValidationError) -> list[SchemaError]:
    path: Path = tuple(error.absolute_path)
    custom = error.schema.get("errorMessage") if isinstance(error.schema, dict) else None
    keyword = error.validator
    if keyword in ("additionalProperties", "unevaluatedProperties"):
        extras = _unexpected(error)
        return [SchemaError((*path, key), f"unknown field {key!r}", True) for key in extras]
    if custom:
        return [SchemaError(path, str(custom), keyword == "not")]
    if keyword in ("anyOf", "oneOf") and error.context:
        from jsonschema.exceptions import best_match

        return _describe(best_match(error.context))
    return [SchemaError(path, _message(error))]


def _unexpected(error: ValidationError) -> list[str]:
    instance, schema = error.instance, error.schema
    if not isinstance(instance, dict) or not isinstance(schema, dict):
        return []
    if error.validator == "unevaluatedProperties":
        # Which keys other subschemas evaluated is known only to the validator; it names them.
        quoted = _UNEXPECTED.search(error.message)
        return re.findall(r"'((?:[^'\\]|\\.)*)'", quoted.group(1)) if quoted else []
    known = set(schema.get("properties", {}))
    patterns = list(schema.get("patternProperties", {}))
    return [k for k in instance if k not in known and not any(re.search(p, k) for p in patterns)]


_UNEXPECTED = re.compile(r"\((.*) (?:was|were) unexpected\)")


def _message(error: ValidationError) -> str:
    keyword, instance = error.validator, error.instance
    value: Any = error.validator_value
    name = f"{error.absolute_path[-1]!r}" if error.absolute_path else "the document"
    if keyword == "required":
        missing = [k for k in value if isinstance(instance, dict) and k not in instance]
        return f"missing required field {missing[0]!r}" if missing else error.message
    if keyword == "enum":
        return f"{name} must be one of: {', '.join(json.dumps(v) for v in value)}; got {instance!r}"
    if keyword == "const":
        return f"{name} must be {json.dumps(value)}; got {instance!r}"
    if keyword == "type":
        wanted = value if isinstance(value, str) else " or ".join(value)
        return f"{name} must be of type {wanted}; got {_type_name(instance)} {instance!r}"
    if keyword == "pattern":
        return f"{name} does not match the pattern {value}: {instance!r}"
    return f"{name}: {error.message}"


def _type_name(instance: Any) -> str:
    names = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array"}
    names.update({dict: "object", type(None): "null"})
    return names.get(type(instance), type(instance).__name__)
