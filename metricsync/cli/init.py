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
    click.echo(render(report, chosen), nl=False)
    return ExitCode.OK


PLANNED = ("statsig", "posthog")  # the platforms plan, apply and import work on


def render(report: InitReport, platforms: tuple[str, ...]) -> str:
    from metricsync.scaffold import workflow_secrets

    lines = [f"Started a metricsync project in {report.root}: {len(report.written)} files."]
    folders = sorted({p.split("/")[0] + ("/" if "/" in p else "") for p in report.written})
    lines.append(f"  wrote {', '.join(folders)}")
    if report.gitignore == "appended":
        lines.append("  added .metricsync/ to the existing .gitignore")
    elif report.gitignore == "kept":
        lines.append("  .gitignore already ignores .metricsync/")
    root = _repository_root(Path(report.root))
    if root is not None and root != Path(report.root) and ".github/" in folders:
        inside = Path(report.root).relative_to(root).as_posix()
        lines.append(
            f"  note: GitHub runs workflows only from the repository's root ({root}): move "
            f".github/ there and set METRICSYNC_DIRECTORY: {inside} in the three workflows "
            "(docs/github-actions.md)"
        )
    steps: list[str] = []
    if report.to_edit:
        edits = ", ".join(f"{s.target}.{s.key}" for s in report.to_edit)
        steps.append(f"Edit the example values in metricsync.yaml: {edits}.")
    names = list(dict.fromkeys(s.value for s in report.variables))
    if names:
        # Only the names a written workflow reads need to be repository secrets.
        read = workflow_secrets() if any(p.startswith(".github/") for p in report.written) else ()
        secrets = [name for name in names if name in read]
        if secrets == names:
            steps.append(
                "Set the variables it references (and the same names as repository secrets "
                f"for the workflows): {', '.join(names)}."
            )
        else:
            steps.append(f"Set the variables it references: {', '.join(names)}.")
        if secrets and secrets != names:
            steps[-1] += f" The workflows read {', '.join(secrets)} from repository secrets."
    planned = any(p in PLANNED for p in platforms)
    commands = [("metricsync validate", "check the config and definitions (offline)")]
    if planned:
        commands.append(("metricsync plan --sandbox", "rehearse against the embedded sandbox"))
    if "userflux" in platforms:
        commands.append(("metricsync verify --sandbox", "run the queries against the sandbox"))
    if "unleash" in platforms:
        commands.append(("metricsync unleash validate", "check the usage payloads (offline)"))
    if planned:
        commands.append(("metricsync import", "bring an existing account's objects in"))
        commands.append(("metricsync plan", "see what apply would change live"))
    if "userflux" in platforms:
        commands.append(("metricsync verify", "run the queries on UserFlux"))
    steps += [f"{command:<33}{what}" for command, what in commands]
    lines += ["", "Next steps:"]
    lines += [f"  {number}. {step}" for number, step in enumerate(steps, 1)]
    return "\n".join(lines) + "\n"


def _repository_root(folder: Path) -> Path | None:
    """The Git repository `folder` is in (the nearest folder up holding .git), if any."""
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists():
            return candidate
    return None
