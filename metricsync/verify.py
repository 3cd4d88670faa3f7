"""`metricsync verify`: server-side checks that change nothing. Each definition of a platform with
a verifier runs through it (UserFlux: the query runs and its `expect` is checked); each create
and update of the current plan goes to the dry run of a platform that has one (Statsig)."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

from metricsync.config import Target
from metricsync.definitions import Definition
from metricsync.errors import ApiError, ExitCode, MetricsyncError
from metricsync.plan import Action, Change
from metricsync.planner import Overrides, TransportFor, open_providers, plan_target, synced_targets
from metricsync.platforms import PLATFORMS
from metricsync.platforms.base import Verifier
from metricsync.provider import Facts, Learnt, Provider
from metricsync.secrets import redact
from metricsync.workspace import Workspace

DRY_RUN_ACTIONS = (Action.CREATE, Action.UPDATE, Action.ADOPT, Action.REPLACE)


class Status(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class CheckResult:
    target: str
    kind: str
    name: str
    check: str  # "query", "dry-run create", "dry-run update", … or "read" for a whole target
    status: Status
    seconds: float
    detail: str  # what passed ("12 rows"), or why it failed: the platform's own message
    source: str | None = None  # "file:line" of the definition


@dataclass(frozen=True)
class VerifyReport:
    results: tuple[CheckResult, ...]

    def count(self, status: Status) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.ERROR if self.count(Status.FAILED) else ExitCode.OK


@runtime_checkable
class DryRunner(Protocol):
    """A provider whose platform validates a change without persisting it."""

    def dry_run(self, change: Change, facts: Facts) -> Learnt: ...


def verify(workspace: Workspace, transport_for: TransportFor | None = None) -> VerifyReport:
    """Every check of the selected targets: each definition a platform verifies first, then
    dry runs, in target order. Every verifier and provider is built (and every secret resolved)
    before the first request."""
    checked = [
        t
        for t in workspace.targets
        if PLATFORMS[t.platform].verifier is not None and workspace.definitions(t)
    ]
    synced = synced_targets(workspace)
    with ExitStack() as stack:
        verifiers = {t.name: _verifier(stack, t, transport_for) for t in checked}
        providers = stack.enter_context(open_providers(synced, transport_for))
        results = [
            check_definition(t, d, verifiers[t.name])
            for t in checked
            for d in workspace.definitions(t)
        ]
        for target in synced:
            if PLATFORMS[target.platform].dry_runs:
                results += dry_runs(workspace, target, providers[target.name])
    return VerifyReport(tuple(results))


def _verifier(stack: ExitStack, target: Target, transport_for: TransportFor | None) -> Verifier:
    factory = PLATFORMS[target.platform].verifier
    assert factory is not None
    verifier = factory.load()(target, transport_for(target) if transport_for else None)
    stack.callback(verifier.close)
    return verifier


def check_definition(target: Target, definition: Definition, verifier: Verifier) -> CheckResult:
    """Runs one definition through its platform's verifier (a UserFlux query and its `expect`)."""
    started = time.perf_counter()
    try:
        passed, detail = verifier.verdict(definition)
    except MetricsyncError as exc:
        return _result(target, definition, verifier.check, started, failure=exc)
    status = Status.PASSED if passed else Status.FAILED
    return _result(target, definition, verifier.check, started, status, detail)


def dry_runs(workspace: Workspace, target: Target, provider: Provider) -> list[CheckResult]:
    """Plans the target, then dry-runs its creates and updates. Nothing is written: tags,
    creates and updates alike stay unapplied."""
    assert isinstance(provider, DryRunner)
    started = time.perf_counter()
    try:
        definitions = workspace.definitions(target)
        read = provider.read(expected=len(definitions))
        plan = plan_target(target, definitions, provider, Overrides(), read, usage=False)
    except MetricsyncError as exc:
        seconds = time.perf_counter() - started
        detail = f"could not read live state: {_message(exc)}"
        return [CheckResult(target.name, "", "", "read", Status.FAILED, seconds, detail)]
    pending = {c.key for c in plan.changes if c.action in (Action.CREATE, Action.REPLACE)}
    facts = dict(read.facts)  # and what each dry run learns, for the next (a refused field)

    def run(change: Change) -> None:
        facts.update(provider.dry_run(change, facts).facts)

    return [
        _dry_run(target, change, run, pending)
        for change in plan.changes
        if change.action in DRY_RUN_ACTIONS and change.definition is not None
    ]


def _dry_run(
    target: Target, change: Change, run: Callable[[Change], None], pending: set[str]
) -> CheckResult:
    assert change.definition is not None
    check, started = f"dry-run {change.action.value}", time.perf_counter()
    waiting = [key for key in change.depends_on if key in pending]
    if waiting:
        # Its components exist only once apply has created them: the platform would refuse.
        detail = f"depends on {', '.join(waiting)}, which apply creates first"
        return _result(target, change.definition, check, started, Status.SKIPPED, detail)
    try:
        run(change)
    except MetricsyncError as exc:
        return _result(target, change.definition, check, started, failure=exc)
    return _result(target, change.definition, check, started, Status.PASSED, "accepted")


def _result(
    target: Target,
    definition: Definition,
    check: str,
    started: float,
    status: Status = Status.FAILED,
    detail: str = "",
    failure: MetricsyncError | None = None,
) -> CheckResult:
    seconds = time.perf_counter() - started
    if failure is not None:
        detail = _message(failure)
    kind, name, where = definition.kind, definition.name, definition.where
    return CheckResult(target.name, kind, name, check, status, seconds, detail, where)


def _message(error: MetricsyncError) -> str:
    """The platform's own words: status and message of an API error, else the error."""
    if isinstance(error, ApiError) and type(error) is ApiError:
        return redact(f"HTTP {error.status}: {error.detail}")
    return redact(str(error))
