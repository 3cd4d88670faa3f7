"""`metricsync unleash validate|send [FILE]`: Unleash usage payloads, checked offline and sent
only on request, each at most once. What the commands run is imported in their bodies: the
registry lists them for `metricsync --help`, which must not pay for httpx, YAML or the schemas."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from metricsync.cli.options import (
    config_option,
    format_option,
    sandbox_accepted,
    sandbox_option,
    target_option,
    timeout_option,
)
from metricsync.display import printable
from metricsync.errors import ExitCode, InvalidInput, UsageError
from metricsync.platforms.unleash.kinds import NAME, USAGE

if TYPE_CHECKING:
    from metricsync.platforms.unleash.sender import Batch, SendReport, SendResult
    from metricsync.workspace import Workspace

FILE = click.Path(path_type=Path, dir_okay=False, exists=True)


@click.group("unleash")
def unleash_group() -> None:
    """Validate and send Unleash usage payloads (POST /api/client/metrics).

    FILE is a definitions YAML (unleash/usage documents) or a raw client-metrics JSON payload;
    without FILE, the unleash/usage definitions of the Unleash targets are used.
    """


@unleash_group.command("validate")
@click.argument("file", required=False, type=FILE)
@config_option
@target_option
@sandbox_accepted
@format_option("text", "json", "github")
def validate_command(
    file: Path | None, config_path: Path, targets: tuple[str, ...], output_format: str
) -> int:
    """Check payloads against Unleash's published schema and the server's own rules.

    Never uses the network. Exit 0 when valid (warnings allowed), 3 when any error was found.
    """
    from metricsync.config_file import load_config
    from metricsync.platforms.unleash.payloads import read_payloads
    from metricsync.render.validation import render
    from metricsync.validation import Validation, validate_project

    if file is None:
        result = validate_project(config_path, targets or _unleash_targets(config_path))
    else:
        read = read_payloads(file)
        payloads = {read.file: read.payloads}
        result = Validation(load_config(config_path), read.problems, payloads, files=1)
    click.echo(render(result, output_format), nl=False)
    return ExitCode.OK if result.ok else ExitCode.INVALID


@unleash_group.command("send")
@click.argument("file", required=False, type=FILE)
@click.option(
    "--force",
    is_flag=True,
    help="Send payloads the local record says were sent before; Unleash counts them again.",
)
@config_option
@timeout_option
@target_option
@sandbox_option
@format_option("text", "json")
def send_command(
    file: Path | None,
    force: bool,
    config_path: Path,
    targets: tuple[str, ...],
    sandbox: bool,
    output_format: str,
) -> int:
    """Validate, then send each payload once with the target's backend token.

    A payload accepted before (by its content digest, kept in .metricsync/unleash-sent.jsonl;
    --sandbox runs keep their own record) or whose earlier send had an unknown outcome is not
    sent again without --force: Unleash adds counts up. Nothing is retried after a 202 or
    after a failure that may have reached the server.

    Exit 0 when every payload was accepted (or had no counts to send), 1 when one was not
    counted or its outcome is unknown (4 when others were accepted), 3 for invalid payloads
    (nothing is sent), 5 when the record refused one.

    Like apply, send holds .metricsync/run.lock while it runs (see apply): a second send at
    the same time would find the same payloads unsent, and Unleash would count them twice.
    """
    from metricsync.lock import command_line, lock_for_config
    from metricsync.platforms.unleash.sender import SentRecord, send_all
    from metricsync.workspace import open_workspace

    names = targets or _unleash_targets(config_path)
    with (
        # two sends at once would both find a payload unsent and Unleash would count it twice
        lock_for_config(config_path, command_line("unleash send", names)),
        open_workspace(config_path, names, sandbox) as workspace,
    ):
        batches = _batches(workspace, file)
        record = SentRecord(workspace.state_dir, sandbox=workspace.sandbox_url is not None)
        report = send_all(batches, record, force)
    click.echo(_render(report, output_format), nl=False)
    return report.exit_code


def _batches(workspace: Workspace, file: Path | None) -> list[Batch]:
    from metricsync.platforms.unleash.payloads import read_payloads

    chosen = [t for t in workspace.targets if t.platform == NAME]
    if not chosen:
        raise UsageError("no Unleash target selected (a target with provider: unleash)")
    if file is None:
        for problem in workspace.warnings:
            click.echo(str(problem), err=True)
        return [(t, [d for d in workspace.definitions(t) if d.kind == USAGE.name]) for t in chosen]
    if len(chosen) > 1:
        names = ", ".join(t.name for t in chosen)
        raise UsageError(f"FILE is sent to one target; choose it with --target ({names})")
    read = read_payloads(file)
    if not read.ok:
        raise InvalidInput(read.problems)  # printed, every one, by the CLI's error handler
    for problem in read.problems:  # warnings only
        click.echo(str(problem), err=True)
    return [(chosen[0], read.payloads)]


def _unleash_targets(config_path: Path) -> list[str]:
    """Without --target, only the Unleash targets are validated and used."""
    from metricsync.config_file import load_config

    config = load_config(config_path)
    return [t.name for t in config.targets.values() if t.platform == NAME]


def _render(report: SendReport, output_format: str) -> str:
    from metricsync.platforms.unleash.sender import Delivery

    if output_format == "json":
        results = [_json(r) for r in report.results]
        document = {"format_version": 1, "exit_code": int(report.exit_code), "results": results}
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    # server text included: no control sequence reaches the terminal, no line is forged
    lines = [printable(f"{r.target}: {r.name!r} ({r.source}): {r.message}") for r in report.results]
    counts = ", ".join(f"{report.count(o)} {o.value}" for o in Delivery)
    summary = f"Unleash: {counts}." if report.results else "No payloads to send."
    return "\n".join([*lines, summary]) + "\n"


def _json(result: SendResult) -> dict[str, object]:
    return {
        "target": result.target,
        "name": result.name,
        "source": result.source,
        "outcome": result.delivery.value,
        "status": result.status,
        "digest": result.digest,
        "message": result.message,
    }
