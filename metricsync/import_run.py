"""`metricsync import`'s edges around the pure choices of importer.py: the project's lock, reading
each target's live objects, the output folder, and writing the definition files whole."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from metricsync import governance
from metricsync.bulk import paused_gc
from metricsync.config import Config, Target, display_path
from metricsync.config_file import load_config
from metricsync.documents import load_file
from metricsync.errors import MetricsyncError, UsageError
from metricsync.files import write_whole
from metricsync.importer import (
    Entry,
    ImportOptions,
    ImportReport,
    Occupant,
    assign_files,
    check,
    choose,
    name_key,
)
from metricsync.live import LiveObject
from metricsync.lock import command_line, lock_for_config
from metricsync.planner import TransportFor, open_session
from metricsync.platforms import KINDS, PLATFORMS
from metricsync.render.definition import render_definition

PROGRESS_FROM = 500  # objects; smaller imports finish before progress would help
LEGACY_NOTE = (
    "The live object uses a legacy format that its platform can no longer update: this",
    "definition is in the current format, and the next apply replaces the object with it",
    "(delete, then create), so experiments that use it lose it. Review it before applying.",
)


def import_targets(
    config_path: Path,
    names: Sequence[str],
    options: ImportOptions,
    *,
    sandbox: bool = False,
    transport_for: TransportFor | None = None,
    progress: Callable[[str], None] = lambda _: None,
    finished: Callable[[ImportReport], None] = lambda _: None,
) -> list[ImportReport]:
    """Imports each named target in turn: by default every synced target (of `options.kind`'s
    platform, when given), in config order. A later target sees the files an earlier one wrote,
    so a definitions folder that several targets share gets each object once: the first
    target's version, which the next plan of the others compares with theirs. `finished` gets
    each target's report as soon as it is written, so that what was written is reported even
    when a later target fails. Like apply, an import holds the project's lock (lock.py)."""
    with lock_for_config(config_path, command_line("import", names)):  # it writes files
        chosen = list(names) or synced_names(load_config(config_path), options.kind)
        if options.out is not None and len(chosen) > 1:
            raise UsageError(
                f"--out writes one target's objects, and {len(chosen)} targets are imported "
                f"({', '.join(chosen)}): give one --target"
            )
        reports = []
        for name in chosen:
            report = import_objects(
                config_path,
                name,
                options,
                sandbox=sandbox,
                transport_for=transport_for,
                progress=progress,
            )
            finished(report)
            reports.append(report)
    return reports


def synced_names(config: Config, kind: str | None) -> list[str]:
    """The targets an import reads by default: those with live objects to import."""
    names = [
        t.name
        for t in config.targets.values()
        if PLATFORMS[t.platform].to_spec is not None
        and (kind is None or kind in (k.name for k in PLATFORMS[t.platform].kinds))
    ]
    if not names:
        usable = " or ".join(p.name for p in PLATFORMS.values() if p.to_spec)
        which = f"target holding {kind}" if kind else f"{usable} target (import reads only those)"
        raise UsageError(f"no target to import: {config.path.name} has no {which}")
    return names


