"""`metricsync validate`: every problem in the config and definitions, with no network."""

from __future__ import annotations

from pathlib import Path

import click

from metricsync.cli.options import (
    config_option,
    format_option,
    sandbox_accepted,
    target_option,
)
from metricsync.errors import ExitCode


@click.command("validate")
@config_option
@target_option
@sandbox_accepted
@format_option("text", "json", "github")
@click.option("--no-cache", is_flag=True, help="Ignore and do not write .metricsync/cache.")
def validate_command(
    config_path: Path, targets: tuple[str, ...], output_format: str, no_cache: bool
) -> int:
    """Check the config and every definition: schemas first, then cross-file rules and the
    project's own `rules` (naming, required fields, owning tags) from metricsync.yaml.

    Reports every problem at once as file:line:column with the JSON pointer of the field.
    Exits 3 when any problem is an error, 0 otherwise. Never uses the network.
    """
    from metricsync.cache import ValidationCache
    from metricsync.render.validation import render
    from metricsync.validation import validate_project

    cache = None if no_cache else ValidationCache(config_path.parent / ".metricsync" / "cache")
    result = validate_project(config_path, targets, cache)
    click.echo(render(result, output_format), nl=False)
    return ExitCode.OK if result.ok else ExitCode.INVALID
