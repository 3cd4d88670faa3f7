"""A team's own conventions (`rules` in metricsync.yaml): read and checked with the config, then
applied to every valid definition of a kind, each violation a problem like a schema error.

A target's `rules` merge into the project's per kind and per rule: a rule the target sets
replaces the project's value of that rule (lists are replaced, not extended); the others are
inherited. `name_pattern: null`, `required: []` and `one_tag_of: []` lift a rule for a target.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from metricsync import schema
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


# ---- the config: effective rules per target, and what is wrong with the rules as written ------


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


def config_findings(
    data: Mapping[str, Any], kinds: Mapping[str, str], platforms: Mapping[str, Sequence[str]]
) -> Iterator[tuple[Where, str]]:
    """Patterns that do not compile, paths no definition of the kind can hold, and a target's
    rules for a kind it never reads, each at its line.

    `kinds` names each kind's JSON Schema and `platforms` each platform's kinds; unknown kinds
    and platforms are left to the config schema."""
    schemas = _Schemas(kinds)
    yield from _kind_findings(("rules",), data.get("rules"), schemas)
    targets = data.get("targets")
    for name, target in targets.items() if isinstance(targets, dict) else ():
        if not isinstance(target, dict):
            continue
        rules, platform = target.get("rules"), target.get("provider")
        yield from _kind_findings(("targets", name, "rules"), rules, schemas)
        own = platforms.get(platform, ()) if isinstance(platform, str) else ()
        for kind in rules if isinstance(rules, dict) and own else ():
            if kind in kinds and kind not in own:
                message = f"target {name!r} ({platform}) reads only {', '.join(own)} definitions"
                yield ("targets", name, "rules", kind), f"{kind} rules never apply here: {message}"


class _Schemas(dict[str, dict[str, Any]]):
    """Kinds' schemas, loaded when a rule first needs one."""

    def __init__(self, kinds: Mapping[str, str]) -> None:
        super().__init__()
        self.kinds = kinds

    def __contains__(self, kind: object) -> bool:
        return kind in self.kinds

    def __missing__(self, kind: str) -> dict[str, Any]:
        self[kind] = schema.load(self.kinds[kind])
        return self[kind]


def _kind_findings(
    at: Where, rules: Any, schemas: Mapping[str, dict[str, Any]]
) -> Iterator[tuple[Where, str]]:
    for kind, raw in rules.items() if isinstance(rules, dict) else ():
        if kind not in schemas or not isinstance(raw, dict):
            continue
        here = (*at, kind)
        pattern = raw.get("name_pattern")
        if isinstance(pattern, str):
            try:
                re.compile(pattern)
            except re.error as exc:
                position = f" at position {exc.pos}" if exc.pos is not None else ""
                message = f"is not a valid regular expression: {exc.msg}{position}"
                yield (*here, "name_pattern"), f"{kind} rule name_pattern {message}"
            else:
                if _nested_repetition(pattern):
                    yield (*here, "name_pattern"), f"{kind} rule name_pattern {NESTED}"
        required = raw.get("required")
        for i, path in enumerate(required if isinstance(required, list) else ()):
            if isinstance(path, str) and path:
                why = unreachable(schemas[kind], tuple(path.split(".")))
                if why:
                    yield (*here, "required", i), f"{kind} rule required: {why}"
        if raw.get("one_tag_of") and unreachable(schemas[kind], TAGS):
            yield (*here, "one_tag_of"), f"{kind} rule one_tag_of: {kind} definitions have no tags"


NESTED = (
    "repeats a group that holds nothing but repetitions, as in (a+)+ or (\\w+\\s?)*: a long "
    "name that almost matches would keep validate busy for hours (Python tries every way of "
    "splitting it); repeat once (a+), or make the inner repetition possessive (a++) or "
    "atomic ((?>a+))"
)


def _nested_repetition(pattern: str) -> bool:
    """Whether an unbounded repetition's body is only variable repetitions (`(a+)+`,
    `(\\w+\\s?)*`, `(a{1,3})+`): the textbook catastrophic backtracking. A body with a fixed part,
    as in `[a-z]+(_[a-z]+)*`, splits a name one way only and passes; so do possessive and atomic
    inner repetitions. Python's `re` has no time limit, so such a pattern is refused up front."""
    parser = importlib.import_module("re._parser")  # the parser re.compile uses (no stub)
    unbounded = importlib.import_module("re._constants").MAXREPEAT
    stack: list[Any] = [parser.parse(pattern)]
    while stack:
        for op, av in stack.pop():
            name = str(op)
            if name in ("MAX_REPEAT", "MIN_REPEAT"):
                body = _flat(av[2])
                if av[1] == unbounded and body and all(_varies(o, a) for o, a in body):
                    return True
            stack.extend(_children(name, av))
    return False


