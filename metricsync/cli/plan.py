"""`metricsync plan` and `metricsync apply`: read live state, show the ordered changes, and
apply them safely (a fresh plan with confirmation, or a reviewed saved plan)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from metricsync.cli.options import (
    config_option,
    format_option,
    sandbox_option,
    target_option,
    timeout_option,
)
from metricsync.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from metricsync.apply_run import Screen
    from metricsync.plan import Plan

F = TypeVar("F", bound=Callable[..., Any])


def override_options(function: F) -> F:
    function = click.option(
        "--adopt-from",
        "adopt_from",
        multiple=True,
        metavar="OWNER",
        help="Take over objects another repository owns (marked by tag OWNER): our marker "
        "replaces theirs (repeatable).",
    )(function)
    function = click.option(
        "--allow-changes-percent",
        type=click.FloatRange(0, 100),
        metavar="P",
        help="Lift max_changes_percent to P for this run only.",
    )(function)
    return click.option(
        "--allow-deletes",
        type=click.IntRange(0),
        metavar="N",
        help="Lift max_deletes to N for this run only.",
    )(function)


@click.command("plan")
@config_option
@timeout_option
@target_option
@sandbox_option
@format_option("text", "markdown", "json")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), help="Save the plan.")
@click.option(
    "--detailed-exitcode", is_flag=True, help="Exit 2 when changes are pending, 0 when none."
)
@override_options
def plan_command(
    config_path: Path,
    targets: tuple[str, ...],
    sandbox: bool,
    output_format: str,
    out: Path | None,
    detailed_exitcode: bool,
    allow_deletes: int | None,
    allow_changes_percent: float | None,
    adopt_from: tuple[str, ...],
) -> int:
    """Read live state and print the ordered changes apply would make.

    A reference that resolves to nothing (a composite's component neither defined for the
    target nor live there) is exit 3 at its line. A plan that a safety rule refuses (among
    them a delete of an object that something staying refers to) is printed and exits 5.
    `--out FILE` saves the plan for `metricsync apply FILE`, which refuses it if anything it
    touches changed since.
    """
    from metricsync.plan_file import save
    from metricsync.planner import Overrides, plan_targets

    overrides = Overrides(allow_deletes, allow_changes_percent, adopt_from)
    plan = plan_targets(config_path, targets, sandbox, overrides, _warn)
    click.echo(render(plan, output_format), nl=False)
    if out is not None:
        save(plan, out)
        click.echo(f"Saved the plan to {out}.", err=True)
    if plan.refusals:
        return ExitCode.REFUSED
    return ExitCode.CHANGES if detailed_exitcode and plan.changes else ExitCode.OK


@click.command("apply")
@click.argument("planfile", required=False, type=click.Path(path_type=Path))
@config_option
@timeout_option
@target_option
@sandbox_option
@click.option("--yes", "-y", is_flag=True, help="Apply without asking (required off a terminal).")
@click.option(
    "--allow-in-use",
    is_flag=True,
    help="Delete or replace objects running experiments use (or whose usage is unknown), "
    "for this run only.",
)
@override_options
def apply_command(
    planfile: Path | None,
    config_path: Path,
    targets: tuple[str, ...],
    sandbox: bool,
    yes: bool,
    allow_in_use: bool,
    allow_deletes: int | None,
    allow_changes_percent: float | None,
    adopt_from: tuple[str, ...],
) -> int:
    """Apply a fresh plan (after confirmation), or the saved PLANFILE as reviewed.

    A saved plan is applied only if nothing it touches changed since it was made; otherwise
    apply prints what changed since review and exits 5. Changes to objects it does not touch
    (drift elsewhere, new objects) are left for the next plan. Each write is checked against
    the platform's answer: one it accepted without taking every field fails, naming the fields.
    Exit 4 when some changes failed (1 when none applied).
    Ctrl-C (or SIGTERM) starts no further change: the writes in flight finish, every change
    is reported as applied, failed or not started, and apply exits 130 (143). When the
    run's deadline (--timeout) passes, no further change starts either: those are reported
    as not started and apply exits 4 (1 when none applied).

    One apply or import runs in a project at a time: each holds .metricsync/run.lock, and a
    second one names the run holding it (pid, host, command, since) and exits 1. A lock left
    by a run that died on this host is taken over; one from another host is named, for you
    to delete once that run is gone. A create that finds its object made meanwhile by another
    run, exactly as defined, counts as applied.
    """
    from metricsync.apply_run import ApplyOptions, run_apply
    from metricsync.planner import Overrides
    from metricsync.render.text import render_report

    overrides = Overrides(allow_deletes, allow_changes_percent, adopt_from, allow_in_use)
    options = ApplyOptions(config_path, targets, planfile, sandbox, overrides)
    report = run_apply(options, _terminal(yes))
    if report is None:  # nothing to change
        return ExitCode.OK
    click.echo(render_report(report), nl=False)
    return report.exit_code


def render(plan: Plan, output_format: str) -> str:
    if output_format == "json":
        from metricsync.render.plan_json import render_json

        return render_json(plan)
    if output_format == "markdown":
        from metricsync.render.markdown import render_markdown

        return render_markdown(plan)
    from metricsync.render.text import render_plan

    return render_plan(plan, colour=sys.stdout.isatty())


def _terminal(yes: bool) -> Screen:
    """How apply shows and asks things here: the plan on stdout, warnings and each change's
    outcome on stderr, and the question unless --yes."""
    from metricsync.apply_run import Screen
    from metricsync.render.text import render_outcome, render_plan

    return Screen(
        warn=_warn,
        show=lambda plan: click.echo(render_plan(plan, colour=sys.stdout.isatty()), nl=False),
        confirm=_no_question if yes else _confirm,
        progress=lambda outcome: click.echo(render_outcome(outcome), err=True),
    )


def _confirm(plan: Plan) -> None:
    if not sys.stdin.isatty():
        raise UsageError("apply needs --yes when it cannot ask (no terminal)")
    if not click.confirm(f"Apply {len(plan.changes)} change(s)?", default=False, err=True):
        raise click.exceptions.Abort()


def _no_question(plan: Plan) -> None:
    """--yes: the changes were confirmed on the command line."""


def _warn(line: str) -> None:
    click.echo(line, err=True)
