"""Plans and apply reports as text: Terraform-like symbols, field-level diffs, a summary line.
Colour only when writing to a terminal."""

from __future__ import annotations

import click

from metricsync.apply import ApplyReport, Outcome, Status
from metricsync.display import printable
from metricsync.plan import Action, Change, Plan, TargetPlan
from metricsync.render.usage import usage_risk, used_by_line
from metricsync.render.values import duration, show, summary_counts

SYMBOLS = {
    Action.CREATE: ("+", "green"),
    Action.UPDATE: ("~", "yellow"),
    Action.ADOPT: ("~", "cyan"),
    Action.REPLACE: ("-/+", "magenta"),
    Action.DELETE: ("-", "red"),
}


def render_plan(plan: Plan, colour: bool = False) -> str:
    lines: list[str] = []
    for target in plan.targets:
        lines += _target(target, colour)
    verdict = "No changes." if not plan.changes else f"Plan: {summary_counts(plan.changes)}."
    lines.append(verdict)
    return "\n".join(lines) + "\n"


def _target(target: TargetPlan, colour: bool) -> list[str]:
    lines = [f"Target {target.target} ({target.platform}): {summary_counts(target.changes)}"]
    for change in target.changes:
        lines += change_lines(change, colour)
    for look in target.lookalikes:
        lines.append(
            printable(
                f"  ? possible duplicate: unmanaged {look.name!r} (id {look.live_id}) "
                f"resembles {look.resembles!r}"
            )
        )
    lines += [printable(f"  note: {note}") for note in target.notes]
    lines += [_style(f"  refused: {r}", "red", colour) for r in target.refusals]
    if target.changes:
        lookups = f" ({target.lookups} to look up experiments)" if target.lookups else ""
        lines.append(
            f"  {target.api_calls} API call(s){lookups}; at least "
            f"{duration(target.minimum_seconds)} under {target.platform}'s rate limits"
        )
    return [*lines, ""]


def change_lines(change: Change, colour: bool) -> list[str]:
    symbol, hue = SYMBOLS[change.action]
    head = f"  {symbol} {change.kind} {change.name!r}"
    if change.previous_name:
        head += f" (renamed from {change.previous_name!r})"
    if change.adopt_from:
        head += f" (adopt from {change.adopt_from})"
    elif change.action == Action.ADOPT:
        head += " (adopt: ownership marker added)"
    elif change.adopt:
        head += " (and adopt)"
    if change.live_id and change.action != Action.CREATE:
        head += f" [id {change.live_id}]"
    lines = [_style(head, hue, colour)]
    for field in change.fields:
        if change.action == Action.CREATE:
            lines.append(f"      {printable(field.path)}: {show(field.after)}")
        else:
            path = printable(field.path)
            lines.append(f"      {path}: {show(field.before)} → {show(field.after)}")
    used_by = used_by_line(change)
    if used_by is not None:
        lines.append(f"      {printable(used_by)}")
    if change.action == Action.UPDATE and (risk := usage_risk(change, repr, str)) is not None:
        lines.append(_style(f"      ! {risk}", "red", colour))
    return lines


def _style(text: str, colour_name: str, colour: bool) -> str:
    text = printable(text)  # before styling: the only escape sequences are our own
    return click.style(text, fg=colour_name) if colour else text


def render_outcome(outcome: Outcome) -> str:
    change = outcome.change
    what = f"{outcome.target}: {change.action.value} {change.kind} {change.name!r}"
    if outcome.status == Status.APPLIED:
        return f"  ok      {what} ({outcome.seconds:.2f}s)"
    return printable(f"  {outcome.status.value:<7} {what}: {outcome.error}")


def render_report(report: ApplyReport) -> str:
    lines = [render_outcome(o) for o in report.outcomes if o.status != Status.APPLIED]
    lines += [printable(f"note: {note}") for note in report.notes]
    applied, failed = report.count(Status.APPLIED), report.count(Status.FAILED)
    skipped = report.count(Status.SKIPPED)
    counts = f"{applied} applied, {failed} failed, {skipped} skipped"
    waiting = report.count(Status.NOT_STARTED)
    if report.interrupted is None and waiting:  # the run's deadline (--timeout) passed
        lines.append(
            f"Apply stopped at the run's deadline: {counts}, {waiting} not started. "
            "Run apply again to finish (with a larger --timeout)."
        )
    elif report.interrupted is None:
        lines.append(f"Apply: {counts}.")
    else:
        lines.append(
            f"Apply interrupted ({report.interrupted.signal_name}): {counts}, "
            f"{waiting} not started. Run apply again to finish."
        )
    return "\n".join(lines) + "\n"
