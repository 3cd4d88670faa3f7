"""`metricsync targets`: the configured targets, as text or as a JSON CI matrix."""

from __future__ import annotations

import json
from pathlib import Path

import click

from metricsync.cli.options import config_option, format_option, target_option


@click.command("targets")
@config_option
@target_option
@format_option("text", "json")
def targets_command(config_path: Path, targets: tuple[str, ...], output_format: str) -> None:
    """List targets: name, provider, endpoint and definitions folders.

    `--format json` prints {"target": [...], "include": [...]} for a CI job matrix.
    """
    from metricsync.config import load_config

    selected = load_config(config_path).select(targets)
    if output_format == "json":
        include = [
            {"target": t.name, "provider": t.provider, "definitions": list(t.definitions)}
            for t in selected
        ]
        click.echo(json.dumps({"target": [t.name for t in selected], "include": include}))
        return
    width = max((len(t.name) for t in selected), default=0)
    for t in selected:
        click.echo(f"{t.name:<{width}}  {t.provider:<8}  {t.endpoint}  {', '.join(t.definitions)}")
