"""`metricsync init`: start a project in the current folder, then say what to do next."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING

import click

from metricsync.cli.options import sandbox_accepted
from metricsync.errors import ExitCode
from metricsync.platforms import PLATFORMS
from metricsync.platforms.base import NextSteps

if TYPE_CHECKING:
    from metricsync.scaffold import InitReport

PLATFORM_NAMES = tuple(PLATFORMS)
STEP_WIDTH = 33  # the column of the next steps' descriptions, unless a command is longer


def _listed(names: list[str]) -> str:
    return f"{', '.join(names[:-1])} and {names[-1]}" if len(names) > 1 else "".join(names)


PLANNED = _listed([p.name for p in PLATFORMS.values() if p.planned])
# What init suggests for every platform plan, apply and import work on.
PLANNED_STEPS = NextSteps(
    rehearse=(("metricsync plan --sandbox", "rehearse against the embedded sandbox"),),
    live=(
        ("metricsync import", "bring an existing account's objects in"),
        ("metricsync plan", "see what apply would change live"),
    ),
)


@click.command("init")
@click.option(
    "--platform",
    "platforms",
    multiple=True,
    type=click.Choice(PLATFORM_NAMES),
    help=f"A platform to start a target for (repeatable; default: {PLANNED}).",
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
        lines += _unread_note(report, read)
    steps += aligned(next_steps(platforms))
    lines += ["", "Next steps:"]
    lines += [f"  {number}. {step}" for number, step in enumerate(steps, 1)]
    return "\n".join(lines) + "\n"


def _unread_note(report: InitReport, read: Collection[str]) -> list[str]:
    """The variables of platforms the workflows plan or verify that no workflow passes: the
    shipped workflows name each platform's secrets in their jobs' env: blocks, so a platform
    added since needs its own there, or its targets fail in CI for want of them."""
    unread = {
        s.value: s.target
        for s in report.variables
        if (PLATFORMS[s.target].planned or PLATFORMS[s.target].verified) and s.value not in read
    }
    if not read or not unread:
        return []
    targets = ", ".join(dict.fromkeys(unread.values()))
    return [
        f"  note: the workflows plan or verify {targets} but do not pass {', '.join(unread)}: "
        "add them to the jobs' env: blocks (docs/github-actions.md)"
    ]


def aligned(steps: list[tuple[str, str]]) -> list[str]:
    """Each (command, what it does) as one line, the descriptions in one column at least two
    spaces after the longest command (a platform's own command may be long)."""
    width = max([STEP_WIDTH - 2, *(len(command) for command, _ in steps)]) + 2
    return [f"{command:<{width}}{what}" for command, what in steps]


def next_steps(platforms: tuple[str, ...]) -> list[tuple[str, str]]:
    """validate, then each chosen platform's rehearsals, then its live commands, in the
    registry's order; a step two platforms share is listed once."""
    chosen = [p for p in PLATFORMS.values() if p.name in platforms]
    own = [s for p in chosen for s in [*([PLANNED_STEPS] if p.planned else []), p.next_steps]]
    rehearse = [step for s in own for step in s.rehearse]
    live = [step for s in own for step in s.live]
    validate = ("metricsync validate", "check the config and definitions (offline)")
    return list(dict.fromkeys([validate, *rehearse, *live]))


def _repository_root(folder: Path) -> Path | None:
    """The Git repository `folder` is in (the nearest folder up holding .git), if any."""
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists():
            return candidate
    return None
