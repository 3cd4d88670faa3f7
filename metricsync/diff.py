"""The pure diff: desired definitions against live objects, to ordered changes.

No I/O and no provider objects: everything a platform contributes arrives as `KindDiff` data.
Pairs are screened with `==` after normalisation; only pairs that differ are explained.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from difflib import SequenceMatcher
from typing import Any, Protocol

from metricsync.definitions import Definition
from metricsync.live import LiveObject
from metricsync.normalise import Normalisation, managed_view, normalise
from metricsync.ownership import Claim, ForeignOwner
from metricsync.plan import ABSENT, Action, Change, FieldChange, ForeignTwin, Lookalike


@dataclass(frozen=True)
class Reference:
    """A name one object's spec refers to (a Statsig composite's component), and where in the
    spec it is written, for messages."""

    name: str
    path: tuple[str | int, ...] = ()


class DeclaredKind(Protocol):
    """What a kind declares once, on its platform's record (`Kind` in platforms/base.py), about
    how its objects compare: a provider builds its KindDiff from it."""

    @property
    def name(self) -> str: ...

    @property
    def casefold_names(self) -> bool:
        """Names are unique case-insensitively, as the server checks them."""

    @property
    def casefold_tags(self) -> bool:
        """The server trims and lower-cases tags."""


@dataclass(frozen=True)
class KindDiff:
    """What the diff needs to know about one kind on one target."""

    kind: str
    normalisation: Normalisation
    casefold_names: bool  # from the kind's record (DeclaredKind): never a provider's guess
    replace_fields: tuple[str, ...] = ()  # a change here cannot be made in place
    # fields this target's platform does not change in place (configured, or learnt when an
    # update did not take them): a change to one is planned as a replace
    create_only: tuple[str, ...] = ()
    depends: Callable[[Mapping[str, Any]], Sequence[Reference]] = lambda spec: ()  # what it needs
    marker_supported: bool = True  # the platform stores the ownership marker
    prune: bool = False
    foreign: ForeignOwner = lambda spec: None  # another repository's marker on a live spec
    adopt_from: frozenset[str] = frozenset()  # owners whose objects this run takes over


@dataclass(frozen=True)
class DiffResult:
    changes: tuple[Change, ...] = ()
    lookalikes: tuple[Lookalike, ...] = ()
    orphans: tuple[str, ...] = ()  # owned live objects no definition claims (deleted with prune)
    foreign: tuple[ForeignTwin, ...] = ()  # definitions whose twin another repository owns


@dataclass
class _Index:
    by_name: dict[str, list[LiveObject]] = field(default_factory=dict)
    claimed: set[str] = field(default_factory=set)


def diff(desired: Sequence[Definition], live: Sequence[LiveObject], spec: KindDiff) -> DiffResult:
    def key(name: str) -> str:
        return name.casefold() if spec.casefold_names else name

    candidates = [obj for obj in live if obj.kind == spec.kind and not obj.generated]
    index = _Index()
    for obj in candidates:
        index.by_name.setdefault(key(obj.name), []).append(obj)
    changes: list[Change] = []
    foreign: list[ForeignTwin] = []
    for d in desired:
        for found in _changes_for(d, _match(d, index, key, spec), spec):
            if isinstance(found, ForeignTwin):
                foreign.append(found)
            else:
                changes.append(found)
    unclaimed = [obj for obj in candidates if obj.id not in index.claimed]
    # Another repository's objects are never pruned, even if they also carry our marker.
    orphans = [
        obj
        for obj in unclaimed
        if obj.owned and spec.marker_supported and spec.foreign(obj.spec) is None
    ]
    if spec.prune:
        changes += [_delete(obj) for obj in orphans]
    creates = [c.name for c in changes if c.action == Action.CREATE]
    unowned = [obj for obj in unclaimed if not (obj.owned and spec.marker_supported)]
    return DiffResult(
        tuple(order(changes, spec, key)),
        tuple(lookalikes(creates, unowned)),
        tuple(obj.name for obj in orphans) if not spec.prune else (),
        tuple(foreign),
    )


def _match(
    d: Definition, index: _Index, key: Callable[[str], str], spec: KindDiff
) -> LiveObject | None:
    for name in (d.name, *d.lifecycle.renamed_from):
        options = [o for o in index.by_name.get(key(name), []) if o.id not in index.claimed]
        if options:
            same = [o for o in options if _same_fields(d, o, spec.replace_fields)]
            chosen = (same or options)[0]
            index.claimed.add(chosen.id)
            return chosen
    return None


def _same_fields(d: Definition, obj: LiveObject, fields: Sequence[str]) -> bool:
    return all(d.spec.get(f) == obj.spec.get(f) for f in fields)


def _changes_for(
    d: Definition, obj: LiveObject | None, spec: KindDiff
) -> Iterator[Change | ForeignTwin]:
    if obj is None:
        fields = tuple(explain({}, normalise(d.spec, spec.normalisation)))  # the desired document
        yield _desired_change(Action.CREATE, d, fields=fields)
        return
    left, right = _views(d, obj.spec, spec)
    renamed = obj.name != d.name
    adopt = spec.marker_supported and not obj.owned
    claim: Claim | None = spec.foreign(obj.spec)
    if claim is not None and _declares(d, claim.owner):
        claim = None  # the definition writes that tag itself: a tag it shares, not an owner
    # Another owner's marker beside ours still makes it theirs: refused even when in sync.
    if left == right and not renamed and not adopt and claim is None:
        return
    if claim is not None:
        if claim.owner not in spec.adopt_from:
            yield ForeignTwin(d.kind, d.name, obj.id, claim.owner, d.where)
            return
        left, right = _views(d, claim.spec, spec)  # their marker goes; ours replaces it
        adopt = True
    fields = tuple(explain(right, left))
    whole = (*spec.replace_fields, *spec.create_only)
    replaced = any(top_field(f.path) in whole for f in fields)
    replaced = replaced or (obj.legacy and bool(fields))
    if replaced or (obj.legacy and (renamed or adopt)):
        action = Action.REPLACE
    elif fields or renamed:
        action = Action.UPDATE
    else:
        action = Action.ADOPT
    yield _desired_change(
        action,
        d,
        live_id=obj.id,
        previous_name=obj.name if renamed else None,
        fields=fields,
        adopt=adopt,
        adopt_from=claim.owner if claim is not None else None,
        fingerprint=obj.fingerprint,
        live=obj,
    )


def _declares(d: Definition, tag: str) -> bool:
    tags = d.spec.get("tags") or []
    tags = [tags] if isinstance(tags, str) else tags
    return any(isinstance(t, str) and t.casefold() == tag.casefold() for t in tags)


def _views(
    d: Definition, live: Mapping[str, Any], spec: KindDiff
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The desired and live sides as the plan compares them: the definition's desired document
    (the one the writes send; `normalise` fills its defaults) and a live spec, normalised alike
    and restricted to the fields the definition manages."""
    return managed_view(
        normalise(d.spec, spec.normalisation),
        normalise(live, spec.normalisation),
        spec.normalisation,
        d.lifecycle.ignore_changes,
    )


