"""What is wrong with the `rules` of metricsync.yaml as written, each at its line: patterns that
do not compile or could backtrack for hours, paths no definition of the kind can hold (read from
its JSON Schema), and a target's rules for a kind it never reads. governance.py applies them."""

from __future__ import annotations

import difflib
import importlib
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from metricsync import schema
from metricsync.governance import TAGS, Where


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
