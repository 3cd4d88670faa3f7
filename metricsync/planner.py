"""Builds plans: reads each target's live objects through its provider, diffs them against the
definitions, and applies the safety rules (docs/config.md, policy) with their narrow overrides."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import httpx

from metricsync.config import Policy, Target
from metricsync.definitions import Definition
from metricsync.diff import DiffResult, KindDiff, diff
from metricsync.display import printable
from metricsync.documents import Locator
from metricsync.errors import ConfigError, InvalidInput
from metricsync.live import LiveRead
from metricsync.plan import Action, Change, ForeignTwin, Plan, TargetPlan
from metricsync.platforms import KINDS, PLATFORMS
from metricsync.problems import Problem, pointer_of
from metricsync.provider import Provider
from metricsync.references import Dangling, Held, check_references
from metricsync.usage import Lookup, in_use_refusals, needs_lookup, with_usage
from metricsync.workspace import Workspace, open_workspace

TransportFor = Callable[[Target], httpx.BaseTransport | None]
# Which changes a plan keeps, by (target, change key): a saved plan's, so that drift elsewhere
# is left for the next plan (docs/commands/apply.md). None keeps every change.
Reviewed = Callable[[str, Change], bool]
MIN_MANAGED_FOR_PERCENT = 10  # a percentage of a handful of objects says nothing


@dataclass(frozen=True)
class Overrides:
    """Safety limits lifted for one run only: --allow-deletes N, --allow-changes-percent P,
    and takeovers of other repositories' objects: --adopt-from OWNER (repeatable)."""

    allow_deletes: int | None = None
    allow_changes_percent: float | None = None
    adopt_from: tuple[str, ...] = ()
    allow_in_use: bool = False  # apply --allow-in-use: deletes and replaces running experiments use


def synced_targets(workspace: Workspace) -> list[Target]:
    """The selected targets whose platform is planned: its record names a provider."""
    return [t for t in workspace.targets if PLATFORMS[t.platform].planned]


@contextmanager
def open_providers(
    targets: list[Target], transport_for: TransportFor | None = None
) -> Iterator[dict[str, Provider]]:
    with ExitStack() as stack:
        providers = {}
        for target in targets:
            factory = PLATFORMS[target.platform].provider
            if factory is None:
                raise ConfigError(f"target {target.name!r} ({target.platform}) is never planned")
            transport = transport_for(target) if transport_for else None
            provider = factory.load()(target, transport)
            stack.callback(provider.close)
            providers[target.name] = provider
        yield providers


@dataclass
class Session:
    workspace: Workspace
    providers: dict[str, Provider]


@contextmanager
def open_session(
    config_path: Path,
    names: Sequence[str] = (),
    sandbox: bool = False,
    transport_for: TransportFor | None = None,
    lenient_rules: bool = False,
) -> Iterator[Session]:
    """A validated workspace and one provider per synced target, closed together."""
    with (
        open_workspace(config_path, names, sandbox, lenient_rules) as workspace,
        open_providers(synced_targets(workspace), transport_for) as providers,
    ):
        yield Session(workspace, providers)


def build_plan(
    workspace: Workspace,
    providers: dict[str, Provider],
    overrides: Overrides = Overrides(),
    reviewed: Reviewed | None = None,
) -> Plan:
    synced = synced_targets(workspace)
    reads = read_targets(providers, {t.name: len(workspace.definitions(t)) for t in synced})
    # Targets are planned at once: one platform's experiment lookups overlap another's.
    definitions = {t.name: workspace.definitions(t) for t in synced}
    targets, problems = [], []
    with ThreadPoolExecutor(max_workers=max(1, len(synced))) as pool:
        plans = [
            pool.submit(
                plan_target, t, definitions[t.name], providers[t.name], overrides,
                reads[t.name], reviewed,
            )
            for t in synced
        ]  # fmt: skip
        for plan in plans:
            try:
                targets.append(plan.result())
            except InvalidInput as invalid:  # every target's problems, then exit 3
                problems += invalid.problems
    if problems:
        raise InvalidInput(problems)
    created = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    warnings = tuple(unmatched_adopt_from(overrides.adopt_from, targets))
    return Plan(tuple(targets), definitions_digest(workspace), created, warnings)


