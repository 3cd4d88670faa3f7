"""`metricsync verify`: server-side checks that change nothing, reported per definition."""

from __future__ import annotations

from pathlib import Path

import click

from metricsync.cli.options import (
    config_option,
    format_option,
    sandbox_option,
    target_option,
    timeout_option,
)


@click.command("verify")
@config_option
@timeout_option
@target_option
@sandbox_option
@format_option("text", "markdown", "json")
def verify_command(
    config_path: Path, targets: tuple[str, ...], sandbox: bool, output_format: str
) -> int:
    """Check definitions on the platforms themselves, changing nothing.

    Runs each definition of a platform with a verifier through it (UserFlux: every
    userflux/query runs, its SQL bound by metricsync or a pre-defined metric with its variables,
    and its `expect` is checked); sends every create and update of the current plan to a
    platform that dry-runs them (Statsig: with dryRun, validated without being stored). Each
    result names its definition, with timing and, on failure, file:line and the platform's
    message.

    Exit 0 when every check passed (or was skipped), 1 when any failed or a platform could not
    be reached, 3 for an invalid config or definitions (nothing is sent), 64 for usage errors.
    """
    from metricsync.render.verify import render
    from metricsync.verify import verify
    from metricsync.workspace import open_workspace

    with open_workspace(config_path, targets, sandbox) as workspace:
        for problem in workspace.warnings:
            click.echo(str(problem), err=True)
        report = verify(workspace)
    click.echo(render(report, output_format), nl=False)
    return report.exit_code
