"""Validates a whole project: the config, every definition document, then the cross-file rules.

Every problem is collected before anything is reported. Per-file results (parsed documents and
schema problems) come from `ValidationCache` when the file's bytes are unchanged.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from metricsync import schema
from metricsync.bulk import paused_gc
from metricsync.cache import FileResult, ValidationCache
from metricsync.config import Config, Target, display_path, read_config
from metricsync.definitions import Definition, from_document
from metricsync.documents import load_file, locate
from metricsync.platforms import KINDS, PLATFORM_OF_KIND
from metricsync.platforms.base import Finding
from metricsync.problems import Problem, pointer_of

SUFFIXES = (".yaml", ".yml")


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
            if PLATFORM_OF_KIND[d.kind].name == target.provider
        ]


def validate_project(
    config_path: Path, targets: Sequence[str] = (), cache: ValidationCache | None = None
) -> Validation:
    config, problems = read_config(config_path)
    if config is None:
        return Validation(None, problems)
    validation = Validation(config, problems)
    selected = config.select(targets)
    folders = {folder: _folder_files(config, folder) for t in selected for folder in t.definitions}
    for folder, files in folders.items():
        if files is None:
            validation.problems.append(_missing_folder(config, folder))
    sources: dict[str, bytes] = {}
    with paused_gc():
        for folder, files in folders.items():
            validation.definitions[folder] = _load_folder(files or [], cache, validation, sources)
    if cache is not None:
        cache.save()
    for folder, definitions in validation.definitions.items():
        users = [t for t in selected if folder in t.definitions]
        findings = list(_folder_findings(definitions, users))
        validation.problems += [_problem(f, sources) for f in findings]
    validation.problems.sort(key=lambda p: (p.file, p.line, p.column, p.message))
    return validation


def _folder_files(config: Config, folder: str) -> list[Path] | None:
    root = config.folder(folder)
    if not root.is_dir():
        return None
    return sorted(p for p in root.rglob("*") if p.suffix in SUFFIXES and p.is_file())


def _missing_folder(config: Config, folder: str) -> Problem:
    source = config.path.read_bytes()
    for name, target in config.targets.items():
        if folder in target.definitions:
            path = ("targets", name, "definitions", target.definitions.index(folder))
            line, column = locate(source, 0, path)
            message = f"definitions folder {folder!r} does not exist"
            return Problem(display_path(config.path), line, column, message, pointer_of(path))
    raise AssertionError(folder)


def _load_folder(
    files: list[Path],
    cache: ValidationCache | None,
    validation: Validation,
    sources: dict[str, bytes],
) -> list[Definition]:
    definitions = []
    for path in files:
        file, source = display_path(path), path.read_bytes()
        sources[file] = source
        result = cache.lookup(file, source) if cache else None
        if result is None:
            result = check_file(file, source)
            if cache:
                cache.store(file, source, result)
        validation.files += 1
        validation.problems += result.problems
        definitions += [from_document(data, file, i, line) for i, line, data in result.valid]
    return definitions


def check_file(file: str, source: bytes) -> FileResult:
    """Parses one file and checks each document against its kind's schema."""
    loaded = load_file(file, source)
    result = FileResult(problems=list(loaded.problems))
    for document in loaded.documents:
        if document.data is None:
            continue
        errors = list(_document_errors(document.data))
        for path, message, at_key in errors:
            line, column = locate(source, document.index, path, at_key=at_key)
            result.problems.append(Problem(file, line, column, message, pointer_of(path)))
        if not errors:
            result.valid.append((document.index, document.line, document.data))
    return result


def _document_errors(data: Any) -> Iterator[tuple[tuple[str | int, ...], str, bool]]:
    if not isinstance(data, dict):
        yield (), "a definition must be a mapping with kind, name and spec", False
        return
    kind = data.get("kind")
    if kind not in KINDS:
        known = ", ".join(KINDS)
        what = "missing kind" if kind is None else f"unknown kind {kind!r}"
        yield ("kind",) if "kind" in data else (), f"{what}; expected one of: {known}", False
        return
    for error in schema.validator(KINDS[str(kind)].schema).errors(data):
        yield error.path, error.message, error.at_key


def _folder_findings(definitions: list[Definition], users: list[Target]) -> Iterator[Finding]:
    for target in users:
        for d in definitions:
            platform = PLATFORM_OF_KIND[d.kind]
            if platform.name != target.provider:
                yield Finding(
                    d,
                    ("kind",),
                    f"kind {d.kind} cannot be used by target {target.name!r} "
                    f"(provider {target.provider}); keep it in a {platform.name} target's folder",
                )
    by_kind: dict[str, list[Definition]] = defaultdict(list)
    for d in definitions:
        by_kind[d.kind].append(d)
    for kind_name, group in by_kind.items():
        yield from _identity_rules(group, KINDS[kind_name].casefold_names)
        yield from KINDS[kind_name].rules(group)


def _identity_rules(group: list[Definition], casefold: bool) -> Iterator[Finding]:
    def key(name: str) -> str:
        return name.casefold() if casefold else name

    first: dict[str, Definition] = {}
    for d in group:
        if key(d.name) in first:
            other = first[key(d.name)]
            message = f"duplicate name {d.name!r} for {d.kind}; first defined at {other.where}"
            yield Finding(d, ("name",), message)
        else:
            first[key(d.name)] = d
    for d in group:
        for i, old in enumerate(d.lifecycle.renamed_from):
            owner = first.get(key(old))
            if owner is not None and owner is not d:
                message = f"renamed_from {old!r} is the current name of {owner.where}"
                yield Finding(d, ("lifecycle", "renamed_from", i), message)


def _problem(finding: Finding, sources: dict[str, bytes]) -> Problem:
    d = finding.definition
    line, column = locate(sources[d.file], d.index, finding.path, at_key=finding.at_key)
    pointer = pointer_of(finding.path)
    return Problem(d.file, line, column, finding.message, pointer, finding.severity)