def plan_targets(
    config_path: Path,
    names: Sequence[str],
    sandbox: bool,
    overrides: Overrides,
    warn: Callable[[str], None],
) -> Plan:
    """A fresh plan of the named targets (`metricsync plan`). Each warning goes to `warn` as
    soon as it is known: the workspace's before the live read, the plan's after it."""
    with open_session(config_path, names, sandbox) as session:
        for problem in session.workspace.warnings:
            warn(str(problem))
        plan = build_plan(session.workspace, session.providers, overrides)
    for warning in plan.warnings:
        warn(warning)
    return plan


def unmatched_adopt_from(adopt_from: Sequence[str], targets: Sequence[TargetPlan]) -> Iterator[str]:
    """An --adopt-from that took nothing over is a warning: left in CI, it would later take
    over whatever of that owner's collides next (docs/config.md, policy)."""
    used = {c.adopt_from for t in targets for c in t.changes}
    for owner in dict.fromkeys(adopt_from):
        if owner not in used:
            yield (
                f"Warning: --adopt-from {owner} matched no object: nothing is taken over from "
                "it; remove the flag so that it cannot take over a later collision unreviewed"
            )


def read_targets(
    providers: Mapping[str, Provider], expected: Mapping[str, int]
) -> dict[str, LiveRead]:
    """Every target's live objects, read at once: one platform's round trips overlap another's.
    `expected` is each target's definition count; a failure is raised for the first target, in
    the given order, whose read failed."""
    with ThreadPoolExecutor(max_workers=max(1, len(expected))) as pool:
        reads = {name: pool.submit(providers[name].read, count) for name, count in expected.items()}
        return {name: read.result() for name, read in reads.items()}


def plan_target(
    target: Target,
    definitions: list[Definition],
    provider: Provider,
    overrides: Overrides,
    read: LiveRead,
    reviewed: Reviewed | None = None,
    *,
    usage: bool = True,
) -> TargetPlan:
    """One target's plan from its read; with `reviewed`, only the changes it
    keeps, and the safety rules judge those alone. `usage=False` skips the experiment lookups
    (a caller that neither applies nor shows the plan: verify's dry runs)."""
    adopt_from = frozenset(overrides.adopt_from)
    view = target_view(provider, read, adopt_from)
    result = diff(definitions, read.objects, view)
    references = check_references(definitions, read.objects, result.changes, view)
    if references.dangling:
        raise InvalidInput([dangling_problem(target, d) for d in references.dangling])
    changes = result.changes
    left: tuple[Change, ...] = ()
    if reviewed is not None:
        changes = tuple(c for c in result.changes if reviewed(target.name, c))
        left = tuple(c for c in result.changes if not reviewed(target.name, c))
    changes, lookup = look_up_usage(changes, provider) if usage else (changes, Lookup())
    managed = sum(1 for o in read.objects if o.owned and not o.generated)
    mutations = provider.setup_calls(changes, read.facts) + sum(provider.calls(c) for c in changes)
    paced = mutations + lookup.paced
    return TargetPlan(
        target=target.name,
        platform=target.platform,
        changes=changes,
        lookalikes=result.lookalikes,
        notes=(*_notes(read, result), *_left_for_later(left)),
        refusals=(
            *map(foreign_refusal, result.foreign),
            *(
                held_refusal(h)
                for h in references.held
                if any(c.name == h.deleted for c in changes)
            ),
            *refusals(changes, target.policy, managed, overrides),
        ),
        api_calls=mutations + lookup.requests,
        lookups=lookup.requests,
        minimum_seconds=provider.limits.minimum_seconds(paced),
        managed_count=managed,
        facts=read.facts,
    )


def target_view(provider: Provider, read: LiveRead, adopt_from: frozenset[str]) -> KindDiff:
    """The diff's view of a target: the provider's, given its kind's record
    (platforms/<platform>/__init__.py), with the owners this run takes objects over from."""
    return replace(provider.kind_diff(read, KINDS[provider.kind]), adopt_from=adopt_from)