def untaken(d: Definition, answered: LiveObject, spec: KindDiff) -> tuple[FieldChange, ...]:
    """What a write did not take: every compared field where the object the platform answered
    with (or read back) still differs from the definition (before = answered, after = desired).
    Empty when the write took everything, which is what makes the next plan empty."""
    left, right = _views(d, answered.spec, spec)
    fields = list(explain(right, left))
    if answered.name != d.name:
        fields.insert(0, FieldChange("name", answered.name, d.name))
    if spec.marker_supported and not answered.owned:
        fields.append(FieldChange("ownership marker", ABSENT, "present"))
    return tuple(fields)


def top_field(path: str) -> str:
    """The top-level field of a FieldChange path: `metricEvents[0].name` -> `metricEvents`."""
    return re.split(r"[.\[]", path, maxsplit=1)[0]


def _desired_change(action: Action, d: Definition, **details: Any) -> Change:
    return Change(
        action,
        d.kind,
        d.name,
        source=d.where,
        protected=d.lifecycle.protect,
        definition=d,
        **details,
    )


def _delete(obj: LiveObject) -> Change:
    return Change(
        Action.DELETE, obj.kind, obj.name, live_id=obj.id, fingerprint=obj.fingerprint, live=obj
    )


def explain(before: Any, after: Any, path: str = "") -> Iterator[FieldChange]:
    """Field-level differences between two normalised values (before = live)."""
    if before == after:
        return
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        for k in [*before, *(k for k in after if k not in before)]:
            child = f"{path}.{k}" if path else str(k)
            yield from explain(before.get(k, ABSENT), after.get(k, ABSENT), child)
    elif isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        for i, (b, a) in enumerate(zip(before, after, strict=True)):
            yield from explain(b, a, f"{path}[{i}]")
    else:
        yield FieldChange(path, before, after)


def order(changes: list[Change], spec: KindDiff, key: Callable[[str], str]) -> list[Change]:
    """Creates and updates after the changes they depend on; deletes last, dependants first."""
    writes = [c for c in changes if c.action != Action.DELETE]
    deletes = [c for c in changes if c.action == Action.DELETE]
    by_name = {key(c.name): c for c in writes}
    placed: dict[str, Change] = {}

    def place(change: Change, seen: frozenset[str]) -> None:
        if change.key in placed or change.key in seen:
            return
        needs = []
        if change.definition is not None:
            for reference in spec.depends(change.definition.spec):
                before = by_name.get(key(reference.name))
                if before is not None and before is not change:
                    place(before, seen | {change.key})
                    needs.append(before.key)
        placed[change.key] = _with_depends(change, tuple(needs))

    for change in writes:
        place(change, frozenset())
    return [*placed.values(), *sorted(deletes, key=lambda c: c.name, reverse=True)]


def _with_depends(change: Change, needs: tuple[str, ...]) -> Change:
    return replace(change, depends_on=needs) if needs else change


_SQUASH = re.compile(r"[^0-9a-z]+")


def lookalikes(created: Sequence[str], unowned: Sequence[LiveObject]) -> Iterator[Lookalike]:
    """Unmanaged objects whose names resemble a name the plan is about to create."""
    squashed = {_SQUASH.sub("", name.casefold()): name for name in created}
    fuzzy = len(created) * len(unowned) <= 40_000  # keep the quadratic pass bounded
    for obj in unowned:
        plain = _SQUASH.sub("", obj.name.casefold())
        match = squashed.get(plain)
        if match is None and fuzzy:
            match = next(
                (n for s, n in squashed.items() if SequenceMatcher(None, s, plain).ratio() >= 0.85),
                None,
            )
        if match is not None:
            yield Lookalike(obj.name, obj.id, match)
