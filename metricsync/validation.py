"""Validates a whole project: the config, every definition document, then the cross-file checks.

Every problem is collected before anything is reported. Per-file results (parsed documents and
schema problems) come from `ValidationCache` when the file's bytes are unchanged.
"""

from __future__ import annotations

import errno
import gc
import os
import stat
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from metricsync import governance, schema
from metricsync.bulk import paused_gc
from metricsync.cache import FileResult, ValidationCache
from metricsync.config import Config, Target, display_path
from metricsync.config_file import read_config
from metricsync.definitions import Definition, from_document
from metricsync.documents import Locator, load_file, non_finite, problem_at
from metricsync.platforms import KINDS, PLATFORM_OF_KIND
from metricsync.platforms.base import Finding
from metricsync.problems import Problem, pointer_of

SUFFIXES = (".yaml", ".yml")
_CHUNK = 1 << 16
FREEZE_FROM = 1_000  # files; below this a collection costs less than a frozen heap's side effects
NOT_A_MAPPING = "a definition must be a mapping with kind, name and spec"
CYCLE = "symbolic links lead back into a folder that holds this one (a cycle): fix or remove them"
EMPTY_FILE = "the file holds no definition (it is empty, or only comments)"


@dataclass
class Validation:
    config: Config | None
    problems: list[Problem] = field(default_factory=list)
    definitions: dict[str, list[Definition]] = field(default_factory=dict)  # by folder
    files: int = 0

    @property
    def ok(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)

    def for_target(self, target: Target) -> list[Definition]:
        """The target's definitions of its own platform, in folder and file order."""
        return [
            d
            for folder in target.definitions
            for d in self.definitions.get(folder, [])
            if PLATFORM_OF_KIND[d.kind].name == target.platform
        ]


@dataclass
class _Sources:
    """Each file's bytes, and a locator for the few that a cross-file problem points into."""

    data: dict[str, bytes] = field(default_factory=dict)
    locators: dict[str, Locator] = field(default_factory=dict)

    def locator(self, file: str) -> Locator:
        if file not in self.locators:
            self.locators[file] = Locator(self.data[file])
        return self.locators[file]


def validate_project(
    config_path: Path,
    targets: Sequence[str] = (),
    cache: ValidationCache | None = None,
    *,
    lenient_rules: bool = False,
) -> Validation:
    """The project's problems; with `lenient_rules`, those of the config's `rules` are all
    warnings (import writes what is live, rules or not)."""
    config, problems = read_config(config_path)
    if config is None:
        return Validation(None, problems)
    validation = Validation(config, problems)
    selected = config.select(targets)
    sources = _Sources()
    with paused_gc():  # bulk parsing: collections would only walk what is still being built
        for folder in dict.fromkeys(f for t in selected for f in t.definitions):
            rules = governance.for_folder(selected, folder, lenient_rules)
            found = _load_folder(config, folder, cache, validation, sources, rules)
            validation.definitions[folder] = found
        if cache is not None:
            cache.save()
        findings = list(_placement(config, validation.definitions))
        findings += _target_findings(selected, validation)
        if validation.files >= FREEZE_FROM:
            # The definitions (acyclic, freed by reference counting) live as long as the command:
            # freezing them spares every later collection a walk over them (0.2 s at 10,000).
            gc.freeze()
    # Targets sharing folders may find the same problem twice; it is reported once.
    validation.problems += list(dict.fromkeys(_problem(f, sources) for f in findings))
    validation.problems.sort(key=lambda p: (p.file, p.line, p.column, p.message))
    return validation


def _load_folder(
    config: Config,
    folder: str,
    cache: ValidationCache | None,
    validation: Validation,
    sources: _Sources,
    rules: governance.FolderRules,
) -> list[Definition]:
    root = config.folder(folder)
    try:
        os.scandir(root).close()
    except OSError as exc:  # missing, not a folder, unreadable, a name too long...
        missing = isinstance(exc, FileNotFoundError | NotADirectoryError)
        why = None if missing else exc.strerror
        validation.problems.append(_missing_folder(config, folder, os.path.lexists(root), why))
        return []
    shown = display_path(root)
    prefix = "" if shown == "." else shown + os.sep
    walk = _Walk()
    files = sorted(walk.files(str(root), os.path.realpath(root), (), frozenset()))
    # Whatever cannot be read is an error, never a file that silently left the repository.
    validation.problems += [
        Problem(prefix + os.sep.join(parts), 1, 1, message) for parts, message in walk.problems
    ]
    definitions: list[Definition] = []
    for parts, path in files:
        file = prefix + os.sep.join(parts)
        result = _file_result(path, file, cache, sources)
        result = governance.with_rules(
            result, rules, file, sources.data.get(file, b""), cache, path
        )
        validation.files += 1
        validation.problems += result.problems
        definitions += [from_document(data, file, i, line) for i, line, data in result.valid]
    return definitions


