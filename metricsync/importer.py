"""`metricsync import`: live objects not yet defined, written as definition files that plan to
nothing but the adoption of each object. Choosing what to write, checking it and naming the
files are pure; reading live state and writing files are the thin edges around them.
"""

from __future__ import annotations

import fnmatch
import os
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from metricsync import governance, schema
from metricsync.bulk import paused_gc
from metricsync.config import Config, Target, display_path
from metricsync.config_file import load_config
from metricsync.definitions import Definition
from metricsync.documents import load_file, non_finite
from metricsync.errors import MetricsyncError, UsageError
from metricsync.files import write_whole
from metricsync.live import LiveObject
from metricsync.ownership import ForeignOwner
from metricsync.planner import TransportFor, open_session
from metricsync.platforms import KINDS, PLATFORMS
from metricsync.problems import pointer_of
from metricsync.render.definition import render_definition

MAX_STEM = 80  # characters of a file name taken from an object name
MAX_STEM_BYTES = 200  # and its UTF-8 bytes: file systems allow 255, a suffix needs a few
PROGRESS_FROM = 500  # objects; smaller imports finish before progress would help
WINDOWS_RESERVED = frozenset(
    ["con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)),
     *(f"lpt{i}" for i in range(1, 10))]
)  # fmt: skip
LEGACY_NOTE = (
    "The live object uses a legacy format that its platform can no longer update: this",
    "definition is in the current format, and the next apply replaces the object with it",
    "(delete, then create), so experiments that use it lose it. Review it before applying.",
)
Occupant = Literal["free", "same", "other"]  # who holds a file name in the output folder


@dataclass(frozen=True)
class ImportOptions:
    kind: str | None = None
    select: tuple[str, ...] = ()  # fnmatch patterns on object names
    out: Path | None = None  # default: the target's first definitions folder
    force: bool = False  # overwrite a file an earlier import wrote for the same object


class Skip(StrEnum):
    GENERATED = "made by the platform itself"
    FOREIGN = "owned by another repository (its marker named); never imported"
    NOT_SELECTED = "not selected by --kind or --select"
    DEFINED = "already defined"
    DUPLICATE = "another live object has the same name"
    INVALID = "would not validate"
    EXISTS = "its file exists (use --force to overwrite)"


@dataclass(frozen=True)
class Entry:
    """One live object and what import does with it: write `document` to `file`, or skip."""

    live: LiveObject
    skip: Skip | None = None
    detail: str = ""
    document: Mapping[str, Any] | None = None
    file: str = ""  # relative to the output folder


def choose(
    objects: Sequence[LiveObject],
    defined: Sequence[Definition],
    options: ImportOptions,
    to_spec: Callable[[LiveObject], dict[str, Any]],
    foreign: ForeignOwner = lambda spec: None,
) -> list[Entry]:
    """An entry per live object, in read order. Of several objects with one name, the first
    is imported: it is the one the diff matches a definition of that name to. Objects another
    repository owns (`foreign`, docs/config.md) are skipped, naming their owner."""
    claimed = {_key(d.kind, n) for d in defined for n in (d.name, *d.lifecycle.renamed_from)}
    chosen: set[str] = set()
    entries = []
    for obj in objects:
        key = _key(obj.kind, obj.name)
        if obj.generated:
            entries.append(Entry(obj, Skip.GENERATED))
        elif (claim := foreign(obj.spec)) is not None:
            entries.append(Entry(obj, Skip.FOREIGN, detail=claim.owner))
        elif not _selected(obj, options):
            entries.append(Entry(obj, Skip.NOT_SELECTED))
        elif key in claimed:
            entries.append(Entry(obj, Skip.DEFINED))
        elif key in chosen:
            entries.append(Entry(obj, Skip.DUPLICATE))
        else:
            chosen.add(key)
            document = {"kind": obj.kind, "name": obj.name, "spec": to_spec(obj)}
            entries.append(Entry(obj, document=document))
    return entries


def _key(kind: str, name: str) -> str:
    return name.casefold() if KINDS[kind].casefold_names else name


def _selected(obj: LiveObject, options: ImportOptions) -> bool:
    if options.kind is not None and obj.kind != options.kind:
        return False
    return not options.select or any(fnmatch.fnmatchcase(obj.name, p) for p in options.select)


def check(entries: Sequence[Entry]) -> list[Entry]:
    """Skips each document that `metricsync validate` would refuse (its kind's schema, then
    its kind's rules), naming the first problem: every file import writes validates."""
    problems: dict[int, str] = {}
    documents = {i: e.document for i, e in enumerate(entries) if e.skip is None and e.document}
    for i, document in documents.items():
        unwritable = next(non_finite(document), None)  # validate would refuse .nan and .inf
        errors = schema.validator(KINDS[document["kind"]].schema).errors(document)
        if unwritable is not None:
            problems[i] = _problem(unwritable[1], unwritable[0])
        elif errors:
            problems[i] = _problem(errors[0].message, errors[0].path)
    by_kind: dict[str, dict[int, Definition]] = {}
    for i, document in documents.items():
        if i not in problems:
            definition = Definition(document["kind"], document["name"], document["spec"])
            by_kind.setdefault(document["kind"], {})[i] = definition
    for kind, definitions in by_kind.items():
        index = {id(d): i for i, d in definitions.items()}
        for finding in KINDS[kind].checks(list(definitions.values())):
            where = index.get(id(finding.definition))
            if finding.severity == "error" and where is not None:
                problems.setdefault(where, _problem(finding.message, finding.path))
    return [
        replace(e, skip=Skip.INVALID, detail=problems[i]) if i in problems else e
        for i, e in enumerate(entries)
    ]