def import_objects(
    config_path: Path,
    target_name: str,
    options: ImportOptions,
    *,
    sandbox: bool = False,
    transport_for: TransportFor | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> ImportReport:
    """Reads the target's live objects and writes a definition file for each one that is not
    defined yet (the project must validate first, as for plan, except for the config's `rules`:
    import writes what is live, rules or not, so the debt it wrote never stops the next one)."""
    with open_session(
        config_path, (target_name,), sandbox, transport_for, lenient_rules=True
    ) as session:
        workspace = session.workspace
        target = workspace.targets[0]
        to_spec = importable(target, options.kind)
        provider = session.providers[target.name]
        read = provider.read(expected=len(workspace.definitions(target)))
        requests = sum(provider.client.requests.values())
    if len(read.objects) >= PROGRESS_FROM:
        progress(f"Read {len(read.objects)} live objects from {target.name} ({requests} requests)")
    config = workspace.config
    out = (options.out or config.folder(target.definitions[0])).resolve()
    with paused_gc():  # builds and renders thousands of small documents (bulk.py)
        foreign = provider.kind_diff(read, KINDS[provider.kind]).foreign
        entries = choose(read.objects, workspace.definitions(target), options, to_spec, foreign)
        entries = assign_files(check(entries), occupants(out), options.force)
        write(out, entries, config.root / "schemas", options.force, progress)
    notes = [*read.notes, *folder_notes(config, target, out)]
    return ImportReport(
        target=target.name,
        platform=target.platform,
        out=display_path(out),
        entries=tuple(entries),
        requests=requests,
        owner_tag=target.policy.owner_tag,
        marker_supported=read.marker_supported,
        notes=tuple(notes),
        breaking_rules=governance.breaking(
            target.rules, [e.document for e in entries if e.skip is None and e.document]
        ),
    )


def importable(target: Target, kind: str | None) -> Callable[[LiveObject], dict[str, Any]]:
    platform = PLATFORMS[target.platform]
    if platform.to_spec is None or platform.provider is None:
        usable = ", ".join(p.name for p in PLATFORMS.values() if p.to_spec)
        raise UsageError(
            f"target {target.name!r} ({target.platform}) has no live objects to import; "
            f"import reads {usable} targets"
        )
    kinds = [k.name for k in platform.kinds]
    if kind is not None and kind not in kinds:
        raise UsageError(
            f"--kind {kind} is not a kind of target {target.name!r}: {', '.join(kinds)}"
        )
    return platform.to_spec.load()


def occupants(out: Path) -> Callable[[str, LiveObject], Occupant]:
    """Who holds each file name of the output folder (listed once; files read on demand)."""
    existing: dict[str, Path] = {}
    if out.is_dir():
        with os.scandir(out) as listing:
            existing = {e.name.casefold(): Path(e.path) for e in listing if e.is_file()}

    def occupant(file: str, live: LiveObject) -> Occupant:
        path = existing.get(file.casefold())
        if path is None:
            return "free"
        return "same" if _holds_only(path, live) else "other"

    return occupant


def _holds_only(path: Path, live: LiveObject) -> bool:
    """Whether the file defines `live` and nothing else."""
    loaded = load_file(str(path), path.read_bytes())
    documents = [d.data for d in loaded.documents if d.data is not None]
    return (
        bool(documents)
        and not loaded.problems
        and all(
            isinstance(d, dict)
            and d.get("kind") == live.kind
            and name_key(live.kind, str(d.get("name"))) == name_key(live.kind, live.name)
            for d in documents
        )
    )


def modeline(schema_file: Path, out: Path) -> str:
    """The editor's schema hint, relative to the folder the file is written to."""
    relative = os.path.relpath(schema_file, out).replace(os.sep, "/")
    return f"yaml-language-server: $schema={relative}"


def write(
    out: Path, entries: Sequence[Entry], schemas: Path, force: bool, progress: Callable[[str], None]
) -> None:
    todo = [e for e in entries if e.skip is None and e.document is not None]
    out.mkdir(parents=True, exist_ok=True)
    loud, step = len(todo) >= PROGRESS_FROM, max(len(todo) // 10, 1)
    if loud:
        progress(f"Writing {len(todo)} definition files to {display_path(out)}")
    modelines = {kind.name: modeline(schemas / kind.schema, out) for kind in KINDS.values()}
    for count, entry in enumerate(todo, 1):
        assert entry.document is not None
        header = [modelines[entry.live.kind], *(LEGACY_NOTE if entry.live.legacy else ())]
        text = render_definition(entry.document, header)
        _write_file(out / entry.file, text.encode(), force)
        if loud and count % step == 0:
            progress(f"  {count}/{len(todo)} written")


def _write_file(path: Path, data: bytes, force: bool) -> None:
    # Without --force only names that were free are written, even if a file appeared since the
    # folder was listed; either way the file appears whole (a kill leaves no empty definition).
    try:
        write_whole(path, data, overwrite=force)
    except OSError as exc:
        raise MetricsyncError(f"cannot write {display_path(path)}: {exc.strerror}") from exc


def folder_notes(config: Config, target: Target, out: Path) -> Iterator[str]:
    """What the user must know about where the files went."""
    here = display_path(out)
    if not _inside(out, [config.folder(f) for f in target.definitions]):
        folders = ", ".join(target.definitions)
        yield f"{here} is not a definitions folder of {target.name}: its plan reads {folders}"
    sharing = [
        t.name
        for t in config.targets.values()
        if t.name != target.name and _inside(out, [config.folder(f) for f in t.definitions])
    ]
    if sharing:
        yield (
            f"{here} is also read by {', '.join(sharing)}: the next plan there creates the "
            "imported objects that do not exist there"
        )
    if not (config.root / "schemas").is_dir():
        yield (
            "the files' schema modelines point at schemas/, which does not exist yet: "
            "`metricsync schema --out-dir schemas` writes it for editors"
        )


def _inside(path: Path, folders: Sequence[Path]) -> bool:
    return any(path == folder or folder in path.parents for folder in folders)
