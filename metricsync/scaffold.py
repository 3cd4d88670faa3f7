"""`metricsync init`: a new project in a folder (config, definition folders, schemas, CI workflows
and, on request, one example definition per platform). Choosing the files is pure; writing them
never replaces a file: one that exists stops everything before anything is written."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from metricsync.config import CONFIG_SCHEMA, display_path
from metricsync.config_file import config_schema, schema_names, schema_text
from metricsync.errors import MetricsyncError
from metricsync.files import write_whole
from metricsync.platforms import PLATFORMS

DEFAULT_PLATFORMS = tuple(p.name for p in PLATFORMS.values() if p.planned)  # plan works on them
CONFIG = "metricsync.yaml"
GITIGNORE = ".gitignore"
IGNORED = ".metricsync/"  # local state: the sandbox database, caches (README.md, Layout)
IGNORED_SPELLINGS = frozenset([".metricsync", ".metricsync/", "/.metricsync", "/.metricsync/"])
WORKFLOWS = ".github/workflows"  # the workflows and the action they use, as examples/ ships them
ACTION = ".github/actions/metricsync"
KEEP = ".gitkeep"  # Git keeps no empty folder, and validate needs each definitions folder


class InitRefused(MetricsyncError):
    """init found files it would have to replace; it wrote nothing (exit 1)."""

    def __init__(self, existing: Sequence[str]) -> None:
        self.existing = list(existing)
        shown = ", ".join(self.existing[:10])
        more = f" and {len(self.existing) - 10} more" if len(self.existing) > 10 else ""
        one = len(self.existing) == 1
        super().__init__(
            f"init never replaces a file, and {len(self.existing)} "
            f"{'exists' if one else 'exist'}: {shown}{more}; nothing was written "
            f"(move {'it' if one else 'them'} away, or run init in an empty folder)"
        )


@dataclass(frozen=True)
class InitOptions:
    platforms: tuple[str, ...] = DEFAULT_PLATFORMS
    examples: bool = False  # one example definition per platform
    workflows: bool = True  # the CI workflows and the action they use


@dataclass(frozen=True)
class NewFile:
    path: str  # relative to the project folder, with /
    data: bytes


@dataclass(frozen=True)
class Setting:
    """A config value the user must give: a variable to set, or a value to edit."""

    target: str
    key: str
    value: str  # the variable's name, or the value written in its place


@dataclass(frozen=True)
class InitReport:
    root: str  # the project folder, as the user reads it
    written: tuple[str, ...]
    gitignore: str  # "created", "appended" or "kept" (it already ignored .metricsync/)
    variables: tuple[Setting, ...]  # env:NAME references to set
    to_edit: tuple[Setting, ...]  # required values written as examples


# -- what a new project holds (pure) -------------------------------------------------------------


def project_files(options: InitOptions) -> list[NewFile]:
    files = [NewFile(CONFIG, config_text(options.platforms).encode())]
    for platform in options.platforms:
        folder = f"definitions/{platform}"
        example = _example(platform) if options.examples else None
        if example is not None:
            files.append(NewFile(f"{folder}/example.yaml", example))
        else:
            files.append(NewFile(f"{folder}/{KEEP}", b""))
    files += [NewFile(f"schemas/{n}", schema_text(n).encode()) for n in schema_names()]
    if options.workflows:
        files += [NewFile(f"{WORKFLOWS}/{n}", d) for n, d in _starter_folder("workflows")]
        files += [NewFile(f"{ACTION}/{n}", d) for n, d in _starter_folder("action")]
    return files


def config_text(platforms: Sequence[str]) -> str:
    """metricsync.yaml with one target per platform, named after it: its required keys and its
    endpoint, secrets as the env:NAME the platform's documentation uses, and the policy's
    defaults as comments. Keys and values come from the config schema."""
    definitions = config_schema()["$defs"]  # read, never changed
    lines = [
        f"# yaml-language-server: $schema=schemas/{CONFIG_SCHEMA}",
        "# metricsync project config (docs/config.md). Secrets are env:NAME references, never the",
        "# secret itself: each variable is read only when a command needs its target.",
        "version: 1",
        "targets:",
    ]
    for platform in platforms:
        lines += [f"  {platform}:", f"    provider: {platform}"]
        for key, value, comment in _target_keys(platform, definitions[platform]):
            lines += [f"    # {comment}", f"    {key}: {_scalar(value)}"]
        lines.append(f"    definitions: [definitions/{platform}]")
    lines += _policy_lines(definitions["policy"])
    return "\n".join(lines) + "\n"


def settings(platforms: Sequence[str]) -> tuple[list[Setting], list[Setting]]:
    """The variables the config references, and the values written as examples to edit."""
    definitions = config_schema()["$defs"]  # read, never changed
    variables, to_edit = [], []
    for platform in platforms:
        for key, value, _ in _target_keys(platform, definitions[platform]):
            if key in PLATFORMS[platform].secrets:
                variables.append(Setting(platform, key, value.removeprefix("env:")))
            elif key not in _defaults(definitions[platform]):
                to_edit.append(Setting(platform, key, str(value)))
    return variables, to_edit


def gitignore_with_entry(existing: bytes | None) -> bytes | None:
    """The .gitignore that ignores .metricsync/: a new one, the existing one with the entry
    appended, or None when it already ignores it (its other lines are never touched)."""
    entry = f"# metricsync's local state: sandbox database, caches\n{IGNORED}\n".encode()
    if existing is None:
        return entry
    lines = existing.decode("utf-8", "replace").splitlines()
    if any(line.strip() in IGNORED_SPELLINGS for line in lines):
        return None
    separator = b"\n" if existing and not existing.endswith(b"\n") else b""
    return existing + separator + entry


def _target_keys(platform: str, definition: dict[str, Any]) -> Iterator[tuple[str, Any, str]]:
    """(key, value, comment) for the required keys and the endpoint, in the schema's order."""
    wanted = {*definition.get("required", ()), PLATFORMS[platform].endpoint_key}
    defaults = _defaults(definition)
    for key, field in definition["properties"].items():
        if key not in wanted:
            continue
        about = _first_sentence(field.get("description", key))
        if key in PLATFORMS[platform].secrets:
            yield (
                key,
                field["examples"][0],
                f"{about} Set the variable; never write the secret here.",
            )
        elif key in defaults:
            yield key, defaults[key], f"{about} This is the default."
        else:
            yield key, field["examples"][0], f"{about} Edit: this is an example value."


