"""`metricsync targets`: the configured targets, as text or as a JSON CI matrix."""

from __future__ import annotations

from pathlib import Path

import click

from metricsync.cli.options import (
    config_option,
    format_option,
    sandbox_accepted,
    target_option,
)


@click.command("targets")
@config_option
@target_option
@sandbox_accepted
@format_option("text", "json")
def targets_command(config_path: Path, targets: tuple[str, ...], output_format: str) -> None:
    """List targets: name, provider, endpoint and definitions folders.

    `--format json` prints {"target": [...], "include": [...]} for a CI job matrix. Each entry
    of `include` holds the target, its provider, its definitions folders, `planned` (whether
    plan, apply and import work on it) and `verified` (whether verify checks it on the
    platform), so that workflows select their targets with jq: `select(.planned)`.
    """
    from metricsync.config_file import load_config
    from metricsync.platforms import PLATFORMS

    selected = load_config(config_path).select(targets)
    if output_format == "json":
        import json

        include = [
            {
                "target": t.name,
                "provider": t.platform,
                "definitions": list(t.definitions),
                "planned": PLATFORMS[t.platform].planned,
                "verified": PLATFORMS[t.platform].verified,
            }
            for t in selected
        ]
        click.echo(json.dumps({"target": [t.name for t in selected], "include": include}))
        return
    rows = [(t.name, t.platform, t.endpoint, ", ".join(t.definitions)) for t in selected]
    click.echo(_table(rows), nl=False)


def _table(rows: list[tuple[str, str, str, str]]) -> str:
    """Columns padded to their widest cell; the last one, a list of folders, is left ragged."""
    widths = [max(len(row[i]) for row in rows) for i in range(3)] if rows else []
    lines = [
        "  ".join([*(c.ljust(w) for c, w in zip(row, widths, strict=False)), row[3]])
        for row in rows
    ]
    return "".join(line + "\n" for line in lines)