def _flat(items: Any) -> list[tuple[Any, Any]]:
    """A sequence with its groups opened: `((a+))` is `a+`."""
    found: list[tuple[Any, Any]] = []
    for op, av in items:
        found += _flat(av[3]) if str(op) == "SUBPATTERN" else [(op, av)]
    return found


def _varies(op: Any, av: Any) -> bool:
    return str(op) in ("MAX_REPEAT", "MIN_REPEAT") and av[0] != av[1]


def _children(name: str, av: Any) -> list[Any]:
    if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
        return [av[2]]
    if name == "SUBPATTERN":
        return [av[3]]
    if name == "BRANCH":
        return list(av[1])
    if name == "ATOMIC_GROUP":
        return [av]
    if name in ("ASSERT", "ASSERT_NOT"):
        return [av[1]]
    if name == "GROUPREF_EXISTS":
        return [branch for branch in av[1:] if branch is not None]
    return []


def unreachable(schema: dict[str, Any], path: Where) -> str | None:
    """Why no definition the schema accepts can hold `path` (None when one can)."""
    nodes: list[Any] = [schema]
    for step, part in enumerate(path):
        where = ".".join(map(str, path[: step + 1]))
        parent = ".".join(map(str, path[:step]))
        branches = [b for node in nodes for b in _branches(node, schema)]
        if not _mapping_like(branches):
            return f"{where!r} goes through {parent!r}, which is not a mapping"
        declared = [child for b in branches for child in _declared(b, str(part))]
        usable = [child for child in declared if not _forbidden(child, schema)]
        if declared and not usable:
            return f"{where!r} is a field {_kind(schema)} definitions may not set"
        if not usable:
            usable = [
                b["additionalProperties"]
                for b in branches
                if isinstance(b.get("additionalProperties"), dict)
            ]
        if not usable and _closed(branches):
            known = sorted({k for b in branches for k in b.get("properties") or {}})
            close = difflib.get_close_matches(str(part), known, n=1)
            hint = (
                f" (did you mean {'.'.join([*map(str, path[:step]), close[0]])!r}?)"
                if close
                else ""
            )
            return f"{where!r} is not a field of {_kind(schema)}{hint}"
        nodes = usable or [{}]
    return None


def _kind(schema: dict[str, Any]) -> str:
    kind = schema.get("properties", {}).get("kind", {}).get("const")
    return str(kind) if kind else "this kind"


def _branches(node: Any, root: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """`node` and every subschema that applies to the same value: refs, allOf/anyOf/oneOf and
    the then/else of conditionals."""
    stack, seen = [node], set()
    while stack:
        current = stack.pop()
        if not isinstance(current, dict) or id(current) in seen:
            continue
        seen.add(id(current))
        ref = current.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            stack.append(root.get("$defs", {}).get(ref.removeprefix("#/$defs/")))
        for key in ("allOf", "anyOf", "oneOf"):
            stack.extend(current.get(key) or ())
        stack.extend(current[key] for key in ("then", "else") if key in current)
        yield current


def _declared(branch: dict[str, Any], key: str) -> list[Any]:
    properties = branch.get("properties") or {}
    found = [properties[key]] if key in properties else []
    patterns = branch.get("patternProperties") or {}
    return found + [child for pattern, child in patterns.items() if re.search(pattern, key)]


def _forbidden(node: Any, root: dict[str, Any]) -> bool:
    return node is False or any(b.get("not") == {} for b in _branches(node, root))


def _closed(branches: list[dict[str, Any]]) -> bool:
    """Whether only declared keys are allowed: the schema lists properties or refuses others."""
    return any(
        "properties" in b
        or b.get("additionalProperties") is False
        or b.get("unevaluatedProperties") is False
        for b in branches
    )


def _mapping_like(branches: list[dict[str, Any]]) -> bool:
    types = [b["type"] for b in branches if "type" in b]
    if not types:
        return not any("items" in b or "const" in b or "enum" in b for b in branches)
    return all("object" in ([t] if isinstance(t, str) else t) for t in types)


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
