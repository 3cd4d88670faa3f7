"""What `metricsync import` writes, decided by pure functions: which live objects not yet
defined become definition files that plan to nothing but their adoption (choose), that each
would validate (check), and the files' names (assign_files). import_run.py reads and writes.
"""

from __future__ import annotations

import fnmatch
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from metricsync import schema
from metricsync.definitions import Definition
from metricsync.documents import non_finite
from metricsync.live import LiveObject
from metricsync.ownership import ForeignOwner
from metricsync.platforms import KINDS
from metricsync.problems import pointer_of

MAX_STEM = 80  # characters of a file name taken from an object name
MAX_STEM_BYTES = 200  # and its UTF-8 bytes: file systems allow 255, a suffix needs a few
WINDOWS_RESERVED = frozenset(
    ["con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)),
     *(f"lpt{i}" for i in range(1, 10))]
)  # fmt: skip
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
    claimed = {name_key(d.kind, n) for d in defined for n in (d.name, *d.lifecycle.renamed_from)}
    chosen: set[str] = set()
    entries = []
    for obj in objects:
        key = name_key(obj.kind, obj.name)
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


def name_key(kind: str, name: str) -> str:
    """Names that differ only in case are one object's where the kind's platform says so."""
    return name.casefold() if KINDS[kind].casefold_names else name


def _selected(obj: LiveObject, options: ImportOptions) -> bool:
    if options.kind is not None and obj.kind != options.kind:
        return False
    return not options.select or any(fnmatch.fnmatchcase(obj.name, p) for p in options.select)


def check(entries: Sequence[Entry]) -> list[Entry]:
    """Skips each document that `metricsync validate` would refuse (its kind's schema, then
    its kind's checks), naming the first problem: every file import writes validates."""
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


@dataclass(frozen=True)
class ImportReport:
    """What one target's import wrote and skipped, for the command line to report."""

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
