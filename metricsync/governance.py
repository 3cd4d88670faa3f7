"""A team's own conventions (`rules` in metricsync.yaml): read with the config (rule_checks.py
checks them as written), then applied to every valid definition of a kind, each violation a
problem like a schema error.

A target's `rules` merge into the project's per kind and per rule: a rule the target sets
replaces the project's value of that rule (lists are replaced, not extended); the others are
inherited. `name_pattern: null`, `required: []` and `one_tag_of: []` lift a rule for a target.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from metricsync.cache import FileResult, Valid, ValidationCache
from metricsync.documents import Locator
from metricsync.problems import Problem, Severity, pointer_of

Where = tuple[str | int, ...]
RULES = ("name_pattern", "required", "one_tag_of", "severity")
# Where a kind keeps its tags; a kind whose schema has no such field has no one_tag_of.
TAGS = ("spec", "tags")
Violation = tuple[str, Where, Where, str]


@dataclass(frozen=True)
class KindRules:
    """The effective rules of one kind for one target."""

    kind: str
    name_pattern: str | None = None
    required: tuple[tuple[str, ...], ...] = ()
    one_tag_of: tuple[str, ...] = ()
    severity: Severity = "error"
    fold_tags: bool = False  # the platform trims and lower-cases tags (PostHog): so do the rules
    _compiled: re.Pattern[str] | None = field(default=None, compare=False, repr=False)
    _tags: frozenset[str] = field(default=frozenset(), compare=False, repr=False)

    @classmethod
    def read(cls, kind: str, raw: Mapping[str, Any], fold_tags: bool = False) -> KindRules:
        pattern = raw.get("name_pattern")
        tags = tuple(raw.get("one_tag_of") or ())
        return cls(
            kind=kind,
            name_pattern=pattern,
            required=tuple(tuple(path.split(".")) for path in raw.get("required") or ()),
            one_tag_of=tags,
            severity="warning" if raw.get("severity") == "warning" else "error",
            fold_tags=fold_tags,
            _compiled=re.compile(pattern) if pattern is not None else None,
            _tags=frozenset(map(_folded, tags) if fold_tags else tags),
        )

    @property
    def empty(self) -> bool:
        return self.name_pattern is None and not self.required and not self.one_tag_of

    def as_data(self) -> list[Any]:
        return [
            self.kind, self.name_pattern, self.required, self.one_tag_of, self.severity,
            self.fold_tags,
        ]  # fmt: skip

    def violations(self, data: Mapping[str, Any]) -> list[Violation]:
        """(rule, path the problem is about, path to point at, what is wrong) per violation.

        Runs for every definition of a project: written for speed (see benchmarks/validate.py).
        """
        found: list[Violation] = []
        if self._compiled is not None:
            name = data.get("name")
            if not isinstance(name, str) or self._compiled.fullmatch(name) is None:
                message = f"name {name!r} does not match {_shown(self.name_pattern)}"
                found.append(("name_pattern", ("name",), ("name",), message))
        for path in self.required:
            value, present = _lookup(data, path)
            if not present or _blank(value):
                state = "is empty" if present else "is missing"
                at = path if present else ("name",)
                found.append(("required", path, at, f"{'.'.join(path)} {state}"))
        if self.one_tag_of:
            tags, present = _lookup(data, TAGS)
            carried = [tags] if isinstance(tags, str) else tags if isinstance(tags, list) else []
            if self._tags.isdisjoint(map(_folded, carried) if self.fold_tags else carried):
                has = f"its tags: {', '.join(map(str, carried))}" if carried else "it has no tags"
                message = f"carries none of the tags {', '.join(self.one_tag_of)} ({has})"
                found.append(("one_tag_of", TAGS, TAGS if present else ("name",), message))
        return found


def _shown(pattern: str | None) -> str:
    """The pattern as the user wrote it (a repr would double every backslash)."""
    return f"'{pattern}'" if isinstance(pattern, str) and pattern.isprintable() else repr(pattern)


def _folded(tag: Any) -> str:
    return str(tag).strip().lower()


def _lookup(data: Any, path: Sequence[str]) -> tuple[Any, bool]:
    try:
        for part in path:
            data = data[part]
    except (KeyError, TypeError, IndexError):  # missing, or a list or text on the way
        return None, False
    return data, True


def _blank(value: Any) -> bool:
    if value.__class__ is str:
        return not value or value.isspace()
    return value is None or value == [] or value == {}


# ---- the config: effective rules per target (what is wrong with them: rule_checks.py) --------


def effective(
    project: Any, target: Any, kinds: Iterable[str], folded: Iterable[str] = ()
) -> dict[str, KindRules]:
    """A target's rules by kind (only the kinds of its platform, only those with a rule);
    `folded` names the kinds whose platform trims and lower-cases tags."""
    project = project if isinstance(project, dict) else {}
    target = target if isinstance(target, dict) else {}
    fold = frozenset(folded)
    found = {}
    for kind in kinds:
        merged = {**(project.get(kind) or {}), **(target.get(kind) or {})}
        rules = KindRules.read(kind, merged, kind in fold)
        if not rules.empty:
            found[kind] = rules
    return found


# ---- applying rules to a folder's files -------------------------------------------------------


@dataclass(frozen=True)
class FolderRules:
    """The rules every file of one folder is held to, for the targets of this run."""

    by_kind: Mapping[str, tuple[tuple[KindRules, str], ...]]  # (rules, " for target, ...") pairs
    fingerprint: str = ""

    def check(self, file: str, source: bytes, valid: Sequence[Valid]) -> list[Problem]:
        problems: list[Problem] = []
        locator: Locator | None = None
        for index, _, data in valid:
            for rules, qualifier in self.by_kind.get(data.get("kind"), ()):
                for rule, path, at, message in rules.violations(data):
                    locator = locator or Locator(source)
                    line, column = locator.position(index, at)
                    text = f"{rules.kind} rule {rule}{qualifier}: {message}"
                    problems.append(
                        Problem(file, line, column, text, pointer_of(path), rules.severity)
                    )
        return problems


class Ruled(Protocol):
    """What for_folder reads of a config Target (the config model holds KindRules values, so
    this module does not import it)."""

    @property
    def name(self) -> str: ...
    @property
    def definitions(self) -> tuple[str, ...]: ...
    @property
    def rules(self) -> Mapping[str, KindRules]: ...


def for_folder(targets: Iterable[Ruled], folder: str, lenient: bool = False) -> FolderRules:
    """The rules of the run's targets that read `folder`; when they differ for a kind, each
    problem names the targets whose rule it breaks. `lenient` makes every violation a warning."""
    sets: dict[str, dict[KindRules, list[str]]] = {}
    for target in targets:
        if folder in target.definitions:
            for kind, rules in target.rules.items():
                rules = replace(rules, severity="warning") if lenient else rules
                sets.setdefault(kind, {}).setdefault(rules, []).append(target.name)
    by_kind = {
        kind: tuple(
            (rules, f" for {', '.join(names)}" if len(found) > 1 else "")
            for rules, names in found.items()
        )
        for kind, found in sets.items()
    }
    if not by_kind:
        return FolderRules({})
    data = sorted([r.as_data(), q] for pairs in by_kind.values() for r, q in pairs)
    digest = hashlib.blake2b(json.dumps(data).encode(), digest_size=8).hexdigest()
    return FolderRules(by_kind, digest)


def with_rules(
    result: FileResult,
    rules: FolderRules,
    file: str,
    source: bytes,
    cache: ValidationCache | None = None,
    key: str = "",
) -> FileResult:
    """`result` with the rules' problems added; the cache keeps them under the rules' fingerprint,
    so new rules are applied afresh (to the cached documents) and never served stale."""
    if not rules.by_kind or not result.valid:
        return result
    found = cache.rule_problems(key, file, rules.fingerprint) if cache is not None else None
    if found is None:
        found = rules.check(file, source, result.valid)
        if cache is not None:
            cache.store_rule_problems(key, rules.fingerprint, found)
    return FileResult(result.problems + found, result.valid) if found else result


def breaking(rules: Mapping[str, KindRules], documents: Iterable[Mapping[str, Any]]) -> int:
    """How many of `documents` break at least one rule (of either severity)."""
    return sum(
        1
        for document in documents
        if document.get("kind") in rules and rules[document["kind"]].violations(document)
    )
