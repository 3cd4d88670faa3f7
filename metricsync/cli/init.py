"""`metricsync init`: start a project in the current folder, then say what to do next."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from metricsync.cli.options import sandbox_accepted
from metricsync.errors import ExitCode

if TYPE_CHECKING:
    from metricsync.scaffold import InitReport

PLATFORM_NAMES = ("statsig", "posthog", "userflux", "unleash")


@click.command("init")
@click.option(
    "--platform",
    "platforms",
    multiple=True,
    type=click.Choice(PLATFORM_NAMES),
    help="A platform to start a target for (repeatable; default: statsig and posthog).",
)
@click.option("--examples", is_flag=True, help="Add one example definition per platform.")
@click.option(
    "--no-workflows",
    is_flag=True,
    help="Leave out the GitHub Actions workflows and the action they use.",
)
@sandbox_accepted
def init_command(platforms: tuple[str, ...], examples: bool, no_workflows: bool) -> int:
    """Start a metricsync project in the current folder.

    Writes metricsync.yaml (one target per --platform, secrets as env:NAME references, the
    safety policy's defaults as comments), a definitions folder per target, schemas/ for
    editors, the pull-request, merge and drift workflows under .github/, and a .gitignore
    entry for .metricsync/ (appended to an existing .gitignore). Never replaces a file: when
    any exists, it is named and nothing is written (exit 1). Never uses the network.
    """
    from metricsync.scaffold import DEFAULT_PLATFORMS, InitOptions, init_project

    chosen = tuple(dict.fromkeys(platforms)) or DEFAULT_PLATFORMS
    report = init_project(Path.cwd(), InitOptions(chosen, examples, not no_workflows))
    click.echo(render(report), nl=False)
    return ExitCode.OK


def render(report: InitReport) -> str:
    lines = [f"Started a metricsync project in {report.root}: {len(report.written)} files."]
    folders = sorted({p.split("/")[0] + ("/" if "/" in p else "") for p in report.written})
    lines.append(f"  wrote {', '.join(folders)}")
    if report.gitignore == "appended":
        lines.append("  added .metricsync/ to the existing .gitignore")
    elif report.gitignore == "kept":
        lines.append("  .gitignore already ignores .metricsync/")
    lines += ["", "Next steps:"]
    step = 1
    if report.to_edit:
        edits = ", ".join(f"{s.target}.{s.key}" for s in report.to_edit)
        lines.append(f"  {step}. Edit the example values in metricsync.yaml: {edits}.")
        step += 1
    if report.variables:
        names = ", ".join(dict.fromkeys(s.value for s in report.variables))
        lines.append(
            f"  {step}. Set the variables it references (and the same names as repository "
            f"secrets for the workflows): {names}."
        )
        step += 1
    lines += [
        f"  {step}. metricsync validate              check the config and definitions (offline)",
        f"  {step + 1}. metricsync plan --sandbox        rehearse against the embedded sandbox",
        f"  {step + 2}. metricsync import                bring an existing account's objects in",
        f"  {step + 3}. metricsync plan                  see what apply would change live",
    ]
    return "\n".join(lines) + "\n"
