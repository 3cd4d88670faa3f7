"""`metricsync schema`: print one JSON Schema, or write them all for editors."""

from __future__ import annotations

from pathlib import Path

import click

from metricsync.cli.options import sandbox_accepted
from metricsync.errors import MetricsyncError, UsageError


@click.command("schema", short_help="Print a JSON Schema, or write them all for editors.")
@click.argument("kind", required=False)
@click.option(
    "--out-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Write every schema under this folder (e.g. schemas/), as the modelines expect.",
)
@sandbox_accepted
def schema_command(kind: str | None, out_dir: Path | None) -> None:
    """Print the JSON Schema of KIND (e.g. statsig/metric, or config), or write all of them.

    Definition files point editors at these schemas with a modeline such as
    `# yaml-language-server: $schema=../../schemas/statsig/metric.schema.json`.
    """
    from metricsync.config import CONFIG_SCHEMA
    from metricsync.config_file import schema_text
    from metricsync.files import write_whole
    from metricsync.platforms import KINDS

    names = {name: k.schema for name, k in KINDS.items()} | {"config": CONFIG_SCHEMA}
    if out_dir is not None:
        if kind is not None:
            raise UsageError("give either KIND or --out-dir, not both")
        for resource in names.values():
            destination = out_dir / resource
            try:
                destination.parent.mkdir(parents=True, exist_ok=True)
                write_whole(destination, schema_text(resource))
            except OSError as exc:
                raise MetricsyncError(f"cannot write {destination}: {exc.strerror}") from None
            click.echo(f"wrote {destination}", err=True)
        return
    if kind is None:
        raise UsageError(f"name a kind ({', '.join(names)}) or use --out-dir")
    if kind not in names:
        raise UsageError(f"unknown kind {kind!r}; expected one of: {', '.join(names)}")
    click.echo(schema_text(names[kind]), nl=False)
