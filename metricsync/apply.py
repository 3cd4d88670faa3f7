"""Executes a plan through providers: independent changes run concurrently, a failure skips
only the changes that depend on it, deletes run last and one at a time, and every change's
outcome is reported. An interruption stops new changes from starting; the ones in flight
finish and are reported with the rest (docs/README.md, exit codes). What a write learns about its
target comes back with its answer and is recorded here, on apply's own thread, never on the
provider."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from metricsync.diff import untaken
from metricsync.errors import ExitCode, MetricsyncError, NotTaken, Refused
from metricsync.interrupt import Interruption, NotStarted
from metricsync.live import LiveObject
from metricsync.plan import Action, Change, Plan, TargetPlan
from metricsync.platforms import KINDS
from metricsync.provider import Facts, Learnt, NameTaken, Provider, Written, describe_fields
from metricsync.secrets import redact


class Status(StrEnum):
    APPLIED = "applied"
    FAILED = "failed"
    SKIPPED = "skipped"
    NOT_STARTED = "not started"  # the run was interrupted, or its deadline passed, first


@dataclass(frozen=True)
class Outcome:
    target: str
    change: Change
    status: Status
    error: str | None = None
    seconds: float = 0.0


@dataclass(frozen=True)
class ApplyReport:
    outcomes: tuple[Outcome, ...]
    notes: tuple[str, ...] = ()
    learnt: dict[str, dict[str, Any]] = field(default_factory=dict)  # target -> facts
    interrupted: Interruption | None = None  # set when a signal stopped the run

    def count(self, status: Status) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def exit_code(self) -> ExitCode:
        if self.interrupted is not None:
            return self.interrupted.exit_code
        unfinished = Status.FAILED, Status.SKIPPED, Status.NOT_STARTED  # (the deadline passed)
        if sum(self.count(status) for status in unfinished) == 0:
            return ExitCode.OK
        return ExitCode.PARTIAL if self.count(Status.APPLIED) else ExitCode.ERROR


Progress = Callable[[Outcome], None]


@dataclass
class Learning:
    """What one target's apply knows beyond its settings: the facts its read learnt, then those
    its writes returned, each recorded after the write's worker is done. Each note is kept once
    (writes in flight together may learn the same thing)."""

    facts: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    learnt: set[str] = field(default_factory=set)  # keys this run's writes taught

    def add(self, learnt: Learnt) -> None:
        self.facts.update(learnt.facts)
        self.learnt.update(learnt.facts)
        self.notes += [note for note in learnt.notes if note not in self.notes]

    def remembered(self, keys: Sequence[str]) -> dict[str, Any]:
        """The facts to keep for later runs (.metricsync/state.json): those of `keys` taught."""
        return {key: self.facts[key] for key in keys if key in self.learnt}


@dataclass(frozen=True)
class _Answered:
    """A write the platform answered, to be checked on apply's own thread."""

    written: Written
    started: float


def apply_plan(
    plan: Plan,
    providers: dict[str, Provider],
    progress: Progress,
    interruption: Interruption | None = None,
) -> ApplyReport:
    """Applies every target's changes; `interruption` (raised by a signal handler) stops the run
    from starting any further change."""
    if plan.refusals:
        raise Refused("; ".join(plan.refusals))
    stop = interruption or Interruption()
    outcomes: list[Outcome] = []
    notes: list[str] = []
    learnt: dict[str, dict[str, Any]] = {}
    for target_plan in plan.targets:
        if target_plan.changes:
            provider = providers[target_plan.target]
            provider.client.guard = stop
            learning = Learning(dict(target_plan.facts))
            try:
                outcomes += apply_target(target_plan, provider, progress, stop, learning)
            finally:
                provider.client.guard = None
            notes += learning.notes
            remembered = learning.remembered(provider.remembered)
            if remembered:
                learnt[target_plan.target] = remembered
    return ApplyReport(tuple(outcomes), tuple(notes), learnt, stop if stop.interrupted else None)


def apply_target(
    plan: TargetPlan,
    provider: Provider,
    progress: Progress,
    interruption: Interruption | None = None,
    learning: Learning | None = None,
) -> list[Outcome]:
    stop = interruption or Interruption()
    learning = learning or Learning(dict(plan.facts))
    try:
        with stop.change(provider.client.deadline):  # setup writes (tags) are gated too
            provider.prepare(plan.changes, learning.facts)
    except MetricsyncError as exc:
        status = Status.NOT_STARTED if isinstance(exc, NotStarted) else Status.FAILED
        failed = [Outcome(plan.target, c, status, redact(str(exc))) for c in plan.changes]
        for outcome in failed:
            progress(outcome)
        return failed
    writes = [c for c in plan.changes if c.action != Action.DELETE]
    deletes = [c for c in plan.changes if c.action == Action.DELETE]
    outcomes = _run_concurrently(plan.target, writes, provider, progress, stop, learning)
    for change in deletes:  # in plan order: dependants before what they depend on
        sent = _execute(plan.target, change, provider, stop, dict(learning.facts))
        outcomes.append(_checked(plan.target, change, sent, provider, learning))
        progress(outcomes[-1])
    return outcomes


