"""One `metricsync apply` run (docs/commands/apply.md): a reviewed saved plan checked for
staleness, or a fresh plan confirmed, then applied under the project's lock with Ctrl-C handled,
and what the run learnt kept. The caller decides how the run shows and asks things (Screen)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from metricsync import facts
from metricsync.apply import ApplyReport, Progress, apply_plan
from metricsync.errors import Refused
from metricsync.interrupt import Interruption, signals_handled
from metricsync.lock import command_line, lock_for_config
from metricsync.plan import Plan
from metricsync.plan_file import SavedPlan, changed_since_review, read
from metricsync.planner import Overrides, TransportFor, build_plan, open_session


@dataclass(frozen=True)
class ApplyOptions:
    config_path: Path
    targets: tuple[str, ...] = ()  # default: the saved plan's targets, or every target
    planfile: Path | None = None  # a reviewed saved plan (`plan --out FILE`); None plans afresh
    sandbox: bool = False
    overrides: Overrides = field(default_factory=Overrides)
    transport_for: TransportFor | None = None


@dataclass(frozen=True)
class Screen:
    """What a run shows and asks on its way, in its order; the command line prints and prompts.
    `confirm` is asked for a fresh plan with changes, before any write, and raises to stop."""

    warn: Callable[[str], None]
    show: Callable[[Plan], None]
    confirm: Callable[[Plan], None]
    progress: Progress


def run_apply(options: ApplyOptions, screen: Screen) -> ApplyReport | None:
    """The report of the changes applied; None when there was nothing to change. A saved plan
    whose touched objects changed since review, and a plan a safety rule refuses, are Refused
    before any write."""
    saved = read(options.planfile) if options.planfile else None
    names = options.targets or (saved.targets if saved else ())
    with (
        lock_for_config(options.config_path, command_line("apply", names)),  # one writing run
        open_session(options.config_path, names, options.sandbox, options.transport_for) as s,
    ):
        _warn(screen, s.workspace.warnings)
        reviewed = saved.touches if saved else None
        plan = build_plan(s.workspace, s.providers, _overrides(options, saved), reviewed)
        _warn(screen, plan.warnings)
        if saved is not None:
            _refuse_if_stale(saved, plan, screen)
        screen.show(plan)
        if plan.refusals:  # even with no change to make: a refused definition is not in sync
            raise Refused("; ".join(plan.refusals))
        if not plan.changes:
            return None
        if saved is None:  # a saved plan was confirmed by its review
            screen.confirm(plan)
        with signals_handled(Interruption()) as interruption:  # Ctrl-C: report, then stop
            report = apply_plan(plan, s.providers, screen.progress, interruption)
        facts.remember(s.workspace.state_dir, report.learnt)
    return report


def _overrides(options: ApplyOptions, saved: SavedPlan | None) -> Overrides:
    """The takeovers reviewed in a saved plan stay takeovers."""
    if saved is None:
        return options.overrides
    given = options.overrides.adopt_from
    reviewed = (c.get("adopt_from") for c in saved.changes.values())
    adopt_from = (*given, *dict.fromkeys(r for r in reviewed if r and r not in given))
    return replace(options.overrides, adopt_from=adopt_from)


def _refuse_if_stale(saved: SavedPlan, plan: Plan, screen: Screen) -> None:
    stale = changed_since_review(saved, plan)
    if stale:
        screen.warn("Changed since review:\n" + "".join(f"  {s}\n" for s in stale))
        raise Refused(f"{saved.path} is stale; run plan again and review it")


def _warn(screen: Screen, problems: Iterable[object]) -> None:
    for problem in problems:
        screen.warn(str(problem))
