"""The JSON Schemas shipped inside the package: loading, a fast screen, precise explanations.

A compiled validator (jsonschema-rs) screens every document; python-jsonschema explains only the
documents that fail, so valid files cost microseconds and invalid ones get exact messages. Each
is imported where first used: `--help`, and a validation the cache serves, load neither.
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
    from importlib.resources.abc import Traversable

    from jsonschema.exceptions import ValidationError

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class SchemaError:
    path: Path
    message: str
    at_key: bool = False  # the error is about the key itself (unknown or forbidden field)


def _sources() -> list[str]:
    """Every JSON file a shipped schema is made of: each kind's, and the config's base and each
    platform's part of it (metricsync/config_file.py composes them)."""
    package = resources.files("metricsync")
    names = [f.name for f in (package / "schemas").iterdir() if _is_json(f)]
    for folder in (package / "platforms").iterdir():
        if folder.is_dir():
            names += [f"{folder.name}/{f.name}" for f in folder.iterdir() if _is_json(f)]
    return sorted(names)


def _is_json(resource: Traversable) -> bool:
    return resource.name.endswith(".json") and resource.is_file()


def _resource(name: str) -> Traversable:
    """Where a schema file ships: a kind's ("statsig/metric.schema.json") and a platform's part
    of the config's ("statsig/config.json") in its platform's package, the config's base in
    metricsync/schemas (found by path: no platform module is imported)."""
    folder, _, file = name.rpartition("/")
    package = resources.files("metricsync")
    return package / "platforms" / folder / file if folder else package / "schemas" / name


@functools.cache
def text(name: str) -> str:
    return _resource(name).read_text("utf-8")


