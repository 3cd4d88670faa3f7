"""`metricsync query NAME`: runs one userflux/query and prints its rows as they arrive. What the
command runs is imported in its body: the registry lists it for `metricsync --help`, which must
not pay for httpx, YAML or the schemas."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from metricsync.cli.options import (
    config_option,
    format_option,
    sandbox_option,
    target_option,
    timeout_option,
)
from metricsync.errors import ExitCode, UsageError
from metricsync.platforms.userflux.kinds import NAME, QUERY

if TYPE_CHECKING:
    from metricsync.config import Target
    from metricsync.definitions import Definition
    from metricsync.workspace import Workspace


@click.command("query")
@click.argument("name")
@click.option(
    "--var",
    "variables",
    multiple=True,
    metavar="NAME=VALUE",
    help="Set one variable for this run (repeatable). A value written the way a number prints "
    "(100, -3, 2.5) is a number; anything else is text.",
)
@config_option
@timeout_option
@target_option
@sandbox_option
@format_option("text", "json", "csv")
def query_command(
    name: str,
    variables: tuple[str, ...],
    config_path: Path,
    targets: tuple[str, ...],
    sandbox: bool,
    output_format: str,
) -> int:
    """Run the userflux/query named NAME and print its rows.

    Rows stream to stdout as an aligned table (text), a JSON array (one row per line) or CSV.
    With `sql`, metricsync binds each variable itself (text is escaped inside '…', bare
    placeholders take numbers). With `metric_id`, UserFlux substitutes the variables into the
    saved SQL unescaped, so --var may set only variables the definition declares, a declared
    number stays a number, and text holding a quote, a backslash or a control character is
    refused before anything is sent.
    `expect` is not checked here; `metricsync verify` does that. Exit 0 on success, 1 when
    UserFlux refuses the query, 3 for invalid definitions or variables, 64 for usage errors.
    """
    from metricsync.platforms.userflux.binding import prepare
    from metricsync.platforms.userflux.client import UserFluxClient
    from metricsync.render.rows import write_rows
    from metricsync.workspace import open_workspace

    overrides = dict(_variable(text) for text in variables)
    with open_workspace(config_path, targets or _query_targets(config_path), sandbox) as workspace:
        target, definition = find_query(workspace, name)
        query = prepare(definition.spec, overrides)
        try:
            with UserFluxClient(target) as client, client.rows(query) as rows:
                written = write_rows(rows, output_format, sys.stdout)
        except BrokenPipeError:  # `metricsync query … | head`: the reader has what it wanted
            _silence_stdout()
            return ExitCode.OK
    if written.dropped:
        dropped = ", ".join(written.dropped)
        click.echo(f"warning: column(s) {dropped} first appear late; use --format json", err=True)
    return ExitCode.OK


def find_query(workspace: Workspace, name: str) -> tuple[Target, Definition]:
    """The one selected target and userflux/query definition called `name`."""
    found = [
        (target, definition)
        for target in workspace.targets
        for definition in workspace.definitions(target)
        if definition.kind == QUERY.name and definition.name == name
    ]
    if len(found) > 1:
        names = ", ".join(target.name for target, _ in found)
        raise UsageError(f"{name!r} is defined for targets {names}; choose one with --target")
    if not found:
        known = sorted(
            d.name
            for t in workspace.targets
            for d in workspace.definitions(t)
            if d.kind == QUERY.name
        )
        raise UsageError(f"no {QUERY.name} named {name!r} (queries: {', '.join(known) or 'none'})")
    return found[0]


def _query_targets(config_path: Path) -> list[str]:
    """Without --target, only the UserFlux targets are validated and used."""
    from metricsync.config_file import load_config

    config = load_config(config_path)
    return [t.name for t in config.targets.values() if t.platform == NAME]


def _variable(text: str) -> tuple[str, Any]:
    from metricsync.platforms.userflux.binding import literal_value

    name, equals, value = text.partition("=")
    if not equals or not name:
        raise click.BadParameter(f"{text!r} is not NAME=VALUE", param_hint="--var")
    return name, literal_value(value)


def _silence_stdout() -> None:
    """Points stdout at /dev/null so the interpreter's final flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