def _defaults(definition: dict[str, Any]) -> dict[str, Any]:
    return {k: f["default"] for k, f in definition["properties"].items() if "default" in f}


def _policy_lines(policy: dict[str, Any]) -> list[str]:
    lines = [
        "# The safety policy, with its defaults: uncomment a key to change it. A target may",
        "# override single keys under its own `policy:`.",
        "# policy:",
    ]
    for key, field in policy["properties"].items():
        if "default" in field:
            about = _first_sentence(field.get("description", key))
            lines.append(f"#   {key}: {_scalar(field['default'])}  # {about}")
    return lines


def _first_sentence(text: str) -> str:
    match = re.match(r"(.+?\.)(\s|$)", text)
    return match.group(1) if match else text


def _scalar(value: Any) -> str:
    """A YAML 1.2 scalar: plain where that reads back as the same string, else JSON-quoted."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    if re.fullmatch(r"[A-Za-z][A-Za-z0-9_.:/-]*", text) and text not in ("true", "false", "null"):
        return text
    return json.dumps(text)


def workflow_secrets() -> frozenset[str]:
    """The repository secrets the workflows init writes read (`secrets.NAME`)."""
    texts = (data.decode() for _, data in _starter_folder("workflows"))
    return frozenset(n for text in texts for n in re.findall(r"secrets\.([A-Za-z0-9_]+)", text))


def _example(platform: str) -> bytes | None:
    """The example definition a platform's package ships (platforms/<platform>/example.yaml),
    found by path like its schemas: no platform module is imported for it."""
    resource = resources.files("metricsync").joinpath("platforms", platform, "example.yaml")
    return resource.read_bytes() if resource.is_file() else None


def _starter_folder(folder: str) -> list[tuple[str, bytes]]:
    root = resources.files("metricsync").joinpath("starter", folder)
    return sorted((r.name, r.read_bytes()) for r in root.iterdir() if r.is_file())


# -- writing (the thin edge) -------------------------------------------------------------------


def init_project(root: Path, options: InitOptions) -> InitReport:
    """Writes the project into `root`, or raises InitRefused naming every file that exists
    (nothing written). An existing .gitignore is kept and gets the .metricsync/ entry
    appended, unless it already ignores it."""
    files = project_files(options)
    existing = [f.path for f in files if os.path.lexists(root / f.path)]
    if existing:
        raise InitRefused(existing)
    gitignore = root / GITIGNORE
    try:
        old = gitignore.read_bytes() if os.path.lexists(gitignore) else None
    except OSError as exc:  # a folder, a file init may not read: refused before any write
        raise MetricsyncError(
            f"cannot read {GITIGNORE}: {exc.strerror}; nothing was written"
        ) from exc
    ignore = gitignore_with_entry(old)
    made: list[Path] = []  # the files and folders this run created, in order
    try:
        for file in files:
            _create(root / file.path, file.data, made)
        if ignore is not None:
            if old is not None:  # through a link to the file it names, which stays a link
                _replace(gitignore.resolve(), ignore)
            else:
                _create(gitignore, ignore, made)
    except BaseException:  # a refused write, a full disk, Ctrl-C: leave the folder as it was
        _undo(made)
        raise
    variables, to_edit = settings(options.platforms)
    written = [f.path for f in files] + ([GITIGNORE] if old is None else [])
    state = "created" if old is None else ("kept" if ignore is None else "appended")
    return InitReport(str(root.resolve()), tuple(written), state, tuple(variables), tuple(to_edit))


def _create(path: Path, data: bytes, made: list[Path]) -> None:
    """Writes a new file whole (files.write_whole), and its missing folders, adding each to
    `made`: a file that appeared meanwhile is not replaced."""
    try:
        missing = [p for p in (path.parent, *path.parent.parents) if not os.path.lexists(p)]
        for folder in reversed(missing):
            folder.mkdir()
            made.append(folder)
        write_whole(path, data, overwrite=False)
        made.append(path)
    except FileExistsError:
        raise InitRefused([display_path(path)]) from None
    except OSError as exc:
        raise MetricsyncError(
            f"cannot write {display_path(path)}: {exc.strerror}; nothing was written"
        ) from exc


def _undo(made: list[Path]) -> None:
    """Removes what this run created, newest first, so that a failed init leaves nothing."""
    for path in reversed(made):
        with suppress(OSError):  # best effort: the error that stopped init is the one to report
            path.rmdir() if path.is_dir() and not path.is_symlink() else path.unlink()


def _replace(path: Path, data: bytes) -> None:
    try:
        write_whole(path, data)
    except OSError as exc:
        raise MetricsyncError(
            f"cannot write {display_path(path)}: {exc.strerror}; nothing was written"
        ) from exc