def look_up_usage(
    changes: tuple[Change, ...], provider: Provider
) -> tuple[tuple[Change, ...], Lookup]:
    """The experiments using each object a change removes or re-measures (`protect_in_use` in
    docs/config.md), looked up for those changes only; the others are returned as they are."""
    needing = [c for c in changes if needs_lookup(c, provider.measuring_fields)]
    if not needing:
        return changes, Lookup()
    lookup = provider.usage([c.live for c in needing if c.live is not None])
    chosen = {id(c) for c in needing}
    return tuple(with_usage(c, lookup) if id(c) in chosen else c for c in changes), lookup


def _notes(read: LiveRead, result: DiffResult) -> Iterator[str]:
    yield from read.notes
    if result.orphans:
        names = ", ".join(repr(n) for n in result.orphans[:5])
        more = f" and {len(result.orphans) - 5} more" if len(result.orphans) > 5 else ""
        yield (
            f"{len(result.orphans)} managed object(s) no longer defined ({names}{more}); "
            "prune is off, so they are kept"
        )


def _left_for_later(left: tuple[Change, ...]) -> Iterator[str]:
    if left:
        names = ", ".join(f"{c.action.value} {c.name!r}" for c in left[:5])
        more = f" and {len(left) - 5} more" if len(left) > 5 else ""
        yield (
            f"{len(left)} change(s) outside the reviewed plan ({names}{more}) are left for "
            "the next plan"
        )


def dangling_problem(target: Target, dangling: Dangling) -> Problem:
    """Where a reference that resolves to nothing is written, as validation reports it."""
    d, reference = dangling.definition, dangling.reference
    path = ("spec", *reference.path)
    try:
        line, column = Locator(Path(d.file).read_bytes()).position(d.index, path)
    except OSError:
        line, column = d.line, 1
    message = (
        f"{reference.name!r} is neither defined for target {target.name} nor live there: "
        "nothing it names exists (define it, or fix the name)"
    )
    return Problem(d.file, line, column, message, pointer_of(path))


def held_refusal(held: Held) -> str:
    return (
        f"deleting {held.deleted!r} is refused: {held.referrer!r} ({held.where}), which stays, "
        "refers to it; remove that reference first, or keep the definition"
    )


def foreign_refusal(twin: ForeignTwin) -> str:
    where = f" ({twin.source})" if twin.source else ""
    owner = printable(twin.owner)  # a live tag: no line of apply's error may start in it
    return (
        f"{twin.name!r}{where} matches live object {twin.live_id}, which another repository "
        f"owns (marker {owner}); take it over with --adopt-from {owner}"
    )


def refusals(
    changes: tuple[Change, ...], policy: Policy, managed: int, overrides: Overrides
) -> Iterator[str]:
    """The safety rules that fire for these changes, each naming its rule and its override."""
    if policy.protect_in_use and not overrides.allow_in_use:
        yield from in_use_refusals(changes)
    for change in changes:
        if change.action == Action.REPLACE and change.protected:
            yield (
                f"protected object {change.name!r} would be replaced "
                f"(lifecycle.protect in {change.source}); remove protect to allow it"
            )
    deletes = sum(1 for c in changes if c.action in (Action.DELETE, Action.REPLACE))
    allowed = overrides.allow_deletes if overrides.allow_deletes is not None else policy.max_deletes
    if deletes > allowed:
        yield f"deletes {deletes} > max_deletes {allowed} (lift with --allow-deletes {deletes})"
    touched = sum(1 for c in changes if c.action in (Action.UPDATE, Action.REPLACE, Action.DELETE))
    if managed >= MIN_MANAGED_FOR_PERCENT and touched:
        percent = round(100 * touched / managed, 1)
        limit = overrides.allow_changes_percent
        limit = policy.max_changes_percent if limit is None else limit
        if percent > limit:
            yield (
                f"changes {percent:g}% of {managed} managed objects > max_changes_percent "
                f"{limit:g} (lift with --allow-changes-percent {percent:g})"
            )


def definitions_digest(workspace: Workspace) -> str:
    """Changes whenever the config or any definition file of the selected targets changes."""
    hasher = hashlib.blake2b(digest_size=16)
    hasher.update(workspace.config.path.read_bytes())
    files = sorted({d.file for t in synced_targets(workspace) for d in workspace.definitions(t)})
    for file in files:
        hasher.update(file.encode() + b"\0" + Path(file).read_bytes())
    return hasher.hexdigest()
