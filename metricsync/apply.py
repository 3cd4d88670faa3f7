"""Executes a plan through providers: independent changes run concurrently, a failure skips
only the changes that depend on it, deletes run last and one at a time, and every change's
outcome is reported."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from metricsync.diff import untaken
from metricsync.errors import ExitCode, MetricsyncError, NotTaken, Refused
from metricsync.live import LiveObject
from metricsync.plan import Action, Change, Plan, TargetPlan
from metricsync.provider import Provider
from metricsync.secrets import redact


class Status(StrEnum):
    APPLIED = "applied"
    FAILED = "failed"
    SKIPPED = "skipped"


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

    def count(self, status: Status) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def exit_code(self) -> ExitCode:
        if self.count(Status.FAILED) + self.count(Status.SKIPPED) == 0:
            return ExitCode.OK
        return ExitCode.PARTIAL if self.count(Status.APPLIED) else ExitCode.ERROR


Progress = Callable[[Outcome], None]


def apply_plan(plan: Plan, providers: dict[str, Provider], progress: Progress) -> ApplyReport:
    if plan.refusals:
        raise Refused("; ".join(plan.refusals))
    outcomes: list[Outcome] = []
    notes: list[str] = []
    learnt: dict[str, dict[str, Any]] = {}
    for target_plan in plan.targets:
        if target_plan.changes:
            provider = providers[target_plan.target]
            outcomes += apply_target(target_plan, provider, progress)
            notes += provider.notes
            if provider.learnt:
                learnt[target_plan.target] = dict(provider.learnt)
    return ApplyReport(tuple(outcomes), tuple(notes), learnt)


def apply_target(plan: TargetPlan, provider: Provider, progress: Progress) -> list[Outcome]:
    try:
        provider.prepare(plan.changes)
    except MetricsyncError as exc:
        failed = [Outcome(plan.target, c, Status.FAILED, redact(str(exc))) for c in plan.changes]
        for outcome in failed:
            progress(outcome)
        return failed
    writes = [c for c in plan.changes if c.action != Action.DELETE]
    deletes = [c for c in plan.changes if c.action == Action.DELETE]
    outcomes = _run_concurrently(plan.target, writes, provider, progress)
    for change in deletes:  # in plan order: dependants before what they depend on
        outcomes.append(_execute(plan.target, change, provider))
        progress(outcomes[-1])
    return outcomes


def _run_concurrently(
    target: str, changes: Sequence[Change], provider: Provider, progress: Progress
) -> list[Outcome]:
    done: dict[str, Outcome] = {}
    pending = list(changes)
    running: dict[Future[Outcome], Change] = {}
    with ThreadPoolExecutor(max_workers=provider.limits.concurrency) as pool:
        while pending or running:
            if not running and all(_readiness(c, done) == "wait" for c in pending):
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
                    running[pool.submit(_execute, target, change, provider)] = change
            if not running:
                continue
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                outcome = future.result()
                done[running.pop(future).key] = outcome
                progress(outcome)
    return [done[c.key] for c in changes]


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


def _execute(target: str, change: Change, provider: Provider) -> Outcome:
    started = time.monotonic()
    try:
        answered = _dispatch(change, provider)
        _check(change, answered, provider)
    except MetricsyncError as exc:
        error = redact(str(exc))
        return Outcome(target, change, Status.FAILED, error, time.monotonic() - started)
    return Outcome(target, change, Status.APPLIED, None, time.monotonic() - started)


def _dispatch(change: Change, provider: Provider) -> LiveObject | None:
    if change.action == Action.CREATE:
        return provider.create(change)
    if change.action in (Action.UPDATE, Action.ADOPT):
        return provider.update(change)
    if change.action == Action.REPLACE:
        provider.delete(change)
        return provider.create(change)
    if change.action == Action.DELETE:
        if change.live is None or not change.live.owned:
            raise Refused(f"{change.name!r} does not carry the ownership marker; not deleting it")
        provider.delete(change)
    return None


def _check(change: Change, answered: LiveObject | None, provider: Provider) -> None:
    """A write counts as applied only when the object the platform answered with holds every
    compared field as sent: an accepted write that did not take a field is a failure naming
    it, never "ok" (docs/platforms/README.md)."""
    if answered is None or change.definition is None:
        return
    fields = untaken(change.definition, answered, provider.written_view())
    if fields:
        raise NotTaken(provider.not_taken(change, fields))