Parts = tuple[str, ...]


@dataclass
class _Walk:
    """Every YAML file below a folder, following symbolic links to files and folders; whatever
    cannot be read (a broken link, a link loop, a folder without permission) is a problem."""

    problems: list[tuple[Parts, str]] = field(default_factory=list)

    def files(
        self, directory: str, real: str, parts: Parts, above: frozenset[str]
    ) -> Iterator[tuple[Parts, str]]:
        """`real`: the folder's resolved path; `above`: those of the folders holding it."""
        if real in above:
            self.problems.append((parts, CYCLE))
            return
        try:
            with os.scandir(directory) as listing:
                entries = list(listing)
        except OSError as exc:
            self.problems.append((parts, f"cannot read the folder: {exc.strerror}"))
            return
        above = above | {real}
        for entry in entries:
            here = (*parts, entry.name)
            if entry.is_symlink():
                yield from self._link(entry, here, above)
            elif entry.is_dir(follow_symlinks=False):
                yield from self.files(entry.path, os.path.join(real, entry.name), here, above)
            elif entry.name.endswith(SUFFIXES):
                yield from self._file(entry.is_file(follow_symlinks=False), entry.path, here)

    def _link(self, entry: os.DirEntry[str], here: Parts, above: frozenset[str]) -> Iterator[Any]:
        try:
            mode = entry.stat().st_mode
        except OSError as exc:
            why = "loops" if exc.errno == errno.ELOOP else f"cannot be followed ({exc.strerror})"
            self.problems.append((here, f"the symbolic link {why}: fix or remove it"))
            return
        if stat.S_ISDIR(mode):
            yield from self.files(entry.path, os.path.realpath(entry.path), here, above)
        elif entry.name.endswith(SUFFIXES):
            yield from self._file(stat.S_ISREG(mode), entry.path, here)

    def _file(self, regular: bool, path: str, here: Parts) -> Iterator[tuple[Parts, str]]:
        if regular:
            yield here, path
        else:
            self.problems.append((here, "not a regular file: definitions are plain files"))


def _file_result(
    path: str, file: str, cache: ValidationCache | None, sources: _Sources
) -> FileResult:
    try:
        source = read_bytes(path)
    except OSError as exc:
        return FileResult(problems=[Problem(file, 1, 1, f"cannot read the file: {exc.strerror}")])
    sources.data[file] = source
    result = cache.lookup(path, file, source) if cache is not None else None
    if result is None:
        result = check_file(file, source)
        if cache is not None:
            cache.store(path, source, result)
    return result


def read_bytes(path: str) -> bytes:
    """A file's bytes through plain system calls: half the cost of `open().read()` per file."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        chunks = [os.read(descriptor, _CHUNK)]
        while len(chunks[-1]) == _CHUNK:
            chunks.append(os.read(descriptor, _CHUNK))
    finally:
        os.close(descriptor)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def check_file(file: str, source: bytes) -> FileResult:
    """Parses one file and checks each document against its kind's schema."""
    loaded = load_file(file, source)
    result = FileResult(problems=list(loaded.problems))
    locator = Locator(source)  # composes the file again only if a document has errors
    for document in loaded.documents:
        if document.data is None:
            continue
        errors = _document_errors(document.data)
        if loaded.non_finite:  # the schema reads NaN as null: say what is really there
            found = [schema.SchemaError(path, m) for path, m in non_finite(document.data)]
            paths = {e.path for e in found}
            errors = [e for e in errors if e.path not in paths] + found
        result.problems += [
            problem_at(locator, document, e.path, e.message, at_key=e.at_key) for e in errors
        ]
        if not errors:
            result.valid.append((document.index, document.line, document.data))
    if not result.problems and all(d.data is None for d in loaded.documents):
        # An empty file is most often one whose writing was cut short: say so, without failing.
        result.problems.append(Problem(file, 1, 1, EMPTY_FILE, severity="warning"))
    return result


