"""`metricsync import`: write definitions for the live objects a repository does not define yet,
then say what the next plan does with them (adopt, never silently take over)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from metricsync.cli.options import config_option, format_option, sandbox_option, timeout_option
from metricsync.errors import ExitCode

if TYPE_CHECKING:
    from metricsync.importer import Entry, ImportReport

LISTED = 10  # skipped objects named per reason that needs the user's attention


@click.command("import")
@config_option
@timeout_option
@click.option(
    "--target",
    "targets",
    multiple=True,
    metavar="NAME",
    help="Only this target (repeatable; default: every planned target).",
)
@sandbox_option
@format_option("text", "json")
@click.option("--kind", metavar="KIND", help="Only objects of this kind, e.g. statsig/metric.")
@click.option(
    "--select",
    multiple=True,
    metavar="GLOB",
    help="Only objects whose name matches GLOB (fnmatch, case-sensitive; repeatable).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    help="Write the files here (one target only; default: each target's first definitions folder).",
)
@click.option("--force", is_flag=True, help="Overwrite files an earlier import wrote.")
def import_command(
    config_path: Path,
    targets: tuple[str, ...],
    sandbox: bool,
    output_format: str,
    kind: str | None,
    select: tuple[str, ...],
    out: Path | None,
    force: bool,
) -> int:
    """Write a YAML definition for every live object the repository does not define yet.

    One file per object, named after it, that validates and plans to no change but adoption:
    the next plan adds the ownership marker to each imported object. Objects already defined
    and the platform's own automatic metrics are skipped; existing files are kept unless
    --force.

    Targets are imported one after another, in config order, each reported on its own. When
    several targets share a definitions folder, an object both hold is written once, as the
    first target has it; the next plan of the others shows where theirs differs.

    Like apply, import holds .metricsync/run.lock while it runs (see apply).
    """
    from metricsync.import_run import import_targets
    from metricsync.importer import ImportOptions

    options = ImportOptions(kind, select, out, force)
    reports = import_targets(
        config_path,
        targets,
        options,
        sandbox=sandbox,
        progress=lambda m: click.echo(m, err=True),
        finished=_report_each(output_format, sandbox),
    )
    if output_format == "json":
        click.echo(render_json(reports), nl=False)
    return ExitCode.OK


def _report_each(output_format: str, sandbox: bool) -> Callable[[ImportReport], None]:
    """Each target's report as soon as its files are written: a later target's failure must
    not hide what an earlier one wrote."""
    shown: list[ImportReport] = []

    def finished(report: ImportReport) -> None:
        for entry in report.written:
            if entry.live.legacy:
                click.echo(f"Warning: {_legacy(entry, report)}", err=True)
        if output_format != "json":
            click.echo(("\n" if shown else "") + render_text(report, sandbox), nl=False)
        shown.append(report)

    return finished


def _legacy(entry: Entry, report: ImportReport) -> str:
    return (
        f"{entry.live.name!r} uses a legacy format that {report.platform} can no longer "
        f"update: {entry.file} holds it in the current format, and the next apply replaces "
        "the object (delete, then create), detaching it from experiments that use it"
    )


def render_text(report: ImportReport, sandbox: bool = False) -> str:
    from metricsync.display import printable
    from metricsync.importer import Skip

    skipped = len(report.entries) - len(report.written)
    lines = [
        f"Imported from {report.target} ({report.platform}) into {report.out}: "
        f"{len(report.written)} written, {skipped} skipped."
    ]
    for reason in Skip:
        entries = report.skipped(reason)
        if entries:
            lines += _skipped(reason, entries)
    lines += [f"  note: {note}" for note in report.notes]
    if report.breaking_rules:
        lines.append(
            f"{report.breaking_rules} of the {_count(len(report.written), 'imported definition')} "
            f"{'breaks' if report.breaking_rules == 1 else 'break'} the rules; "
            "run `metricsync validate` to see where"
        )
    lines += _next_steps(report, sandbox)
    return "\n".join(printable(line) for line in lines) + "\n"  # names and notes from a server


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'s' * (number != 1)}"


def _skipped(reason: str, entries: list[Entry]) -> list[str]:
    from metricsync.importer import Skip

    lines = [f"  skipped {len(entries)}: {reason}"]
    if reason in (Skip.GENERATED, Skip.NOT_SELECTED, Skip.DEFINED):
        return lines  # expected and numerous: a count is enough
    for entry in entries[:LISTED]:
        detail = entry.detail or entry.file or f"id {entry.live.id}"
        lines.append(f"    {entry.live.name!r}: {detail}")
    if len(entries) > LISTED:
        lines.append(f"    and {len(entries) - LISTED} more")
    return lines


def _next_steps(report: ImportReport, sandbox: bool) -> list[str]:
    if not report.written:
        return []
    # the same place the objects came from: the sandbox's plan, not the live account's
    plan = f"`metricsync plan{' --sandbox' * sandbox} --target {report.target}`"
    adopt, legacy = len(report.to_adopt), sum(1 for e in report.written if e.live.legacy)
    if report.marker_supported and adopt:
        lines = [
            f"Next: {plan} shows {adopt} of them as adopt: it adds the ownership marker "
            f"({report.owner_tag}) and changes nothing else; until then they stay unmanaged."
        ]
    elif report.marker_supported:
        lines = [f"Next: {plan} adopts none of them."]
    else:
        lines = [
            f"Next: {plan} adopts none of them: this target cannot keep the ownership marker, "
            "so they stay unmanaged (never deleted by prune)."
        ]
    if legacy:
        lines.append(f"  {legacy} legacy-format object(s) show as replace (see the warnings).")
    owned = len(report.written) - adopt - legacy
    if owned and report.marker_supported:
        lines.append(f"  {owned} already carry the marker: no change.")
    return lines


def render_json(reports: list[ImportReport]) -> str:
    """One versioned document; format 2 holds a list of targets (format 1 was one target)."""
    import json

    document = {"format_version": 2, "targets": [_target_document(r) for r in reports]}
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def _target_document(report: ImportReport) -> dict[str, object]:
    written = [
        {"name": e.live.name, "id": e.live.id, "file": e.file, "legacy": e.live.legacy}
        for e in report.written
    ]
    skipped = [
        {"name": e.live.name, "id": e.live.id, "reason": e.skip.name.lower(), "detail": e.detail}
        for e in report.entries
        if e.skip is not None
    ]
    return {
        "target": report.target,
        "provider": report.platform,
        "out": report.out,
        "requests": report.requests,
        "written": written,
        "skipped": skipped,
        "adopt": [e.live.name for e in report.to_adopt],
        "notes": list(report.notes),
        "breaking_rules": report.breaking_rules,
    }