def _run_concurrently(
    target: str,
    changes: Sequence[Change],
    provider: Provider,
    progress: Progress,
    stop: Interruption,
    learning: Learning,
) -> list[Outcome]:
    done: dict[str, Outcome] = {}
    pending = list(changes)
    running: dict[Future[Outcome | _Answered], Change] = {}
    with ThreadPoolExecutor(max_workers=provider.limits.writes_in_flight) as pool:
        while pending or running:
            if stop.interrupted:
                pending = _not_started(target, pending, done, progress, stop)
            elif not running and all(_readiness(c, done) == "wait" for c in pending):
                pending = _stuck(target, pending, done, progress)
            for change in list(pending):
                verdict = _readiness(change, done)
                if verdict == "wait":
                    continue
                pending.remove(change)
                if verdict == "skip":
                    done[change.key] = _skipped(target, change, done)
                    progress(done[change.key])
                else:
                    facts = dict(learning.facts)  # what the run knows as the write starts
                    future = pool.submit(_execute, target, change, provider, stop, facts)
                    running[future] = change
            if not running:
                continue
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                change = running.pop(future)
                outcome = _checked(target, change, future.result(), provider, learning)
                done[change.key] = outcome
                progress(outcome)
    return [done[c.key] for c in changes]


def _not_started(
    target: str,
    pending: list[Change],
    done: dict[str, Outcome],
    progress: Progress,
    stop: Interruption,
) -> list[Change]:
    """The run was interrupted: nothing pending starts, and each is reported as such."""
    for change in pending:
        done[change.key] = Outcome(target, change, Status.NOT_STARTED, stop.reason)
        progress(done[change.key])
    return []


def _stuck(
    target: str, pending: list[Change], done: dict[str, Outcome], progress: Progress
) -> list[Change]:
    """Dependencies that can never complete (a cycle): skip the changes waiting on them."""
    for change in pending:
        done[change.key] = Outcome(target, change, Status.SKIPPED, "skipped: circular dependency")
        progress(done[change.key])
    return []


def _readiness(change: Change, done: dict[str, Outcome]) -> str:
    if any(key not in done for key in change.depends_on):
        return "wait"
    if any(done[key].status != Status.APPLIED for key in change.depends_on):
        return "skip"
    return "run"


def _skipped(target: str, change: Change, done: dict[str, Outcome]) -> Outcome:
    failed = [k for k in change.depends_on if done[k].status != Status.APPLIED]
    return Outcome(target, change, Status.SKIPPED, f"skipped: {', '.join(failed)} did not apply")


def _execute(
    target: str, change: Change, provider: Provider, stop: Interruption, facts: Facts
) -> Outcome | _Answered:
    """Sends the change (on a worker); the answer is checked by `_checked`."""
    started = time.monotonic()
    try:
        with stop.change(provider.client.deadline):
            return _Answered(_dispatch(change, provider, facts), started)
    except NotStarted as exc:
        return Outcome(target, change, Status.NOT_STARTED, str(exc))
    except MetricsyncError as exc:
        error = redact(str(exc))
        return Outcome(target, change, Status.FAILED, error, time.monotonic() - started)


def _checked(
    target: str, change: Change, sent: Outcome | _Answered, provider: Provider, learning: Learning
) -> Outcome:
    """The change's outcome, once what its write learnt is recorded (on apply's own thread)."""
    if isinstance(sent, Outcome):
        return sent
    learning.add(sent.written.learnt)
    try:
        _check(change, sent.written.answered, provider, learning)
    except MetricsyncError as exc:
        error = redact(str(exc))
        return Outcome(target, change, Status.FAILED, error, time.monotonic() - sent.started)
    return Outcome(target, change, Status.APPLIED, None, time.monotonic() - sent.started)


def _dispatch(change: Change, provider: Provider, facts: Facts) -> Written:
    if change.action == Action.CREATE:
        return _create(change, provider, facts)
    if change.action in (Action.UPDATE, Action.ADOPT):
        return provider.update(change, facts)
    if change.action == Action.REPLACE:
        provider.delete(change)
        return _create(change, provider, facts)
    if change.action == Action.DELETE:
        if change.live is None or not change.live.owned:
            raise Refused(f"{change.name!r} does not carry the ownership marker; not deleting it")
        provider.delete(change)
    return Written(None)


def _create(change: Change, provider: Provider, facts: Facts) -> Written:
    """A create that lost a race to an identical object (a concurrent run made it since the
    plan) has reached its goal and counts as applied; a different one fails, saying so."""
    try:
        return provider.create(change, facts)
    except NameTaken as taken:
        if change.definition is None:
            raise
        view = provider.written_view(facts, KINDS[provider.kind])
        fields = untaken(change.definition, taken.found, view)
        if fields:
            raise NameTaken(
                f"{change.name!r} was created meanwhile (by another run, or by hand) and differs "
                f"from this definition: {describe_fields(fields)}; run plan again to see it",
                taken.found,
            ) from None
        note = (
            f"{change.name!r} was created meanwhile by another run, exactly as defined: "
            "counted as applied"
        )
        return Written(taken.found, Learnt(notes=(note,)))


def _check(
    change: Change, answered: LiveObject | None, provider: Provider, learning: Learning
) -> None:
    """A write counts as applied only when the object the platform answered with holds every
    compared field as sent: an accepted write that did not take a field is a failure naming
    it, never "ok" (docs/platforms/README.md); what that teaches is recorded."""
    if answered is None or change.definition is None:
        return
    view = provider.written_view(learning.facts, KINDS[provider.kind])
    fields = untaken(change.definition, answered, view)
    if fields:
        message, facts = provider.not_taken(change, fields, learning.facts)
        learning.add(Learnt(facts))
        raise NotTaken(message)