def _document_errors(data: Any) -> list[schema.SchemaError]:
    if not isinstance(data, dict):
        return [schema.SchemaError((), NOT_A_MAPPING)]
    kind = data.get("kind")
    if not isinstance(kind, str) or kind not in KINDS:
        what = "missing kind" if kind is None else f"unknown kind {kind!r}"
        message = f"{what}; expected one of: {', '.join(KINDS)}"
        return [schema.SchemaError(("kind",) if "kind" in data else (), message)]
    return schema.validator(KINDS[kind].schema).errors(data)


def _missing_folder(config: Config, folder: str, exists: bool, why: str | None = None) -> Problem:
    source = config.path.read_bytes()
    loaded = load_file(display_path(config.path), source)
    document = next(d for d in loaded.documents if d.data is not None)
    name = next(n for n, t in config.targets.items() if folder in t.definitions)
    path = ("targets", name, "definitions", config.targets[name].definitions.index(folder))
    state = f"cannot be read: {why}" if why else "is not a folder" if exists else "does not exist"
    return problem_at(source, document, path, f"definitions folder {folder!r} {state}")


def _placement(config: Config, definitions: dict[str, list[Definition]]) -> Iterator[Finding]:
    """A definition in a folder that no target of its platform reads would be silently skipped."""
    for folder, found in definitions.items():
        users = [t for t in config.targets.values() if folder in t.definitions]
        platforms = {t.platform for t in users}
        readers = ", ".join(f"{t.name!r} ({t.platform})" for t in users)
        readers = f"target{'s' * (len(users) != 1)} {readers}"
        for d in found:
            platform = PLATFORM_OF_KIND[d.kind].name
            if platform not in platforms:
                message = (
                    f"{d.kind} would be ignored: folder {folder!r} is read only by {readers}; "
                    f"move it to a {platform} target's folder"
                )
                yield Finding(d, ("kind",), message)


def _target_findings(targets: Iterable[Target], validation: Validation) -> list[Finding]:
    """Identity checks and platform checks over each target's definitions (once per set of
    folders)."""
    groups = {(t.platform, t.definitions): t for t in targets}
    findings: list[Finding] = []
    for target in groups.values():
        by_kind: dict[str, list[Definition]] = defaultdict(list)
        for d in validation.for_target(target):
            by_kind[d.kind].append(d)
        for kind_name, group in by_kind.items():
            findings += _identity_checks(group, KINDS[kind_name].casefold_names)
            findings += KINDS[kind_name].checks(group)
    return findings


def _identity_checks(group: list[Definition], casefold: bool) -> Iterator[Finding]:
    def key(name: str) -> str:  # one name however its accents are encoded (NFC)
        name = unicodedata.normalize("NFC", name)
        return name.casefold() if casefold else name

    first: dict[str, Definition] = {}
    for d in group:
        if key(d.name) in first:
            other = first[key(d.name)]
            case = (
                ""
                if other.name == d.name
                else f" (as {other.name!r}; {_alike(other.name, d.name)})"
            )
            message = (
                f"duplicate name {d.name!r} for {d.kind}{case}; first defined at {other.where}"
            )
            yield Finding(d, ("name",), message)
        else:
            first[key(d.name)] = d
    for d in group:
        for i, old in enumerate(d.lifecycle.renamed_from):
            owner = first.get(key(old))
            if owner is not None and owner is not d:
                message = f"renamed_from {old!r} is the current name of {owner.where}"
                yield Finding(d, ("lifecycle", "renamed_from", i), message)


def _alike(first: str, second: str) -> str:
    """Why two different names count as one."""
    if unicodedata.normalize("NFC", first) == unicodedata.normalize("NFC", second):
        return f"the same text in another Unicode form: {first!a} and {second!a}"
    return "case is ignored"


def _problem(finding: Finding, sources: _Sources) -> Problem:
    d = finding.definition
    locator = sources.locator(d.file)
    line, column = locator.position(d.index, finding.path, at_key=finding.at_key)
    pointer = pointer_of(finding.path)
    return Problem(d.file, line, column, finding.message, pointer, finding.severity)