@functools.cache
def load(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(text(name))
    return document


def digest() -> str:
    """Changes whenever any shipped schema changes (part of every cache key)."""
    hasher = hashlib.blake2b(digest_size=16)
    for name in _sources():
        hasher.update(name.encode() + b"\0" + text(name).encode())
    return hasher.hexdigest()


class Validator:
    """Validates instances against one schema; build once per schema and reuse."""

    def __init__(self, schema: dict[str, Any]) -> None:
        import jsonschema_rs

        self.schema = schema
        self._fast = jsonschema_rs.validator_for(schema)

    def is_valid(self, instance: Any) -> bool:
        try:
            return bool(self._fast.is_valid(instance))
        except (TypeError, ValueError, OverflowError):  # a value Rust cannot hold: explain it
            return False

    def errors(self, instance: Any) -> list[SchemaError]:
        if self.is_valid(instance):
            return []
        return explain(self.schema, instance) or self._fast_errors(instance)

    def _fast_errors(self, instance: Any) -> list[SchemaError]:
        """The screen's own words, for the rare case where the two validators disagree."""
        try:
            errors = list(self._fast.iter_errors(instance))
        except (TypeError, ValueError, OverflowError) as exc:
            return [SchemaError((), f"the document cannot be checked: {exc}")]
        return [SchemaError(tuple(e.instance_path), e.message) for e in errors]


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
    keyword, instance, value = (
        error.validator,
        _known(error.instance),
        _known(error.validator_value),
    )
    if list(error.relative_schema_path)[-2:-1] == ["propertyNames"]:
        message = str(custom) if custom else f"{instance!r} is not an allowed name"
        return [SchemaError((*path, instance), message, True)]
    if keyword in ("additionalProperties", "unevaluatedProperties"):
        extras = _unexpected(error)
        return [SchemaError((*path, key), f"unknown field {key!r}", True) for key in extras]
    if custom:
        return [SchemaError(path, str(custom), keyword == "not")]
    if keyword == "dependentRequired":
        return _dependencies(path, instance, value)
    if keyword in ("anyOf", "oneOf") and error.context:
        from jsonschema.exceptions import best_match

        return _describe(best_match(error.context))
    return [SchemaError(path, _message(error))]


def _dependencies(path: Path, instance: Any, required: dict[str, list[str]]) -> list[SchemaError]:
    return [
        SchemaError((*path, key), f"{key} is set but {dependency} is missing", True)
        for key, dependencies in required.items()
        if key in instance
        for dependency in dependencies
        if dependency not in instance
    ]


def _unexpected(error: ValidationError) -> list[str]:
    instance, schema = error.instance, error.schema
    if not isinstance(instance, dict) or not isinstance(schema, dict):
        return []
    if error.validator == "unevaluatedProperties":
        # Which keys other subschemas evaluated is known only to the validator; it names them.
        quoted = _UNEXPECTED.search(error.message)
        return [k for k in instance if quoted and repr(k) in quoted.group(1)]
    known = set(schema.get("properties", {}))
    patterns = list(schema.get("patternProperties", {}))
    return [k for k in instance if k not in known and not any(re.search(p, k) for p in patterns)]


_UNEXPECTED = re.compile(r"\((.*) (?:was|were) unexpected\)")


def _known(value: Any) -> Any:
    """jsonschema types its error fields as possibly unset; those read here are always set."""
    return value


def _message(error: ValidationError) -> str:
    keyword, instance, value = (
        error.validator,
        _known(error.instance),
        _known(error.validator_value),
    )
    name = _name(error.absolute_path)
    if keyword == "required":
        missing = [k for k in value if isinstance(instance, dict) and k not in instance]
        return f"missing required field {missing[0]!r}" if missing else error.message
    if keyword in ("enum", "const"):
        wanted = value if keyword == "enum" else [value]
        choices = ", ".join(json.dumps(v) for v in wanted)
        return f"{name} must be {'one of: ' * (keyword == 'enum')}{choices}; got {_show(instance)}"
    if keyword == "type":
        wanted = value if isinstance(value, str) else " or ".join(value)
        return f"{name} must be of type {wanted}; got {_type_name(instance)} {_show(instance)}"
    if keyword == "pattern":
        return f"{name} does not match the pattern {value}: {_show(instance)}"
    return f"{name} {_BOUNDS[keyword](value, instance)}" if keyword in _BOUNDS else error.message


def _name(path: Any) -> str:
    """The field an error is about, as a user reads it: 'values[0]', 'bucket', the document."""
    parts = list(path)
    keys = [i for i, part in enumerate(parts) if isinstance(part, str)]
    if not parts:
        return "the document"
    start = keys[-1] if keys else len(parts)
    head = str(parts[start]) if keys else "item"
    return repr(head + "".join(f"[{part}]" for part in parts[start + 1 :]))


def _at_least(value: int, nouns: str, have: str) -> str:
    return "must not be empty" if value == 1 else f"needs at least {value} {nouns}; {have}"


_BOUNDS: dict[str, Any] = {
    "minimum": lambda v, i: f"must be at least {v}; got {_show(i)}",
    "maximum": lambda v, i: f"must be at most {v}; got {_show(i)}",
    "exclusiveMinimum": lambda v, i: f"must be greater than {v}; got {_show(i)}",
    "exclusiveMaximum": lambda v, i: f"must be less than {v}; got {_show(i)}",
    "minLength": lambda v, i: _at_least(v, "characters", f"got {_show(i)}"),
    "maxLength": lambda v, i: f"has {len(i)} characters; at most {v} are allowed",
    "minItems": lambda v, i: _at_least(v, "items", f"it has {len(i)}"),
    "maxItems": lambda v, i: f"has {len(i)} items; at most {v} are allowed",
    "minProperties": lambda v, i: _at_least(v, "entries", f"it has {len(i)}"),
    "uniqueItems": lambda v, i: f"lists {_show(_repeated(i))} more than once",
    "not": lambda v, i: "is not allowed here",
}


def _repeated(items: list[Any]) -> Any:
    seen: list[Any] = []
    for item in items:
        if item in seen:
            return item
        seen.append(item)
    return items[0]


def _show(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _type_name(instance: Any) -> str:
    names = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array"}
    names.update({dict: "object", type(None): "null"})
    return names.get(type(instance), type(instance).__name__)