def _problem(message: str, path: Sequence[str | int]) -> str:
    pointer = pointer_of(tuple(path))
    return f"{message} [{pointer}]" if pointer else message


def slug(name: str, fallback: str) -> str:
    """A readable, portable file stem for an object name: lower-case letters and digits of any
    script joined by `_`, accents dropped from Latin letters (`Größe: 50%` -> `grosse_50`)."""
    kept: list[str] = []
    for char in unicodedata.normalize("NFKD", name):
        if unicodedata.combining(char) and kept and kept[-1].isascii():
            continue  # é -> e, but marks that belong to other scripts' letters stay
        kept.append(char)
    text = unicodedata.normalize("NFC", "".join(kept)).casefold()
    stem = "_".join(re.findall(r"[^\W_]+", text))[:MAX_STEM]
    stem = stem.encode()[:MAX_STEM_BYTES].decode("utf-8", "ignore").strip("_") or fallback
    return f"{stem}_" if stem in WINDOWS_RESERVED else stem


def assign_files(
    entries: Sequence[Entry], occupant: Callable[[str, LiveObject], Occupant], force: bool
) -> list[Entry]:
    """A file name for each document: its slug, or the slug with the first free number
    (`a_b_2.yaml`). Objects are taken in name order, so names do not depend on the order the
    platform lists them in. A file holding other definitions is never reused; one holding this
    object (an earlier import outside the definitions folders) is overwritten only with force."""
    stems = {id(e): _stem(e) for e in entries if e.skip is None and e.document}
    pending = sorted(
        (e for e in entries if id(e) in stems),
        key=lambda e: (stems[id(e)], e.live.name.casefold(), e.live.name, e.live.id),
    )
    used: set[str] = set()
    files: dict[int, tuple[str, Occupant]] = {}
    for numbered in (False, True):
        for entry in pending:
            if id(entry) not in files:
                found = _free_name(entry, stems[id(entry)], numbered, used, occupant)
                if found is not None:
                    used.add(found[0].casefold())
                    files[id(entry)] = found
    return [_with_file(e, files[id(e)], force) if id(e) in files else e for e in entries]


def _free_name(
    entry: Entry,
    stem: str,
    numbered: bool,
    used: set[str],
    occupant: Callable[[str, LiveObject], Occupant],
) -> tuple[str, Occupant] | None:
    candidates = (f"{stem}_{n}.yaml" for n in _count_from(2)) if numbered else [f"{stem}.yaml"]
    for candidate in candidates:
        if candidate.casefold() not in used:
            holder = occupant(candidate, entry.live)
            if holder != "other":
                return candidate, holder
    return None


def _count_from(start: int) -> Iterator[int]:
    while True:
        yield start
        start += 1


def _stem(entry: Entry) -> str:
    return slug(entry.live.name, entry.live.kind.rsplit("/", 1)[-1])


def _with_file(entry: Entry, found: tuple[str, Occupant], force: bool) -> Entry:
    file, holder = found
    if holder == "same" and not force:
        return replace(entry, file=file, skip=Skip.EXISTS)
    return replace(entry, file=file)


def modeline(schema_file: Path, out: Path) -> str:
    """The editor's schema hint, relative to the folder the file is written to."""
    relative = os.path.relpath(schema_file, out).replace(os.sep, "/")
    return f"yaml-language-server: $schema={relative}"


# ---- the thin edges: reading live state, the output folder, writing files --------------------


@dataclass(frozen=True)
class ImportReport:
    target: str
    platform: str
    out: str  # the output folder, as the user reads it
    entries: tuple[Entry, ...]
    requests: int  # HTTP requests the read took
    owner_tag: str
    marker_supported: bool  # the platform keeps the ownership marker, so objects can be adopted
    notes: tuple[str, ...] = ()
    breaking_rules: int = 0  # written definitions that break the target's rules (governance)

    @property
    def written(self) -> list[Entry]:
        return [e for e in self.entries if e.skip is None]

    def skipped(self, reason: Skip) -> list[Entry]:
        return [e for e in self.entries if e.skip == reason]

    @property
    def to_adopt(self) -> list[Entry]:
        """Written objects the next plan adopts: unowned, and updatable in place."""
        if not self.marker_supported:
            return []
        return [e for e in self.written if not e.live.owned and not e.live.legacy]


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
    when a later target fails."""
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
        state = provider.read(expected=len(workspace.definitions(target)))
        requests = sum(provider.client.requests.values())
    if len(state.objects) >= PROGRESS_FROM:
        progress(f"Read {len(state.objects)} live objects from {target.name} ({requests} requests)")
    config = workspace.config
    out = (options.out or config.folder(target.definitions[0])).resolve()
    with paused_gc():  # builds and renders thousands of small documents (bulk.py)
        foreign = provider.kind_diff(state).foreign
        entries = choose(state.objects, workspace.definitions(target), options, to_spec, foreign)
        entries = assign_files(check(entries), occupants(out), options.force)
        write(out, entries, config.root / "schemas", options.force, progress)
    notes = [*state.notes, *folder_notes(config, target, out)]
    return ImportReport(
        target=target.name,
        platform=target.platform,
        out=display_path(out),
        entries=tuple(entries),
        requests=requests,
        owner_tag=target.policy.owner_tag,
        marker_supported=state.marker_supported,
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
    return platform.to_spec


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
            and _key(live.kind, str(d.get("name"))) == _key(live.kind, live.name)
            for d in documents
        )
    )


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
