"""`metricsync verify`: server-side checks that change nothing. Each UserFlux query runs and its
`expect` is checked; each create and update of the current plan goes to a provider's dry run."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from metricsync.config import Target
from metricsync.definitions import Definition
from metricsync.errors import ApiError, ExitCode, MetricsyncError
from metricsync.plan import Action, Change
from metricsync.planner import Overrides, TransportFor, open_providers, plan_target, synced_targets
from metricsync.platforms.userflux import QUERY
from metricsync.provider import Provider
from metricsync.secrets import redact
from metricsync.workspace import Workspace

if TYPE_CHECKING:
    from metricsync.platforms.userflux.client import UserFluxClient

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

    def dry_run(self, change: Change) -> None: ...


def verify(workspace: Workspace, transport_for: TransportFor | None = None) -> VerifyReport:
    """Every check of the selected targets: queries first, then dry runs, in target order.
    Every client is built (and every secret resolved) before the first request."""
    from metricsync.platforms.userflux.client import UserFluxClient

    queries = {
        t.name: [d for d in workspace.definitions(t) if d.kind == QUERY.name]
        for t in workspace.targets
    }
    synced = synced_targets(workspace)
    with ExitStack() as stack:
        clients = {
            t.name: stack.enter_context(
                UserFluxClient(t, transport_for(t) if transport_for else None)
            )
            for t in workspace.targets
            if queries[t.name]
        }
        providers = stack.enter_context(open_providers(synced, transport_for))
        results = [
            check_query(t, d, clients[t.name]) for t in workspace.targets for d in queries[t.name]
        ]
        for target in synced:
            if isinstance(providers[target.name], DryRunner):
                results += dry_runs(workspace, target, providers[target.name])
    return VerifyReport(tuple(results))


def check_query(target: Target, definition: Definition, client: UserFluxClient) -> CheckResult:
    """Runs one query with its declared variables and checks its `expect`."""
    from metricsync.platforms.userflux.binding import prepare

    started = time.perf_counter()
    try:
        with client.rows(prepare(definition.spec)) as rows:
            count, problems = expectation_check(definition.spec.get("expect") or {}, rows)
    except MetricsyncError as exc:
        return _result(target, definition, "query", started, failure=exc)
    status = Status.FAILED if problems else Status.PASSED
    detail = "; ".join(problems) or f"{count} row{'s' * (count != 1)}"
    return _result(target, definition, "query", started, status, detail)


def expectation_check(expect: Mapping[str, Any], rows: Iterator[Any]) -> tuple[int, list[str]]:
    """Counts the rows (consuming them one at a time) and says what `expect` found wrong."""
    wanted = list(expect.get("columns") or [])
    count, problems = 0, list[str]()
    for row in rows:
        count += 1
        if wanted and not problems:
            missing = [c for c in wanted if not isinstance(row, dict) or c not in row]
            if missing:
                got = ", ".join(map(str, row)) if isinstance(row, dict) else type(row).__name__
                problems.append(f"row {count} lacks column(s) {', '.join(missing)} (has: {got})")
    minimum = int(expect.get("min_rows") or 0)
    if count < minimum:
        problems.insert(0, f"expected at least {minimum} row{'s' * (minimum != 1)}, got {count}")
    return count, problems


def dry_runs(workspace: Workspace, target: Target, provider: Provider) -> list[CheckResult]:
    """Plans the target, then dry-runs its creates and updates. Nothing is written: tags,
    creates and updates alike stay unapplied."""
    assert isinstance(provider, DryRunner)
    started = time.perf_counter()
    try:
        definitions = workspace.definitions(target)
        state = provider.read(expected=len(definitions))
        plan = plan_target(target, definitions, provider, Overrides(), state, usage=False)
    except MetricsyncError as exc:
        seconds = time.perf_counter() - started
        detail = f"could not read live state: {_message(exc)}"
        return [CheckResult(target.name, "", "", "read", Status.FAILED, seconds, detail)]
    pending = {c.key for c in plan.changes if c.action in (Action.CREATE, Action.REPLACE)}
    return [
        _dry_run(target, change, provider.dry_run, pending)
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
